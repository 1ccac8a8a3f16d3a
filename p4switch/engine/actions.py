"""Action functions (bm_sim/actions.cpp): one generated ``act(P, D)`` per JSON action.

``D`` is the tuple of action data (runtime parameters). Straight-line actions
become straight-line Python; an action with p4c's ``_jump``/``_jump_if_zero``
primitives (``if`` statements inside an action) becomes a small
program-counter loop, which is exactly BMv2's semantics for those primitives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .codegen import prologue
from .layout import at, load_error
from .packet import Packet
from .primitives import BuildContext, generate


@dataclass
class Action:
    id: int
    name: str
    params: list[tuple[str, int]]  # (name, bitwidth) in runtime_data order
    fn: Callable[[Packet, tuple], None]
    exits: bool = False  # contains the exit primitive
    body: list[str] = field(default_factory=list)  # statements, for inlining into pipelines

    def check_data(self, args: list[int] | tuple[int, ...]) -> str | None:
        """Why ``args`` is not valid action data for this action, or None."""
        if len(args) != len(self.params):
            return f"action {self.name!r} takes {len(self.params)} arguments, got {len(args)}"
        for (pname, width), v in zip(self.params, args, strict=False):
            if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
                return f"action {self.name!r} argument {pname!r} ({width} bits): bad value {v!r}"
            if v < 0 or v >> width:
                return f"action {self.name!r} argument {pname!r} ({width} bits): bad value {v!r}"
        return None


def _indent(lines: list[str], n: int) -> list[str]:
    pad = " " * n
    return [pad + ln for ln in lines]


def build_body(cx: BuildContext, prims: list, where: str, in_parser: bool = False) -> list[str]:
    """Statements for a primitive list, with a pc loop when it contains jumps."""
    if not isinstance(prims, list):
        raise load_error(where, "primitives must be a list")
    has_jumps = any(
        isinstance(p, dict) and p.get("op") in ("_jump", "_jump_if_zero") for p in prims
    )
    if not has_jumps:
        body: list[str] = []
        for i, p in enumerate(prims):
            body += generate(cx, p, f"{where}, #{i}", in_parser)
        return body
    body = ["_pc = 0", f"while _pc < {len(prims)}:"]
    for i, p in enumerate(prims):
        body.append(f"    {'if' if i == 0 else 'elif'} _pc == {i}:")
        op = p.get("op") if isinstance(p, dict) else None
        params = p.get("parameters", []) if isinstance(p, dict) else []
        w = f"{where}, #{i}"
        if op == "_jump":
            if len(params) != 1:
                raise load_error(w, "_jump takes 1 parameter")
            body.append(f"        _pc = {cx.exprs.data(params[0], w, in_parser).src}")
        elif op == "_jump_if_zero":
            if len(params) != 2:
                raise load_error(w, "_jump_if_zero takes 2 parameters")
            cond = cx.exprs.data(params[0], w, in_parser).src
            target = cx.exprs.data(params[1], w, in_parser).src
            body.append(f"        _pc = {target} if {cond} == 0 else {i + 1}")
        else:
            body += _indent(generate(cx, p, w, in_parser), 8)
            body.append(f"        _pc = {i + 1}")
    return body


def build_actions(cx: BuildContext, j: dict) -> dict[int, Action]:
    actions: dict[int, Action] = {}
    for a in j.get("actions") or []:
        name, aid = a.get("name"), a.get("id")
        where = at(f"action {name!r}")
        if not isinstance(name, str) or not isinstance(aid, int):
            raise load_error("actions", f"action without name or id: {a!r}")
        if aid in actions:
            raise load_error(where, f"duplicate action id {aid}")
        params = []
        for rd in a.get("runtime_data") or []:
            width = rd.get("bitwidth")
            if not isinstance(width, int) or width < 0:
                raise load_error(where, f"runtime_data {rd!r} has a bad bitwidth")
            params.append((rd.get("name", "?"), width))
        cx.exprs.param_widths = [w for _, w in params]
        try:
            body = build_body(cx, a.get("primitives") or [], where)
        finally:
            cx.exprs.param_widths = None
        fname = cx.unit.fresh("act")
        text = "\n".join(_indent(body, 4) or ["    pass"]) + "\n"
        fn = cx.unit.define(fname, f"def {fname}(P, D):\n" + prologue(text) + text)
        exits = any(
            isinstance(p, dict) and p.get("op") == "exit" for p in a.get("primitives") or []
        )
        actions[aid] = Action(aid, name, params, fn, exits, body)
    return actions
