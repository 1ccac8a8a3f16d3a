"""The parser (bm_sim/parser.cpp): each parse state becomes a generated function
``state(P, F, V, N, buf, pos) -> (next_state, pos)``.

BMv2 semantics kept here: an extract that does not fit raises PacketTooShort
before touching the header; a parser error stops parsing, keeps the headers
extracted so far and leaves the rest of the packet as payload; with v1model
the packet then continues into the ingress control with
``standard_metadata.parser_error`` set. Transition keys are the concatenation
of byte-padded fields, compared to the JSON's hexstr values under their masks,
in order, as BMv2 does. A state machine that loops more than
``MAX_STATES`` times ends with ParserTimeout instead of hanging the switch.

Where BMv2 reads past the end of the packet (a lookahead in a select key),
the engine raises PacketTooShort, as the P4 specification says.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .codegen import ParserError, StackOutOfBounds
from .expressions import lookahead_source, parse_hexstr
from .fieldpack import plan, unpack_lines
from .layout import HeaderInfo, at, load_error
from .packet import Packet
from .primitives import BuildContext, generate

MAX_STATES = 4096


class ParseValueSet:
    """A parser value set (``parse_vsets``), holding byte-padded keys."""

    def __init__(self, name: str, compressed_bitwidth: int) -> None:
        self.name = name
        self.width = compressed_bitwidth
        self.values: set[int] = set()  # byte-padded, as the select key is built
        self.members: set[int] = set()  # as the control plane gave them
        self.widths: list[int] = []  # widths of the select fields it is used with

    def pad(self, value: int) -> int:
        """Compressed (concatenated) value -> byte-padded key, as ParseVSetCommon::do_padding."""
        if len(self.widths) <= 1:
            return value
        out, rest = 0, sum(self.widths)
        for w in self.widths:
            rest -= w
            out = (out << (8 * ((w + 7) // 8))) | ((value >> rest) & ((1 << w) - 1))
        return out


def lookahead(buf: bytes, pos: int, offset: int, width: int) -> int:
    first = pos + offset // 8
    nbytes = (offset % 8 + width + 7) // 8
    if first + nbytes > len(buf):
        raise ParserError(-1, pos)  # -1: replaced by PacketTooShort's code by the driver
    v = int.from_bytes(buf[first : first + nbytes], "big")
    return (v >> (nbytes * 8 - offset % 8 - width)) & ((1 << width) - 1)


class ParserBuilder:
    def __init__(self, cx: BuildContext, vsets: dict[str, ParseValueSet]) -> None:
        self.cx = cx
        self.vsets = vsets
        self.errors = cx.layout.errors
        cx.unit.ns["_lookahead"] = lookahead
        self._packing: dict[int, object] = {}

    # --- extraction -------------------------------------------------------------
    def _extract_fixed(self, h: HeaderInfo, dynamic: str | None) -> list[str]:
        """Extract header ``h`` (or, if ``dynamic`` names a variable, the stack
        element with that header id, of h's type)."""
        cx = self.cx
        too_short = self.errors["PacketTooShort"]
        nb = h.fixed_bytes
        pk = plan(h.fields)
        fmt = cx.unit.bind("S", pk.fmt)
        lines = [
            f"_e = pos + {nb}",
            "if _e > len(buf):",
            f"    raise ParserError({too_short}, pos)",
        ]
        if dynamic is None:

            def slot(f):
                return f.slot
        else:
            hb = cx.unit.bind("HB", cx.layout.header_base)
            lines.append(f"_b = {hb}[{dynamic}]")

            def slot(f):
                return f"_b + {f.slot - h.base}"

        if pk.simple and dynamic is None:
            lines.append(f"F[{h.base}:{h.base + len(h.fields)}] = {fmt}.unpack_from(buf, pos)")
        else:
            lines.append(f"_t = {fmt}.unpack_from(buf, pos)")
            lines += unpack_lines(pk, "_t", slot)
        return lines

    def _mark_valid(self, hid_src: str, static: int | None) -> list[str]:
        cx = self.cx
        if static is not None:
            out = [f"V[{static}] = 1"]
            out += [f"V[{o}] = 0" for o in cx.ops.siblings[static]]
            return out
        ops = cx.unit.bind("ops", cx.ops)
        return [f"{ops}.mark_valid(V, {hid_src})"]

    def _extract_varbit_static(self, h: HeaderInfo, length: str) -> list[str] | None:
        """Generated extraction of a varbit header whose fixed fields before and
        after the varbit are whole bytes (IPv4 with options); None otherwise."""
        assert h.varbit is not None
        i = h.fields.index(h.varbit)
        pre, post = h.fields[:i], h.fields[i + 1 :]
        if sum(f.width for f in pre) % 8 or sum(f.width for f in post) % 8:
            return None
        e, cx = self.errors, self.cx
        pre_bytes = sum(f.width for f in pre) // 8
        lines = [
            f"_n = {length}",
            "if _n % 8 or _n < 0:",
            f"    raise ParserError({e['ParserInvalidArgument']}, pos)",
            f"_e = pos + {h.fixed_bytes} + (_n >> 3)",
            "if _e > len(buf):",
            f"    raise ParserError({e['PacketTooShort']}, pos)",
        ]
        if h.max_bytes:
            lines += [
                f"if _e - pos > {h.max_bytes}:",
                f"    raise ParserError({e['HeaderTooShort']}, pos)",
            ]
        if pre:
            pk = plan(pre)
            lines.append(f"_t = {cx.unit.bind('S', pk.fmt)}.unpack_from(buf, pos)")
            lines += unpack_lines(pk, "_t", lambda f: f.slot)
        lines.append(f"_v = pos + {pre_bytes} + (_n >> 3)")
        lines.append(f"F[{h.varbit.slot}] = int.from_bytes(buf[pos + {pre_bytes}:_v], 'big')")
        lines.append(f"F[{h.varbit.width_slot}] = _n")
        if post:
            pk = plan(post)
            lines.append(f"_t = {cx.unit.bind('S', pk.fmt)}.unpack_from(buf, _v)")
            lines += unpack_lines(pk, "_t", lambda f: f.slot)
        return lines + self._mark_valid(str(h.id), h.id) + ["pos = _e"]

    def _extract_varbit(self, hid_src: str, length: str) -> list[str]:
        fn = self.cx.unit.bind("xvl", self._varbit_extractor())
        return [f"pos = {fn}(F, V, buf, pos, {hid_src}, {length})"]

    def _varbit_extractor(self) -> Callable:
        layout, errors, ops = self.cx.layout, self.errors, self.cx.ops

        def extract(F: list[int], V: list[int], buf: bytes, pos: int, hid: int, nbits: int) -> int:
            h = layout.headers[hid]
            if nbits % 8 or nbits < 0:
                raise ParserError(errors["ParserInvalidArgument"], pos)
            nbytes = h.fixed_bytes + nbits // 8
            if pos + nbytes > len(buf):
                raise ParserError(errors["PacketTooShort"], pos)
            if h.max_bytes and nbytes > h.max_bytes:
                raise ParserError(errors["HeaderTooShort"], pos)
            value = int.from_bytes(buf[pos : pos + nbytes], "big")
            rest = nbytes * 8
            for f in h.fields:
                w = nbits if f.varbit else f.width
                rest -= w
                F[f.slot] = (value >> rest) & ((1 << w) - 1)
                if f.varbit:
                    F[f.width_slot] = nbits
            ops.mark_valid(V, hid)
            return pos + nbytes

        return extract

    def _vl_length(self, h: HeaderInfo, params: list, where: str) -> str:
        """The varbit width, from extract_VL's explicit length expression."""
        if len(params) < 2:
            raise load_error(
                where, f"varbit header {h.name!r} needs extract_VL with a length expression"
            )
        return self.cx.exprs.data(params[1].get("value"), where, in_parser=True).src

    def _extract(self, params: list, where: str, vl: bool) -> list[str]:
        lay = self.cx.layout
        if not params or not isinstance(params[0], dict):
            raise load_error(where, "extract needs a target")
        t, v = params[0].get("type"), params[0].get("value")
        if t == "regular":
            h = lay.header(v, where)
            if vl or h.varbit:
                length = self._vl_length(h, params, where)
                fast = self._extract_varbit_static(h, length)
                return fast if fast is not None else self._extract_varbit(str(h.id), length)
            lines = self._extract_fixed(h, None)
            return lines + self._mark_valid(str(h.id), h.id) + ["pos = _e"]
        if t == "stack":
            s = lay.stacks.get(v)
            if s is None:
                raise load_error(where, f"unknown header stack {v!r}")
            elems = self.cx.unit.bind("SE", tuple(s.elements))
            h = lay.headers[s.elements[0]]
            lines = [
                f"if N[{s.index}] >= {len(s.elements)}:",
                f"    raise ParserError({self.errors['StackOutOfBounds']}, pos)",
                f"_h = {elems}[N[{s.index}]]",
            ]
            if vl or h.varbit:
                lines += self._extract_varbit("_h", self._vl_length(h, params, where))
            else:
                lines += self._extract_fixed(h, "_h") + ["V[_h] = 1", "pos = _e"]
            return lines + [f"N[{s.index}] += 1"]
        if t == "union_stack":
            if not (isinstance(v, list) and len(v) == 2):
                raise load_error(where, f"bad union_stack extract target {v!r}")
            s = lay.union_stacks.get(v[0])
            if s is None:
                raise load_error(where, f"unknown header union stack {v[0]!r}")
            u0 = lay.union_list[s.elements[0]]
            if v[1] not in u0.member_names:
                raise load_error(where, f"union has no member {v[1]!r}")
            m = u0.member_names.index(v[1])
            members = self.cx.unit.bind(
                "UM", tuple(lay.union_list[u].headers[m] for u in s.elements)
            )
            h = lay.headers[u0.headers[m]]
            lines = [
                f"if N[{s.index}] >= {len(s.elements)}:",
                f"    raise ParserError({self.errors['StackOutOfBounds']}, pos)",
                f"_h = {members}[N[{s.index}]]",
            ]
            if vl or h.varbit:
                lines += self._extract_varbit("_h", self._vl_length(h, params, where))
            else:
                lines += self._extract_fixed(h, "_h") + self._mark_valid("_h", None) + ["pos = _e"]
            return lines + [f"N[{s.index}] += 1"]
        raise load_error(where, f"unsupported extract target type {t!r}")

    # --- other parser operations ------------------------------------------------------
    def _advance_bits(self, bits_src: str) -> list[str]:
        e = self.errors
        return [
            f"_n = {bits_src}",
            "if _n % 8 or _n < 0:",
            f"    raise ParserError({e['ParserInvalidArgument']}, pos)",
            "_n >>= 3",
            "if pos + _n > len(buf):",
            f"    raise ParserError({e['PacketTooShort']}, pos)",
            "pos += _n",
        ]

    def _op(self, op: dict, where: str) -> list[str]:
        cx = self.cx
        if not isinstance(op, dict):
            raise load_error(where, f"bad parser op {op!r}")
        kind, params = op.get("op"), op.get("parameters") or []
        where = f"{where}, op {kind!r}"
        if kind == "extract":
            return self._extract(params, where, vl=False)
        if kind == "extract_VL":
            if len(params) != 2:
                raise load_error(where, "extract_VL takes 2 parameters")
            return self._extract(params, where, vl=True)
        if kind == "set":
            if len(params) != 2:
                raise load_error(where, "set takes 2 parameters")
            target, f = cx.exprs.lvalue(params[0], where)
            src = params[1]
            if f.varbit and isinstance(src, dict) and src.get("type") == "field":
                g = cx.layout.field(src["value"][0], src["value"][1], where)
                return [f"{target} = F[{g.slot}]; F[{f.width_slot}] = F[{g.width_slot}]"]
            value = cx.exprs.data(src, where, in_parser=True)
            return [cx.exprs.assign_source(target, f, value)]
        if kind == "verify":
            if len(params) != 2:
                raise load_error(where, "verify takes 2 parameters")
            cond = cx.exprs.boolean(params[0], where, in_parser=True)
            err = params[1]
            err_src = str(err) if isinstance(err, int) else cx.exprs.data(err, where, True).src
            return [f"if not {cond.src}:", f"    raise ParserError({err_src}, pos)"]
        if kind == "shift":
            if len(params) != 1 or not isinstance(params[0], int):
                raise load_error(where, "shift takes a byte count")
            return self._advance_bits(str(params[0] * 8))
        if kind == "advance":
            if len(params) != 1:
                raise load_error(where, "advance takes 1 parameter")
            return self._advance_bits(cx.exprs.data(params[0], where, in_parser=True).src)
        if kind == "primitive":
            if len(params) != 1:
                raise load_error(where, "primitive takes 1 parameter")
            return generate(cx, params[0], where, in_parser=True)
        raise load_error(where, f"unsupported parser op {kind!r}")

    # --- transitions ----------------------------------------------------------------
    def _key(self, keys: list, where: str) -> tuple[str, list[int]]:
        """Source of the transition key and the widths of its parts."""
        parts: list[tuple[str, int]] = []
        for k in keys:
            if not isinstance(k, dict):
                raise load_error(where, f"bad transition key {k!r}")
            t, v = k.get("type"), k.get("value")
            if t == "lookahead":
                if not (isinstance(v, list) and len(v) == 2):
                    raise load_error(where, f"bad lookahead key {v!r}")
                parts.append((lookahead_source(int(v[0]), int(v[1])), int(v[1])))
                continue
            e = self.cx.exprs.compile(k, where, in_parser=True)
            if e.kind != "data":
                raise load_error(where, f"transition key {k!r} is not a value")
            if t == "field":
                width = self.cx.layout.field(v[0], v[1], where).width if v[1] != "$valid$" else 1
            elif t in ("stack_field", "union_stack_field"):
                width = e.bits or 0
            else:
                raise load_error(where, f"unsupported transition key type {t!r}")
            src = e.src
            if t == "field" and v[1] != "$valid$":
                f = self.cx.layout.field(v[0], v[1], where)
                if f.signed:
                    src = f"({src} & {f.mask:#x})"
            parts.append((src, width))
        if not parts:
            return "", []
        src = ""
        for i, (p, w) in enumerate(parts):
            if i == 0:
                src = p
            else:
                src = f"(({src}) << {8 * ((w + 7) // 8)}) | {p}"
        return src, [w for _, w in parts]

    def _transitions(self, state: dict, names: dict[str, str], where: str) -> list[str]:
        trans = state.get("transitions") or []
        key_src, widths = self._key(state.get("transition_key") or [], where)
        nbytes = sum((w + 7) // 8 for w in widths)
        full = (1 << (8 * nbytes)) - 1
        lines: list[str] = []
        default = "None"
        exact: list[tuple[int, str]] = []
        ordered: list[tuple[str, str]] = []  # (condition, next)

        def nxt(name: object) -> str:
            if name is None:
                return "None"
            if name not in names:
                raise load_error(where, f"transition to unknown state {name!r}")
            return names[name]  # type: ignore[index]

        for tr in trans:
            ttype = tr.get("type")
            value = tr.get("value")
            if ttype is None:  # old p4c: {"value": "default"} or a hexstr
                ttype = "default" if value == "default" else "hexstr"
            target = nxt(tr.get("next_state"))
            if ttype == "default":
                default = target
                break  # later cases can never match
            mask = tr.get("mask")
            m = parse_hexstr(mask, where) if mask is not None else None
            if ttype == "hexstr":
                val = parse_hexstr(value, where)
                if m is None or m == full:
                    if not ordered:
                        exact.append((val, target))
                    else:
                        ordered.append((f"_k == {val}", target))
                else:
                    ordered.append((f"(_k & {m:#x}) == {val & m:#x}", target))
            elif ttype == "parse_vset":
                vs = self.vsets.get(value)
                if vs is None:
                    raise load_error(where, f"unknown parse_vset {value!r}")
                vs.widths = widths
                vname = self.cx.unit.bind("vset", vs.values)
                k = "_k" if m is None else f"(_k & {m:#x})"
                if m is None:
                    ordered.append((f"{k} in {vname}", target))
                else:
                    mvals = self.cx.unit.bind("vmask", m)
                    ordered.append((f"{k} in {{x & {mvals} for x in {vname}}}", target))
            else:
                raise load_error(where, f"unsupported transition type {ttype!r}")
        if not key_src or (not exact and not ordered):
            # BMv2: a state without a transition key only has its default
            return [f"return {default}, pos"]
        lines.append(f"_k = {key_src}")
        if exact:
            if len(exact) <= 2:
                for val, target in exact:
                    lines.append(f"if _k == {val}:")
                    lines.append(f"    return {target}, pos")
            else:
                table = "{" + ", ".join(f"{v}: {t}" for v, t in exact) + "}"
                tname = self.cx.unit.fresh("_tt")
                self._late_tables.append((tname, table))
                if not ordered:
                    return lines + [f"return {tname}.get(_k, {default}), pos"]
                lines.append(f"_n = {tname}.get(_k)")
                lines.append("if _n is not None:")
                lines.append("    return _n, pos")
        for cond, target in ordered:
            lines.append(f"if {cond}:")
            lines.append(f"    return {target}, pos")
        lines.append(f"return {default}, pos")
        return lines

    # --- whole parser -------------------------------------------------------------------
    def build(self, p: dict) -> Callable[[Packet, bytes], None]:
        cx = self.cx
        pname = p.get("name")
        at(f"parser {pname!r}")
        states = p.get("parse_states") or []
        names: dict[str, str] = {}
        for st in states:
            if not isinstance(st.get("name"), str):
                raise load_error(f"parser {pname!r}", f"state without a name: {st!r}")
            names[st["name"]] = cx.unit.fresh("_ps")
        self._late_tables: list[tuple[str, str]] = []
        bodies: dict[str, list[str]] = {}  # function name -> state body
        for st in states:
            where = at(f"parser {pname!r} state {st['name']!r}")
            body: list[str] = []
            for i, op in enumerate(st.get("parser_ops") or []):
                body += self._op(op, f"{where}, #{i}")
            body += self._transitions(st, names, where)
            fname = names[st["name"]]
            bodies[fname] = body
            src = [f"def {fname}(P, F, V, N, buf, pos):"] + ["    " + ln for ln in body]
            cx.unit.define(fname, "\n".join(src) + "\n")
        for tname, table in self._late_tables:
            cx.unit.ns[tname] = eval(table, cx.unit.ns)  # noqa: S307 - our own generated dict
        init = p.get("init_state")
        if init is not None and init not in names:
            raise load_error(f"parser {pname!r}", f"unknown init_state {init!r}")
        start = None
        if init is not None:
            start = cx.unit.ns[names[init]]
            inlined = _inline_states(names[init], bodies)
            if inlined is not None:
                fname = cx.unit.fresh("_parse")
                src = [f"def {fname}(P, F, V, N, buf, pos):"] + ["    " + ln for ln in inlined]
                start = cx.unit.define(fname, "\n".join(src) + "\n")
        errors = self.errors
        too_short, timeout = errors["PacketTooShort"], errors["ParserTimeout"]
        out_of_bounds, no_error = errors["StackOutOfBounds"], errors["NoError"]

        def parse(P: Packet, buf: bytes) -> None:
            P.error = no_error
            F, V, N = P.F, P.V, P.N
            st, pos = start, 0
            steps = 0
            try:
                while st is not None:
                    steps += 1
                    if steps > MAX_STATES:
                        P.error = timeout
                        break
                    entry = pos
                    st, pos = st(P, F, V, N, buf, pos)
            except ParserError as e:
                P.error = too_short if e.code == -1 else e.code
                pos = e.pos
            except StackOutOfBounds:
                P.error = out_of_bounds
                pos = entry
            P.payload = buf[pos:]

        return parse


_RETURN_STATE = re.compile(r"^(\s*)return (_ps\d+), pos$")
MAX_INLINED_LINES = 4000


def _inline_states(first: str, bodies: dict[str, list[str]]) -> list[str] | None:
    """The body of state ``first`` with the states it goes to spliced in place of
    ``return state, pos``, so that a packet usually crosses the parser in one
    call. A state already on the path (a loop, e.g. a header stack) is left as a
    return, which the driver loop continues."""

    def splice(name: str, path: tuple[str, ...], out: list[str], pad: str) -> None:
        for line in bodies[name]:
            m = _RETURN_STATE.match(line)
            if m and m.group(2) in bodies and m.group(2) not in path and len(path) < 16:
                splice(m.group(2), (*path, m.group(2)), out, pad + m.group(1))
            else:
                out.append(pad + line)
            if len(out) > MAX_INLINED_LINES:
                raise OverflowError

    out: list[str] = []
    try:
        splice(first, (first,), out, "")
    except OverflowError:
        return None
    return out
