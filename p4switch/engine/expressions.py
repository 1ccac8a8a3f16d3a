"""Compiles BMv2 JSON type-value objects and expressions into Python source.

Mirrors bm_sim/expressions.cpp: arithmetic is on unbounded integers (Python
``int`` is the same as BMv2's GMP ``Data``), and a value is truncated only when
it is written into a field; p4c already inserts the ``&`` masks and
``two_comp_mod`` casts that P4's fixed-width arithmetic needs. Booleans are
Python ``bool``; ``d2b``/``b2d`` convert explicitly, as in BMv2.

An :class:`Expr` is a piece of source plus its kind: ``data``, ``bool``,
``header``, ``union``, ``stack`` or ``union_stack``. Header-like kinds evaluate
to an index (header id, union index, stack index); ``static`` holds it when it
is known at load time, so ``hdr.ipv4.ttl`` compiles to ``F[23]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codegen import CodeUnit, PacketFault, StackOutOfBounds
from .externs import Externs
from .layout import FieldInfo, Layout, StackInfo, load_error


@dataclass
class Expr:
    src: str
    kind: str  # data | bool | header | union | stack | union_stack
    static: int | None = None  # header id / union / stack index when known
    bits: int | None = None  # data: known upper bound on width of a non-negative value
    rep: int | None = None  # header-like: a representative header id/union for field types


def lookahead_source(offset: int, width: int) -> str:
    """Source peeking ``width`` bits ``offset`` bits past the parser's position;
    whole bytes are read inline, the rest through the ``_lookahead`` helper."""
    if offset % 8 or width % 8 or width == 0 or offset < 0:
        return f"_lookahead(buf, pos, {offset}, {width})"
    first, n = offset // 8, width // 8
    end = f"pos + {first + n}"
    if n == 1:
        value = f"buf[pos + {first}]" if first else "buf[pos]"
    else:
        value = f"int.from_bytes(buf[pos + {first}:{end}], 'big')"
    return f"({value} if {end} <= len(buf) else _lookahead(buf, pos, {offset}, {width}))"


def parse_hexstr(value: object, where: str) -> int:
    """A JSON ``hexstr`` ("0x0a", "-0x1") or plain integer."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise load_error(where, f"bad hexstr {value!r}")
    s = value.strip()
    try:
        if s.startswith("-"):
            return -int(s[1:], 16)
        return int(s, 16)
    except ValueError:
        raise load_error(where, f"bad hexstr {value!r}") from None


def _const(value: int) -> Expr:
    src = str(value) if value >= 0 else f"({value})"
    return Expr(src, "data", bits=value.bit_length() if value >= 0 else None)


class ExpressionCompiler:
    """Turns JSON expressions into Python source for one load of a program.

    ``in_parser``: ``lookahead`` is allowed (the parser's ``buf``/``pos`` locals
    exist). ``with_data``: ``local``/``runtime_data`` refer to action data ``D``.
    """

    def __init__(self, layout: Layout, unit: CodeUnit, externs: Externs | None = None) -> None:
        self.layout = layout
        self.unit = unit
        self.externs = externs  # for `register` operands
        self.hb = unit.bind("HB", layout.header_base)
        self._stack_names: dict[str, str] = {}
        self.param_widths: list[int] | None = None  # set while compiling an action

    # --- entry points ----------------------------------------------------------
    def data(self, j: object, where: str, in_parser: bool = False) -> Expr:
        e = self.compile(j, where, in_parser)
        if e.kind == "bool":  # p4c wraps with b2d; accept a bare bool anyway
            return Expr(f"(1 if {e.src} else 0)", "data", bits=1)
        if e.kind != "data":
            raise load_error(where, f"expected a value, got a {e.kind}")
        return e

    def boolean(self, j: object, where: str, in_parser: bool = False) -> Expr:
        e = self.compile(j, where, in_parser)
        if e.kind == "data":
            return Expr(f"({e.src} != 0)", "bool")
        if e.kind != "bool":
            raise load_error(where, f"expected a condition, got a {e.kind}")
        return e

    def header(self, j: object, where: str) -> Expr:
        e = self.compile(j, where)
        if e.kind != "header":
            raise load_error(where, f"expected a header, got a {e.kind}")
        return e

    def lvalue(self, j: object, where: str) -> tuple[str, FieldInfo]:
        """A writable field: returns (target source such as ``F[12]``, field info)."""
        if not isinstance(j, dict):
            raise load_error(where, f"bad destination {j!r}")
        t, v = j.get("type"), j.get("value")
        if t == "field":
            f = self._field(v, where)
            if f is None:
                raise load_error(where, f"cannot assign to validity bit {v!r}")
            return f"F[{f.slot}]", f
        if t == "expression":
            inner = v if isinstance(v, dict) and "op" in v else None
            if inner is None and isinstance(v, dict) and v.get("type") == "expression":
                return self.lvalue(v, where)
            if inner is not None and inner.get("op") == "access_field":
                hdr = self.header(inner.get("left"), where)
                f = self._member(hdr, inner.get("right"), where)
                if hdr.static is not None:
                    return f"F[{f.slot}]", f
                off = f.slot - self.layout.headers[f.header].base
                return f"F[{self.hb}[{hdr.src}] + {off}]", f
        raise load_error(where, f"destination {j!r} is not a field")

    def assign_source(self, target: str, f: FieldInfo, value: Expr) -> str:
        """``target = value`` truncated to the field's width, as BMv2's Field::set."""
        if f.varbit:
            return f"{target} = {value.src}"
        if f.signed:
            return f"{target} = _sext({value.src}, {f.width})"
        if value.bits is not None and value.bits <= f.width:
            return f"{target} = {value.src}"
        return f"{target} = {value.src} & {f.mask:#x}"

    # --- the type-value objects ------------------------------------------------
    def compile(self, j: object, where: str, in_parser: bool = False) -> Expr:
        if isinstance(j, bool):
            return Expr(repr(j), "bool")
        if isinstance(j, int):
            return _const(j)
        if not isinstance(j, dict):
            raise load_error(where, f"bad expression {j!r}")
        t, v = j.get("type"), j.get("value")
        lay = self.layout
        if t == "field":
            if not (isinstance(v, list) and len(v) == 2):
                raise load_error(where, f"bad field reference {v!r}")
            if v[1] == "$valid$":
                h = lay.header(v[0], where)
                return Expr(f"V[{h.id}]", "data", bits=1)
            f = self._field(v, where)
            return Expr(f"F[{f.slot}]", "data", bits=None if f.signed else f.width)
        if t == "hexstr":
            return _const(parse_hexstr(v, where))
        if t == "bool":
            return Expr("True" if v else "False", "bool")
        if t in ("local", "runtime_data"):
            if not isinstance(v, int) or v < 0:
                raise load_error(where, f"bad {t} index {v!r}")
            widths = self.param_widths
            if widths is not None and v >= len(widths):
                raise load_error(
                    where, f"{t} index {v} but the action has {len(widths)} parameters"
                )
            # action data is checked against its width when an entry is added
            return Expr(f"D[{v}]", "data", bits=widths[v] if widths is not None else None)
        if t == "header":
            h = lay.header(v, where)
            return Expr(str(h.id), "header", static=h.id, rep=h.id)
        if t == "header_stack":
            s = self._stack(v, where)
            return Expr(str(s.index), "stack", static=s.index, rep=s.elements[0])
        if t == "header_union":
            u = lay.unions.get(v)
            if u is None:
                raise load_error(where, f"unknown header union {v!r}")
            return Expr(str(u.index), "union", static=u.index, rep=u.index)
        if t == "header_union_stack":
            s = lay.union_stacks.get(v)
            if s is None:
                raise load_error(where, f"unknown header union stack {v!r}")
            return Expr(str(s.index), "union_stack", static=s.index, rep=s.elements[0])
        if t == "stack_field":
            if not (isinstance(v, list) and len(v) == 2):
                raise load_error(where, f"bad stack_field {v!r}")
            s = self._stack(v[0], where)
            rep = lay.headers[s.elements[0]]
            f = rep.by_name.get(v[1])
            if f is None:
                raise load_error(where, f"stack {v[0]!r} has no field {v[1]!r}")
            last = self._last_fn(s)
            return Expr(
                f"F[{self.hb}[{last}(N)] + {f.slot - rep.base}]",
                "data",
                bits=None if f.signed else f.width,
            )
        if t == "union_stack_field":
            if not (isinstance(v, list) and len(v) == 3):
                raise load_error(where, f"bad union_stack_field {v!r}")
            s = lay.union_stacks.get(v[0])
            if s is None:
                raise load_error(where, f"unknown header union stack {v[0]!r}")
            u0 = lay.union_list[s.elements[0]]
            if v[1] not in u0.member_names:
                raise load_error(where, f"union stack {v[0]!r} has no member {v[1]!r}")
            m = u0.member_names.index(v[1])
            rep = lay.headers[u0.headers[m]]
            f = rep.by_name.get(v[2])
            if f is None:
                raise load_error(where, f"union member {v[1]!r} has no field {v[2]!r}")
            last = self._last_fn(s)
            members = self.unit.bind("UM", tuple(lay.union_list[u].headers[m] for u in s.elements))
            return Expr(
                f"F[{self.hb}[{members}[{last}(N, True)]] + {f.slot - rep.base}]",
                "data",
                bits=None if f.signed else f.width,
            )
        if t == "lookahead":
            if not in_parser:
                raise load_error(where, "lookahead outside a parser")
            if not (isinstance(v, list) and len(v) == 2):
                raise load_error(where, f"bad lookahead {v!r}")
            offset, width = int(v[0]), int(v[1])
            return Expr(lookahead_source(offset, width), "data", bits=width)
        if t == "register":
            if not (isinstance(v, list) and len(v) == 2):
                raise load_error(where, f"bad register reference {v!r}")
            if self.externs is None:
                raise load_error(where, "register operand without register arrays")
            reg = self.externs.register(v[0], where)
            name = self.unit.bind("R", reg.values)
            idx = self.data(v[1], where, in_parser)
            return Expr(f"{name}[{idx.src}]", "data", bits=reg.width)
        if t == "expression":
            if isinstance(v, dict) and "op" not in v:
                return self.compile(v, where, in_parser)
            return self._op(v, where, in_parser)
        if "op" in j:  # an expression object without the type wrapper
            return self._op(j, where, in_parser)
        raise load_error(where, f"unsupported operand type {t!r}")

    # --- operators -------------------------------------------------------------
    _ARITH = {"+": "+", "-": "-", "*": "*", "<<": "<<", ">>": ">>", "%": "%", "/": "//"}
    _BITS = {"&": "&", "|": "|", "^": "^"}
    _CMP = {"==": "==", "!=": "!=", ">": ">", "<": "<", ">=": ">=", "<=": "<="}

    def _op(self, e: object, where: str, in_parser: bool) -> Expr:
        if not isinstance(e, dict):
            raise load_error(where, f"bad expression {e!r}")
        op = e.get("op")
        left, right = e.get("left"), e.get("right")
        sub = lambda x: self.compile(x, where, in_parser)  # noqa: E731
        dat = lambda x: self.data(x, where, in_parser)  # noqa: E731
        boo = lambda x: self.boolean(x, where, in_parser)  # noqa: E731
        if op in ("-", "+") and left is None:  # p4c's unary minus (IR::Neg)
            b = dat(right)
            return Expr(
                f"(-{b.src})" if op == "-" else b.src, "data", bits=b.bits if op == "+" else None
            )
        if op in self._ARITH:
            a, b = dat(left), dat(right)
            bits = None
            if op == ">>" and a.bits is not None:
                bits = a.bits
            if op in ("%", "/"):
                return Expr(
                    f"_divmod_{'d' if op == '/' else 'm'}({a.src}, {b.src})", "data", bits=a.bits
                )
            return Expr(f"({a.src} {self._ARITH[op]} {b.src})", "data", bits=bits)
        if op in self._BITS:
            a, b = dat(left), dat(right)
            bits = None
            if op == "&":
                known = [x.bits for x in (a, b) if x.bits is not None]
                bits = min(known) if known else None
            elif a.bits is not None and b.bits is not None:
                bits = max(a.bits, b.bits)
            return Expr(f"({a.src} {self._BITS[op]} {b.src})", "data", bits=bits)
        if op == "~":
            b = dat(right)
            return Expr(f"(~{b.src})", "data")
        if op in self._CMP:
            a, b = sub(left), sub(right)
            if a.kind == "header" and b.kind == "header":
                fn = self.unit.bind("heq", self._header_equal)
                cmp = f"{fn}(F, V, {a.src}, {b.src})"
                return Expr(cmp if op == "==" else f"(not {cmp})", "bool")
            if a.kind == "union" and b.kind == "union":
                fn = self.unit.bind("ueq", self._union_equal)
                cmp = f"{fn}(F, V, {a.src}, {b.src})"
                return Expr(cmp if op == "==" else f"(not {cmp})", "bool")
            if a.kind == "bool" or b.kind == "bool":
                a, b = boo(left), boo(right)
            else:
                a, b = dat(left), dat(right)
            return Expr(f"({a.src} {self._CMP[op]} {b.src})", "bool")
        if op == "and":
            return Expr(f"({boo(left).src} and {boo(right).src})", "bool")
        if op == "or":
            return Expr(f"({boo(left).src} or {boo(right).src})", "bool")
        if op == "not":
            return Expr(f"(not {boo(right).src})", "bool")
        if op == "valid":
            h = sub(right)
            if h.kind == "header":
                return Expr(f"(V[{h.src}] == 1)", "bool")
            if h.kind == "union":
                return Expr(self._union_valid_src(h), "bool")
            raise load_error(where, f"'valid' of a {h.kind}")
        if op == "valid_union":
            u = sub(right)
            if u.kind != "union":
                raise load_error(where, f"'valid_union' of a {u.kind}")
            return Expr(self._union_valid_src(u), "bool")
        if op == "?":
            c = boo(e.get("cond"))
            a, b = sub(left), sub(right)
            if a.kind != b.kind:
                a, b = dat(left), dat(right)
            bits = max(a.bits, b.bits) if a.bits is not None and b.bits is not None else None
            return Expr(f"({a.src} if {c.src} else {b.src})", a.kind, bits=bits, rep=a.rep)
        if op == "d2b":
            return Expr(f"({dat(right).src} != 0)", "bool")
        if op == "b2d":
            return Expr(f"(1 if {boo(right).src} else 0)", "data", bits=1)
        if op in ("two_comp_mod", "sat_cast", "usat_cast"):
            a, b = dat(left), dat(right)
            bits = None
            if op == "usat_cast" and b.src.isdigit():
                bits = int(b.src)
            return Expr(f"_{op}({a.src}, {b.src})", "data", bits=bits)
        if op in ("dereference_header_stack", "dereference_stack"):
            s = sub(left)
            if s.kind != "stack":
                raise load_error(where, f"'{op}' of a {s.kind}")
            idx = dat(right)
            st = self._stack_by_index(s.static, where)
            if idx.src.isdigit():
                i = int(idx.src)
                if i >= len(st.elements):
                    raise load_error(where, f"index {i} out of stack {st.name!r}")
                hid = st.elements[i]
                return Expr(str(hid), "header", static=hid, rep=hid)
            elems = self.unit.bind("SE", tuple(st.elements))
            return Expr(f"_index({elems}, {idx.src})", "header", rep=st.elements[0])
        if op == "dereference_union_stack":
            s = sub(left)
            if s.kind != "union_stack":
                raise load_error(where, f"'{op}' of a {s.kind}")
            st = self._stack_by_index(s.static, where)
            idx = dat(right)
            if idx.src.isdigit():
                i = int(idx.src)
                if i >= len(st.elements):
                    raise load_error(where, f"index {i} out of union stack {st.name!r}")
                return Expr(str(st.elements[i]), "union", static=st.elements[i], rep=st.elements[i])
            elems = self.unit.bind("SE", tuple(st.elements))
            return Expr(f"_index({elems}, {idx.src})", "union", rep=st.elements[0])
        if op == "last_stack_index":
            s = sub(right if right is not None else left)
            return Expr(f"(N[{s.src}] - 1)", "data")
        if op in ("size_stack", "size_stack_index"):
            s = sub(right if right is not None else left)
            return Expr(f"N[{s.src}]", "data")
        if op == "access_field":
            hdr = self.compile(left, where, in_parser)
            if hdr.kind != "header":
                raise load_error(where, f"'access_field' of a {hdr.kind}")
            f = self._member(hdr, right, where)
            bits = None if f.signed else f.width
            if hdr.static is not None:
                return Expr(f"F[{f.slot}]", "data", bits=bits)
            off = f.slot - self.layout.headers[f.header].base
            return Expr(f"F[{self.hb}[{hdr.src}] + {off}]", "data", bits=bits)
        if op == "access_union_header":
            u = self.compile(left, where, in_parser)
            if u.kind != "union" or not isinstance(right, int):
                raise load_error(where, "bad 'access_union_header'")
            rep = self.layout.union_list[u.rep if u.rep is not None else 0]
            if right >= len(rep.headers):
                raise load_error(where, f"union has no member #{right}")
            if u.static is not None:
                hid = self.layout.union_list[u.static].headers[right]
                return Expr(str(hid), "header", static=hid, rep=hid)
            members = self.unit.bind(
                "UM", tuple(un.headers[right] for un in self.layout.union_list)
            )
            return Expr(f"{members}[{u.src}]", "header", rep=rep.headers[right])
        raise load_error(where, f"unsupported expression operator {op!r}")

    # --- pieces ----------------------------------------------------------------
    def _field(self, v: object, where: str) -> FieldInfo:
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)):
            raise load_error(where, f"bad field reference {v!r}")
        return self.layout.field(v[0], v[1], where)

    def _member(self, hdr: Expr, offset: object, where: str) -> FieldInfo:
        """Field #offset of header ``hdr`` (of a representative element when the
        header is a stack element chosen at run time: all share one type)."""
        rep = self.layout.headers[hdr.static if hdr.static is not None else hdr.rep or 0]
        if not isinstance(offset, int) or not 0 <= offset < len(rep.fields):
            raise load_error(where, f"header {rep.name!r} has no field #{offset!r}")
        return rep.fields[offset]

    def _stack(self, name: object, where: str) -> StackInfo:
        s = self.layout.stacks.get(name)  # type: ignore[arg-type]
        if s is None:
            raise load_error(where, f"unknown header stack {name!r}")
        return s

    def _stack_by_index(self, index: int | None, where: str) -> StackInfo:
        for s in list(self.layout.stacks.values()) + list(self.layout.union_stacks.values()):
            if s.index == index:
                return s
        raise load_error(where, "stack operand must name a stack")

    def _last_fn(self, s: StackInfo) -> str:
        """A function giving the id of the last valid element of stack ``s``."""
        key = s.name + ("#u" if s.is_union_stack else "")
        name = self._stack_names.get(key)
        if name is None:
            elems, index = tuple(s.elements), s.index

            def last(N: list[int], _union: bool = False) -> int:
                n = N[index]
                if n == 0:
                    raise StackOutOfBounds(s.name)
                return elems[n - 1]

            name = self.unit.bind("last", last)
            self._stack_names[key] = name
        return name

    def _union_valid_src(self, u: Expr) -> str:
        if u.static is not None:
            ids = self.layout.union_list[u.static].headers
            return "(" + " or ".join(f"V[{i}] == 1" for i in ids) + ")"
        table = self.unit.bind("UH", tuple(tuple(x.headers) for x in self.layout.union_list))
        return f"any(V[i] for i in {table}[{u.src}])"

    def _header_equal(self, F: list[int], V: list[int], a: int, b: int) -> bool:
        ha, hb = self.layout.headers[a], self.layout.headers[b]
        if V[a] != V[b]:
            return False
        if not V[a]:
            return True
        return F[ha.base : ha.base + ha.nslots] == F[hb.base : hb.base + hb.nslots]

    def _union_equal(self, F: list[int], V: list[int], a: int, b: int) -> bool:
        ua, ub = self.layout.union_list[a], self.layout.union_list[b]
        return all(
            self._header_equal(F, V, x, y) for x, y in zip(ua.headers, ub.headers, strict=False)
        )


def index_or_fault(elements: tuple, i: int) -> int:
    if 0 <= i < len(elements):
        return elements[i]
    raise StackOutOfBounds(f"index {i} out of a stack of {len(elements)}")


def divide(a: int, b: int) -> int:
    if b == 0:
        raise PacketFault("division by zero")
    return a // b


def modulo(a: int, b: int) -> int:
    if b == 0:
        raise PacketFault("modulo by zero")
    return a % b


def install(unit: CodeUnit) -> None:
    """Helpers that generated expressions call by fixed names."""
    unit.ns["_index"] = index_or_fault
    unit.ns["_divmod_d"] = divide
    unit.ns["_divmod_m"] = modulo
