"""The deparser (bm_sim/deparser.cpp): checksums are updated, then every valid
header in the JSON ``order`` is emitted, followed by the unparsed payload.
One generated function per deparser; each header is one ``struct.pack``.
"""

from __future__ import annotations

from collections.abc import Callable

from .fieldpack import pack_args, plan
from .layout import HeaderInfo, at, load_error
from .packet import Packet
from .primitives import BuildContext, generate


def _emit_varbit(h: HeaderInfo) -> Callable[[list[int]], bytes]:
    def emit(F: list[int]) -> bytes:
        value, nbits = 0, 0
        for f in h.fields:
            w = F[f.width_slot] if f.varbit else f.width
            value = (value << w) | (F[f.slot] & ((1 << w) - 1))
            nbits += w
        return value.to_bytes(nbits // 8, "big")

    return emit


def _varbit_source(cx: BuildContext, h: HeaderInfo) -> str:
    """Bytes of a varbit header: struct-packed fixed parts around the varbit's
    bytes when the fixed parts are whole bytes, else a generic bit packer."""
    i = h.fields.index(h.varbit)
    pre, post = h.fields[:i], h.fields[i + 1 :]
    if sum(f.width for f in pre) % 8 or sum(f.width for f in post) % 8:
        return f"{cx.unit.bind('emit', _emit_varbit(h))}(F)"
    v = h.varbit
    parts = []
    for run in (pre, None, post):
        if run is None:
            width = f"F[{v.width_slot}]"
            parts.append(f"(F[{v.slot}] & ((1 << {width}) - 1)).to_bytes({width} >> 3, 'big')")
        elif run:
            pk = plan(run)
            args = ", ".join(pack_args(pk, lambda f: f"F[{f.slot}]"))
            parts.append(f"{cx.unit.bind('S', pk.fmt)}.pack({args})")
    return " + ".join(parts)


def build_deparser(
    cx: BuildContext, d: dict, update_checksums: Callable | None
) -> Callable[[Packet], bytes]:
    name = d.get("name")
    where = at(f"deparser {name!r}")
    order = d.get("order")
    if not isinstance(order, list):
        raise load_error(where, "order must be a list of header names")
    fname = cx.unit.fresh("_deparse")
    lines = [f"def {fname}(P):"]
    if update_checksums is not None:
        lines.append(f"    {cx.unit.bind('upd', update_checksums)}(P)")
    lines.append("    F = P.F; V = P.V; N = P.N")
    for i, prim in enumerate(d.get("primitives") or []):  # deparser method calls
        lines += ["    " + ln for ln in generate(cx, prim, f"{where}, #{i}")]
    lines.append("    out = []")
    for hname in order:
        h = cx.layout.header(hname, where)
        if h.metadata:
            raise load_error(where, f"cannot emit metadata {hname!r}")
        if h.varbit is not None:
            lines.append(f"    if V[{h.id}]: out.append({_varbit_source(cx, h)})")
            continue
        fmt = cx.unit.bind("S", plan(h.fields).fmt)
        args = ", ".join(pack_args(plan(h.fields), lambda f: f"F[{f.slot}]"))
        lines.append(f"    if V[{h.id}]: out.append({fmt}.pack({args}))")
    lines.append("    out.append(P.payload)")
    lines.append("    return b''.join(out)")
    return cx.unit.define(fname, "\n".join(lines) + "\n")
