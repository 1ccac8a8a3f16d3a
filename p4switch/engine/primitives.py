"""Source generators for the action primitives simple_switch registers
(bm_sim/core/primitives.cpp, targets/simple_switch/primitives.cpp).

Each generator takes the primitive's JSON parameters and returns Python
statements for the body of an action (or parser state). The statements may
use ``P``, ``F``, ``V``, ``N`` and ``D`` and anything bound in the CodeUnit.
simple_switch-level effects (clone, resubmit, recirculate, digest, truncate)
only set flags on the packet; the pipeline acts on them after the control,
exactly as simple_switch's ingress and egress threads do.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .checksums import Calculations
from .codegen import CodeUnit, log
from .expressions import Expr, ExpressionCompiler
from .externs import Externs
from .headers import HeaderOps
from .layout import FieldInfo, Layout, load_error
from .v1model import DROP_PORT, Intrinsics


@dataclass
class BuildContext:
    """Everything generators need about the loaded program."""

    layout: Layout
    unit: CodeUnit
    exprs: ExpressionCompiler
    externs: Externs
    calcs: Calculations
    ops: HeaderOps
    intr: Intrinsics
    clock: Callable[[], float] = time.monotonic  # seconds; tests may pass a fake one
    field_lists: dict[int, list[FieldInfo]] = field(default_factory=dict)
    learn_lists: dict[int, tuple[str, list[FieldInfo]]] = field(default_factory=dict)


Generator = Callable[[BuildContext, list, str, bool], list[str]]
GENERATORS: dict[str, Generator] = {}


def primitive(*names: str) -> Callable[[Generator], Generator]:
    def register(fn: Generator) -> Generator:
        for n in names:
            GENERATORS[n] = fn
        return fn

    return register


def generate(cx: BuildContext, prim: dict, where: str, in_parser: bool = False) -> list[str]:
    """Statements for one primitive call ``{"op": ..., "parameters": [...]}``."""
    if not isinstance(prim, dict):
        raise load_error(where, f"bad primitive {prim!r}")
    op = prim.get("op")
    params = prim.get("parameters", [])
    if not isinstance(params, list):
        raise load_error(where, f"primitive {op!r} parameters must be a list")
    gen = GENERATORS.get(op)  # type: ignore[arg-type]
    if gen is None:
        raise load_error(where, f"unsupported primitive {op!r}")
    return gen(cx, params, f"{where}, primitive {op!r}", in_parser)


def _arity(params: list, n: int, where: str) -> None:
    if len(params) != n:
        raise load_error(where, f"expects {n} parameters, got {len(params)}")


def _kind(cx: BuildContext, p: object, where: str, in_parser: bool) -> Expr:
    return cx.exprs.compile(p, where, in_parser)


# --- assignment ------------------------------------------------------------------
@primitive("assign", "modify_field")
def _assign(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 2, where)
    dst_type = params[0].get("type") if isinstance(params[0], dict) else None
    if dst_type in ("header", "header_union", "header_stack", "header_union_stack") or (
        dst_type == "expression" and _kind(cx, params[0], where, in_parser).kind != "data"
    ):
        dst = _kind(cx, params[0], where, in_parser)
        if dst.kind == "header":
            return _assign_header(cx, params, where, in_parser)
        if dst.kind == "union":
            return _assign_union(cx, params, where, in_parser)
        return _assign_stack(cx, params, where, in_parser)
    target, f = cx.exprs.lvalue(params[0], where)
    value = cx.exprs.data(params[1], where, in_parser)
    return [cx.exprs.assign_source(target, f, value)]


@primitive("assign_VL")
def _assign_vl(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 2, where)
    out = []
    fs = []
    for p in params:
        if not (isinstance(p, dict) and p.get("type") == "field"):
            raise load_error(where, "assign_VL takes two varbit fields")
        fs.append(cx.layout.field(p["value"][0], p["value"][1], where))
    d, s = fs
    if not (d.varbit and s.varbit):
        raise load_error(where, "assign_VL takes two varbit fields")
    out.append(f"F[{d.slot}] = F[{s.slot}]; F[{d.width_slot}] = F[{s.width_slot}]")
    return out


@primitive("assign_header", "copy_header")
def _assign_header(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 2, where)
    d = cx.exprs.header(params[0], where)
    s = cx.exprs.header(params[1], where)
    lay = cx.layout
    if d.static is not None and s.static is not None and not cx.ops.siblings[d.static]:
        hd, hs = lay.headers[d.static], lay.headers[s.static]
        if hd.type_name != hs.type_name:
            raise load_error(where, f"cannot assign header {hs.name!r} to {hd.name!r}")
        n = hd.nslots
        return [
            f"if V[{hs.id}]:",
            f"    V[{hd.id}] = 1; F[{hd.base}:{hd.base + n}] = F[{hs.base}:{hs.base + n}]",
            "else:",
            f"    V[{hd.id}] = 0",
        ]
    ops = cx.unit.bind("ops", cx.ops)
    return [f"{ops}.copy_header(F, V, {d.src}, {s.src})"]


@primitive("assign_union")
def _assign_union(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 2, where)
    d, s = (_kind(cx, p, where, in_parser) for p in params)
    if d.kind != "union" or s.kind != "union":
        raise load_error(where, "assign_union takes two header unions")
    ops = cx.unit.bind("ops", cx.ops)
    return [f"{ops}.copy_union(F, V, {d.src}, {s.src})"]


@primitive("assign_header_stack", "assign_union_stack")
def _assign_stack(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 2, where)
    d, s = (_kind(cx, p, where, in_parser) for p in params)
    if d.kind not in ("stack", "union_stack") or d.kind != s.kind:
        raise load_error(where, "stack assignment takes two stacks of the same kind")
    ops = cx.unit.bind("ops", cx.ops)
    return [f"{ops}.copy_stack(F, V, N, {d.src}, {s.src})"]


def _stack_shift(method: str) -> Generator:
    def gen(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
        _arity(params, 2, where)
        s = _kind(cx, params[0], where, in_parser)
        if s.kind not in ("stack", "union_stack"):
            raise load_error(where, "push/pop take a stack")
        num = cx.exprs.data(params[1], where, in_parser)
        ops = cx.unit.bind("ops", cx.ops)
        return [f"{ops}.{method}(F, V, N, {s.src}, {num.src})"]

    return gen


GENERATORS["push"] = _stack_shift("push_front")
GENERATORS["pop"] = _stack_shift("pop_front")


# --- validity ----------------------------------------------------------------------
def _valid_lines(cx: BuildContext, h: Expr, adjust_length: bool) -> list[str]:
    if h.static is None:
        ops = cx.unit.bind("ops", cx.ops)
        nb = cx.unit.bind("NB", tuple(x.fixed_bytes for x in cx.layout.headers))
        hb = cx.unit.bind("HB", cx.layout.header_base)
        ns = cx.unit.bind("NS", tuple(x.nslots for x in cx.layout.headers))
        lines = [
            f"_h = {h.src}",
            "if not V[_h]:",
            f"    F[{hb}[_h]:{hb}[_h] + {ns}[_h]] = [0] * {ns}[_h]",
            f"    {ops}.mark_valid(V, _h)",
        ]
        if adjust_length:
            lines.append(f"    P.length += {nb}[_h]")
        return lines
    hd = cx.layout.headers[h.static]
    lines = [
        f"if not V[{hd.id}]:",
        f"    F[{hd.base}:{hd.base + hd.nslots}] = {[0] * hd.nslots!r}",
        f"    V[{hd.id}] = 1",
    ]
    for o in cx.ops.siblings[hd.id]:
        lines.append(f"    V[{o}] = 0")
    if adjust_length:
        lines.append(f"    P.length += {hd.fixed_bytes}")
    return lines


@primitive("add_header")
def _add_header(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 1, where)
    return _valid_lines(cx, cx.exprs.header(params[0], where), True)


@primitive("add_header_fast")
def _add_header_fast(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 1, where)
    h = cx.exprs.header(params[0], where)
    ops = cx.unit.bind("ops", cx.ops)
    return [f"{ops}.mark_valid(V, {h.src})"]


@primitive("remove_header")
def _remove_header(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 1, where)
    h = cx.exprs.header(params[0], where)
    if h.static is not None:
        nb = str(cx.layout.headers[h.static].fixed_bytes)
    else:
        nb = f"{cx.unit.bind('NB', tuple(x.fixed_bytes for x in cx.layout.headers))}[_h]"
    return [f"_h = {h.src}", "if V[_h]:", f"    P.length -= {nb}; V[_h] = 0"]


# --- forwarding decisions ----------------------------------------------------------
def _drop_lines(cx: BuildContext) -> list[str]:
    lines = [f"F[{cx.intr.egress_spec.slot}] = {DROP_PORT}"]
    if cx.intr.mcast_grp is not None:
        lines.append(f"F[{cx.intr.mcast_grp.slot}] = 0")
    return lines


@primitive("mark_to_drop")
def _mark_to_drop(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    if len(params) > 1:
        raise load_error(where, "expects at most 1 parameter")
    return _drop_lines(cx)


@primitive("drop")
def _drop(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    return _drop_lines(cx)


@primitive("exit")
def _exit(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    return ["P.exit = True"]


@primitive("no_op")
def _no_op(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    return ["pass"]


@primitive("clone_ingress_pkt_to_egress", "clone_egress_pkt_to_egress")
def _clone(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    if len(params) not in (1, 2):
        raise load_error(where, "expects a session and a field list id")
    session = cx.exprs.data(params[0], where, in_parser)
    fl = cx.exprs.data(params[1], where, in_parser) if len(params) > 1 else Expr("0", "data")
    return [
        f"P.clone_session = ({session.src} & 0xFFFF) | 0x8000",
        f"P.clone_field_list = {fl.src}",
    ]


@primitive("resubmit")
def _resubmit(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 1, where)
    return [f"P.resubmit = {cx.exprs.data(params[0], where).src} & 0xFFFF"]


@primitive("recirculate")
def _recirculate(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 1, where)
    return [f"P.recirculate = {cx.exprs.data(params[0], where).src} & 0xFFFF"]


@primitive("generate_digest")
def _digest(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 2, where)
    learn = cx.exprs.data(params[1], where, in_parser)
    return [f"P.learn = {learn.src} & 0xFFFF"]


@primitive("truncate")
def _truncate(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 1, where)
    n = cx.exprs.data(params[0], where, in_parser)
    return [f"_t = {n.src}", "if P.truncate is None or _t < P.truncate:", "    P.truncate = _t"]


# --- hashing and randomness ----------------------------------------------------------
@primitive("modify_field_with_hash_based_offset")
def _hash(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 4, where)
    target, f = cx.exprs.lvalue(params[0], where)
    base = cx.exprs.data(params[1], where, in_parser)
    if not (isinstance(params[2], dict) and params[2].get("type") == "calculation"):
        raise load_error(where, "third parameter must be a calculation")
    calc = cx.unit.bind("calc", cx.calcs.get(params[2].get("value"), where))
    size = cx.exprs.data(params[3], where, in_parser)
    # simple_switch: a max of 0 is treated as 1; result = base + (hash % max)
    value = Expr(f"(({calc}(P) % ({size.src} or 1)) + {base.src})", "data")
    return [cx.exprs.assign_source(target, f, value)]


@primitive("modify_field_rng_uniform")
def _random(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 3, where)
    target, f = cx.exprs.lvalue(params[0], where)
    lo = cx.exprs.data(params[1], where, in_parser)
    hi = cx.exprs.data(params[2], where, in_parser)
    rnd = cx.unit.bind("randint", random.randint)
    return [
        f"_lo = {lo.src}; _hi = {hi.src}",
        "if _lo <= _hi:",  # simple_switch leaves the field alone when lo > hi
        "    " + cx.exprs.assign_source(target, f, Expr(f"{rnd}(_lo, _hi)", "data")),
    ]


# --- stateful externs -------------------------------------------------------------------
def _named(params: list, i: int, kind: str, where: str) -> object:
    p = params[i]
    if not (isinstance(p, dict) and p.get("type") == kind):
        raise load_error(where, f"parameter {i} must be a {kind}")
    return p.get("value")


@primitive("count")
def _count(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 2, where)
    c = cx.externs.counter(_named(params, 0, "counter_array", where), where)
    # the arrays are reached through the object: reset_counters replaces them
    cobj = cx.unit.bind("ctr", c)
    idx = cx.exprs.data(params[1], where, in_parser)
    return [
        f"_i = {idx.src}",
        f"if 0 <= _i < {c.size}:",
        f"    {cobj}.packets[_i] += 1; {cobj}.bytes[_i] += P.ingress_length",
    ]


@primitive("execute_meter")
def _meter(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 3, where)
    m = cx.externs.meter(_named(params, 0, "meter_array", where), where)
    mobj = cx.unit.bind("mtr", m)
    idx = cx.exprs.data(params[1], where, in_parser)
    target, f = cx.exprs.lvalue(params[2], where)
    return [
        f"_i = {idx.src}",
        f"if 0 <= _i < {m.size}:",
        "    "
        + cx.exprs.assign_source(
            target, f, Expr(f"{mobj}.meters[_i].execute(P.ingress_length)", "data", bits=2)
        ),
    ]


@primitive("register_read")
def _register_read(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 3, where)
    target, f = cx.exprs.lvalue(params[0], where)
    r = cx.externs.register(_named(params, 1, "register_array", where), where)
    vals = cx.unit.bind("R", r.values)
    idx = cx.exprs.data(params[2], where, in_parser)
    return [
        f"_i = {idx.src}",
        f"if 0 <= _i < {r.size}:",
        "    " + cx.exprs.assign_source(target, f, Expr(f"{vals}[_i]", "data", bits=r.width)),
    ]


@primitive("register_write")
def _register_write(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 3, where)
    r = cx.externs.register(_named(params, 0, "register_array", where), where)
    vals = cx.unit.bind("R", r.values)
    idx = cx.exprs.data(params[1], where, in_parser)
    value = cx.exprs.data(params[2], where, in_parser)
    return [
        f"_i = {idx.src}",
        f"if 0 <= _i < {r.size}:",
        f"    {vals}[_i] = {value.src} & {r.mask:#x}",
    ]


# --- checks and logging -----------------------------------------------------------------
@primitive("assert", "assume")
def _assert(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    _arity(params, 1, where)
    cond = cx.exprs.boolean(params[0], where, in_parser)
    return [f"if not {cond.src}:", f"    _fault({(where + ' failed')!r})"]


def log_message(fmt: str, values: list[int]) -> None:
    """BMv2 log_msg: each ``{}`` takes the next value; ``\\{``/``\\}`` are literal."""
    out, i, k = [], 0, 0
    while i < len(fmt):
        if fmt.startswith("\\{", i) or fmt.startswith("\\}", i):
            out.append(fmt[i + 1])
            i += 2
        elif fmt.startswith("{}", i):
            out.append(str(values[k]) if k < len(values) else "{}")
            k += 1
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    log.info("%s", "".join(out))


@primitive("log_msg")
def _log_msg(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
    if not params or not isinstance(params[0], dict) or params[0].get("type") != "string":
        raise load_error(where, "first parameter must be a string")
    fmt = params[0].get("value", "")
    values: list[str] = []
    if len(params) > 1:
        vec = params[1]
        items = vec.get("value") if isinstance(vec, dict) else None
        if isinstance(items, list):
            values = [cx.exprs.data(x, where, in_parser).src for x in items]
    fn = cx.unit.bind("logmsg", log_message)
    return [f"{fn}({fmt!r}, [{', '.join(values)}])"]


# --- P4_14 arithmetic primitives, still registered by simple_switch ---------------------
def _binary(op: str) -> Generator:
    def gen(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
        _arity(params, 3, where)
        target, f = cx.exprs.lvalue(params[0], where)
        a = cx.exprs.data(params[1], where, in_parser)
        b = cx.exprs.data(params[2], where, in_parser)
        return [cx.exprs.assign_source(target, f, Expr(f"({a.src} {op} {b.src})", "data"))]

    return gen


for _name, _op in (
    ("add", "+"),
    ("subtract", "-"),
    ("bit_xor", "^"),
    ("bit_or", "|"),
    ("bit_and", "&"),
    ("shift_left", "<<"),
    ("shift_right", ">>"),
):
    GENERATORS[_name] = _binary(_op)


def _accumulate(op: str) -> Generator:
    def gen(cx: BuildContext, params: list, where: str, in_parser: bool) -> list[str]:
        _arity(params, 2, where)
        target, f = cx.exprs.lvalue(params[0], where)
        b = cx.exprs.data(params[1], where, in_parser)
        return [cx.exprs.assign_source(target, f, Expr(f"({target} {op} {b.src})", "data"))]

    return gen


GENERATORS["add_to_field"] = _accumulate("+")
GENERATORS["subtract_from_field"] = _accumulate("-")
