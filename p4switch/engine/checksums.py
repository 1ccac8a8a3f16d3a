"""Named calculations (hash inputs) and the checksums verified in the parser and
updated in the deparser (bm_sim/calculations.cpp, checksums.cpp).

A calculation's input is the bit-level concatenation of its fields (not
byte-padded), skipping fields of invalid headers, zero-padded at the end to a
whole byte, followed by the unparsed payload when ``payload`` is listed (p4c
does this for ``*_with_payload``, i.e. TCP/UDP checksums).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .codegen import CodeUnit, prologue
from .expressions import ExpressionCompiler, parse_hexstr
from .fieldpack import pack_args, plan
from .hashes import algorithm
from .layout import FieldInfo, Layout, at, load_error
from .packet import Packet


@dataclass
class _Piece:
    width: str  # source of the width in bits (a constant unless varbit)
    value: str  # source of the value
    fixed: FieldInfo | None  # a fixed-width stand-in, for the struct fast path


def _pieces(layout: Layout, inputs: list, where: str) -> tuple[list, bool]:
    """Groups of (header id or None, pieces) and whether the payload follows.
    Consecutive fields of one header share one validity test; None = always there."""
    groups: list[tuple[int | None, list[_Piece]]] = []
    with_payload = False

    def add(hid: int | None, width: int | None, wsrc: str, vsrc: str) -> None:
        stand_in = FieldInfo("", -1, -1, width) if width is not None else None
        piece = _Piece(wsrc, vsrc, stand_in)
        if groups and groups[-1][0] == hid:  # None: metadata and constants, always present
            groups[-1][1].append(piece)
        else:
            groups.append((hid, [piece]))

    def add_field(f: FieldInfo, hid: int | None) -> None:
        if f.varbit:
            add(hid, None, f"F[{f.width_slot}]", f"F[{f.slot}]")
        else:
            val = f"(F[{f.slot}] & {f.mask:#x})" if f.signed else f"F[{f.slot}]"
            add(hid, f.width, str(f.width), val)

    for item in inputs:
        if not isinstance(item, dict):
            raise load_error(where, f"bad calculation input {item!r}")
        t, v = item.get("type"), item.get("value")
        if t == "field":
            if not (isinstance(v, list) and len(v) == 2):
                raise load_error(where, f"bad field {v!r}")
            if v[1] == "$valid$":
                h = layout.header(v[0], where)
                add(None, 1, "1", f"V[{h.id}]")
                continue
            f = layout.field(v[0], v[1], where)
            h = layout.headers[f.header]
            add_field(f, None if h.metadata else h.id)
        elif t == "hexstr":
            width = item.get("bitwidth")
            if not isinstance(width, int) or width <= 0:
                raise load_error(where, f"constant {v!r} needs a positive bitwidth")
            value = parse_hexstr(v, where) & ((1 << width) - 1)
            add(None, width, str(width), str(value))
        elif t == "header":
            h = layout.header(v, where)
            for f in h.fields:
                add_field(f, None if h.metadata else h.id)
        elif t == "payload":
            with_payload = True
        else:
            raise load_error(where, f"unsupported calculation input type {t!r}")
    return groups, with_payload


def _byte_segments(pieces: list[_Piece]) -> list | None:
    """Split a group into runs of fixed fields (lists) and varbit pieces, or None
    if some run does not fill whole bytes."""
    out: list = []
    run: list[_Piece] = []
    for p in pieces:
        if p.fixed is None:
            if sum(q.fixed.width for q in run) % 8:  # type: ignore[union-attr]
                return None
            if run:
                out.append(run)
            out.append(p)
            run = []
        else:
            run.append(p)
    if sum(q.fixed.width for q in run) % 8:  # type: ignore[union-attr]
        return None
    if run:
        out.append(run)
    return out


def build_input(
    layout: Layout, unit: CodeUnit, inputs: list, algo: str, where: str, arithmetic: bool = True
) -> Callable[[Packet], int]:
    """Generate ``f(P) -> int``: the hash ``algo`` of the bytes ``inputs`` describe
    (``arithmetic=False`` forces the byte-building version, for tests)."""
    fn = algorithm(algo)
    if fn is None:
        raise load_error(where, f"unknown hash algorithm {algo!r}")
    if not isinstance(inputs, list):
        raise load_error(where, "calculation input must be a list")
    groups, with_payload = _pieces(layout, inputs, where)
    name = unit.fresh("calc")
    algo_name = unit.bind("algo", fn)
    lines = [f"def {name}(P):", "    F = P.F; V = P.V"]
    segments = [_byte_segments(ps) for _, ps in groups]
    if groups and all(seg is not None for seg in segments):
        # whole bytes everywhere: struct.pack per run of fixed fields, to_bytes
        # for varbits; no bit shuffling
        parts = []
        for (hid, _), seg in zip(groups, segments, strict=True):
            pieces = []
            for run in seg:  # type: ignore[union-attr]
                if isinstance(run, _Piece):  # a varbit: its width is whole bytes
                    pieces.append(f"{run.value}.to_bytes({run.width} >> 3, 'big')")
                    continue
                values = {id(p.fixed): p.value for p in run}
                packing = plan([p.fixed for p in run])
                fmt = unit.bind("S", packing.fmt)
                args = ", ".join(pack_args(packing, lambda f, values=values: values[id(f)]))
                pieces.append(f"{fmt}.pack({args})")
            packed = " + ".join(pieces)
            parts.append(packed if hid is None else f"(({packed}) if V[{hid}] else b'')")
        lines.append(f"    data = {' + '.join(parts)}")
    else:
        lines.append("    acc = 0; n = 0")
        for hid, ps in groups:
            indent = "    "
            if hid is not None:
                lines.append(f"    if V[{hid}]:")
                indent = "        "
            for p in ps:
                lines.append(f"{indent}acc = (acc << {p.width}) | {p.value}; n += {p.width}")
        lines.append("    pad = -n % 8")
        lines.append("    data = (acc << pad).to_bytes((n + pad) >> 3, 'big')")
    if with_payload:
        lines.append("    data += P.payload")
    lines.append(f"    return {algo_name}(data)")
    general = unit.define(name, "\n".join(lines) + "\n")
    if arithmetic and algo in ("csum16", "cksum16"):
        fast = _csum16_arithmetic(unit, groups, with_payload, general)
        if fast is not None:
            return fast
    return general


def _csum16_arithmetic(
    unit: CodeUnit, groups: list, with_payload: bool, general: Callable
) -> Callable[[Packet], int] | None:
    """The Internet checksum of the input without building its bytes.

    The one's complement sum of a byte string is its big-endian value modulo
    0xFFFF, and 2**16 = 1 modulo 0xFFFF; so a field contributes its value
    shifted by its end position modulo 16, counted from the start of the input
    (the padding that makes the length even sits at the end). That holds while
    skipping an invalid header and a varbit's run-time width move later fields
    by a multiple of 16 bits; other inputs keep the byte-building function."""
    terms: list[str] = []
    checks: list[str] = []
    pos = 0
    for hid, ps in groups:
        group_terms = []
        for p in ps:
            if p.fixed is None:  # varbit: its end moves with its width
                checks.append(f"{p.width} & 15")
                group_terms.append(f"({p.value} << {-pos % 16})")
                continue
            pos += p.fixed.width
            shift = -pos % 16
            group_terms.append(f"({p.value} << {shift})" if shift else p.value)
        width = sum(p.fixed.width for p in ps if p.fixed is not None)
        if hid is not None and width % 16:
            return None  # skipping this header would move what follows
        joined = " + ".join(group_terms)
        terms.append(joined if hid is None else f"(({joined}) if V[{hid}] else 0)")
    name = unit.fresh("csum")
    lines = [f"def {name}(P):", "    F = P.F; V = P.V"]
    if checks:
        slow = unit.bind("bytes_csum", general)
        lines.append(f"    if {' or '.join(checks)}:")
        lines.append(f"        return {slow}(P)")
    lines.append(f"    acc = {' + '.join(terms) or '0'}")
    if with_payload:
        start = (pos + 7) // 8 * 8  # the fields are zero-padded to a byte first
        lines.append("    pl = P.payload")
        lines.append(
            f"    acc += int.from_bytes(pl, 'big') << (({-start % 16} - 8 * (len(pl) & 1)) % 16)"
        )
    lines += [
        "    if not acc:",
        "        return 0xFFFF",
        "    r = acc % 0xFFFF",
        "    return 0xFFFF - r if r else 0",
    ]
    return unit.define(name, "\n".join(lines) + "\n")


class Calculations:
    """The JSON ``calculations``: name -> function of a packet."""

    def __init__(self, j: dict, layout: Layout, unit: CodeUnit) -> None:
        self.by_name: dict[str, Callable[[Packet], int]] = {}
        for c in j.get("calculations") or []:
            name = c.get("name")
            where = at(f"calculation {name!r}")
            if not isinstance(name, str):
                raise load_error("calculations", f"calculation without a name: {c!r}")
            self.by_name[name] = build_input(layout, unit, c.get("input"), c.get("algo"), where)

    def get(self, name: object, where: str) -> Callable[[Packet], int]:
        fn = self.by_name.get(name)  # type: ignore[arg-type]
        if fn is None:
            raise load_error(where, f"unknown calculation {name!r}")
        return fn


class Checksums:
    """Generated ``verify(P)`` (sets P.checksum_error) and ``update(P)`` functions."""

    def __init__(
        self,
        j: dict,
        layout: Layout,
        unit: CodeUnit,
        exprs: ExpressionCompiler,
        calcs: Calculations,
    ) -> None:
        verify: list[str] = []
        update: list[str] = []
        for c in j.get("checksums") or []:
            name = c.get("name")
            where = at(f"checksum {name!r}")
            if c.get("type", "generic") != "generic":
                raise load_error(where, f"unsupported checksum type {c.get('type')!r}")
            target = c.get("target")
            if not (isinstance(target, list) and len(target) == 2):
                raise load_error(where, f"bad target {target!r}")
            f = layout.field(target[0], target[1], where)
            calc = unit.bind("calc", calcs.get(c.get("calculation"), where))
            cond = c.get("if_cond")
            cond_src = exprs.boolean(cond, where).src if cond is not None else "True"
            cond_test = "" if cond_src == "True" else f" and {cond_src}"
            hid = f.header
            if c.get("verify", True):
                verify.append(
                    f"    if V[{hid}]{cond_test} and {calc}(P) != F[{f.slot}]:\n"
                    "        P.checksum_error = True"
                )
            if c.get("update", True):
                assign = f"F[{f.slot}] = {calc}(P) & {f.mask:#x}"
                if cond_src == "True":
                    update.append(f"    {assign}")
                else:
                    update.append(f"    if {cond_src}:\n        {assign}")
        self.has_verify = bool(verify)
        self.has_update = bool(update)
        self.verify = unit.define(
            "_verify_checksums",
            "def _verify_checksums(P):\n"
            + prologue("\n".join(verify))
            + ("\n".join(verify) or "    pass")
            + "\n",
        )
        self.update = unit.define(
            "_update_checksums",
            "def _update_checksums(P):\n"
            + prologue("\n".join(update))
            + ("\n".join(update) or "    pass")
            + "\n",
        )
