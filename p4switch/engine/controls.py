"""Control flow graphs (bm_sim pipeline.cpp, conditionals.cpp, control_action.cpp).

A pipeline is a graph of nodes: tables, conditionals and action calls. Every
node is a function ``node(P) -> next node or None``; :func:`run` walks the
graph and stops early when the packet was marked for ``exit``, as
``Pipeline::apply`` does.

Walking the graph costs a call per node, and p4c makes many nodes (every
statement outside a table becomes a keyless table), so :meth:`Pipeline.compile`
also turns the graph into one structured function: branches become ``if``
blocks that rejoin at their immediate post-dominator, keyless tables with a
const default action become direct action calls, and ``exit`` is checked only
after the actions that contain it. Graphs it cannot structure (cycles, huge
fan-out) keep the node walk.
"""

from __future__ import annotations

from collections.abc import Callable

from .actions import Action
from .codegen import prologue
from .layout import at, load_error
from .packet import Packet
from .primitives import BuildContext
from .tables import Table

Node = Callable[[Packet], "Node | None"]


def run(P: Packet, node: Node | None) -> None:
    while node is not None:
        if P.exit:
            return
        node = node(P)


class Pipeline:
    def __init__(
        self, cx: BuildContext, pj: dict, actions: dict[int, Action], tables: dict[str, Table]
    ) -> None:
        self.name = pj.get("name")
        where = at(f"pipeline {self.name!r}")
        unit = cx.unit
        slots: dict[str, str] = {}  # node name -> namespace variable holding its function
        kinds: dict[str, str] = {}
        for kind in ("tables", "conditionals", "action_calls"):
            for n in pj.get(kind) or []:
                name = n.get("name")
                if not isinstance(name, str):
                    raise load_error(where, f"{kind} entry without a name")
                if name in slots:
                    raise load_error(where, f"two nodes named {name!r}")
                slots[name] = unit.fresh("_node")
                kinds[name] = kind

        def ref(name: object) -> str:
            if name is None:
                return "None"
            if name not in slots:
                raise load_error(where, f"reference to unknown node {name!r}")
            return slots[name]  # type: ignore[index]

        fns: dict[str, Node] = {}
        self.tables: list[Table] = []
        self.conds: dict[str, str] = {}  # conditional name -> condition source
        for tj in pj.get("tables") or []:
            t = tables.get(tj["name"])
            if t is None:
                raise load_error(where, f"table {tj['name']!r} missing")
            fns[tj["name"]] = t.apply
            self.tables.append(t)
        for c in pj.get("conditionals") or []:
            w = at(f"{where} conditional {c['name']!r}")
            cond = cx.exprs.boolean(c.get("expression"), w).src
            self.conds[c["name"]] = cond
            fname = unit.fresh("_cond")
            body = (
                f"    return {ref(c.get('true_next'))} if {cond} else {ref(c.get('false_next'))}\n"
            )
            src = f"def {fname}(P):\n" + prologue(body) + body
            fns[c["name"]] = unit.define(fname, src)
        for ac in pj.get("action_calls") or []:
            w = at(f"{where} action_call {ac['name']!r}")
            a = actions.get(ac.get("action_id"))
            if a is None:
                raise load_error(w, f"unknown action id {ac.get('action_id')!r}")
            act = unit.bind("act", a.fn)
            fname = unit.fresh("_call")
            src = f"def {fname}(P):\n    {act}(P, ())\n    return {ref(ac.get('next_node'))}\n"
            fns[ac["name"]] = unit.define(fname, src)
        for name, var in slots.items():
            unit.ns[var] = fns[name]

        def node(name: object) -> Node | None:
            if name is None:
                return None
            if name not in fns:
                raise load_error(where, f"reference to unknown node {name!r}")
            return fns[name]  # type: ignore[index]

        for t in self.tables:
            t.resolve_next(node)
        self.first = node(pj.get("init_table"))
        self.run: Callable[[Packet], None] | None = self.apply
        self._cx, self._pj, self._slots, self._kinds = cx, pj, slots, kinds
        self._actions = actions

    def apply(self, P: Packet) -> None:
        run(P, self.first)

    # --- structured compilation ---------------------------------------------------
    def compile(self) -> None:
        """Replace the node walk by one generated function (after const entries
        and default actions are loaded); keeps the walk if the graph resists."""
        graph = self._successors()
        ipdom = _immediate_postdominators(graph, self._pj.get("init_table"))
        if ipdom is None:
            return
        lines: list[str] = []
        self._emitted = 0
        try:
            self._emit(self._pj.get("init_table"), _EXIT, graph, ipdom, lines, 1)
        except _TooBig:
            return
        unit = self._cx.unit
        if not lines:
            self.run = None  # nothing to do: callers skip it
            return
        fname = unit.fresh("_pipeline")
        text = "\n".join(lines) + "\n" if lines else "    pass\n"
        try:
            self.run = unit.define(fname, f"def {fname}(P):\n" + prologue(text) + text)
        except (RuntimeError, RecursionError, MemoryError):
            return  # too deeply nested for Python's compiler: keep walking nodes

    def _successors(self) -> dict[str, list[str | None]]:
        pj = self._pj
        succ: dict[str, list[str | None]] = {}
        for tj in pj.get("tables") or []:
            nt = tj.get("next_tables") or {}
            out = list(dict.fromkeys(list(nt.values()) + [tj.get("base_default_next")]))
            succ[tj["name"]] = out
        for c in pj.get("conditionals") or []:
            succ[c["name"]] = [c.get("true_next"), c.get("false_next")]
        for ac in pj.get("action_calls") or []:
            succ[ac["name"]] = [ac.get("next_node")]
        return succ

    def _exits(self, name: str) -> bool:
        """Can running node ``name`` set the exit flag?"""
        kind = self._kinds[name]
        if kind == "tables":
            t = next(t for t in self.tables if t.name == name)
            return any(a.exits for a in t.actions.values())
        if kind == "action_calls":
            ac = next(a for a in self._pj.get("action_calls") or [] if a["name"] == name)
            return self._actions[ac["action_id"]].exits
        return False

    def _fixed_action(self, name: str) -> tuple[Action, tuple] | None:
        """The action and data node ``name`` always runs, if it is an action call
        or p4c's synthesized keyless table with a const default action."""
        if self._kinds[name] == "action_calls":
            ac = next(a for a in self._pj.get("action_calls") or [] if a["name"] == name)
            return self._actions[ac["action_id"]], ()
        t = next(t for t in self.tables if t.name == name)
        d = t.default
        if (
            not t.key
            and t.profile is None
            and t.const_default_entry
            and d.action is not None
            and t.direct_counter is None
            and t.direct_meter is None
        ):
            return d.action, d.data
        return None

    def _inline(self, action: Action, data: tuple, pad: str) -> list[str]:
        """The action's statements, inlined, with its data bound to D."""
        body = [pad + ln for ln in action.body]
        if any("D[" in ln for ln in action.body):
            body.insert(0, f"{pad}D = {data!r}")
        return body or [f"{pad}pass"]

    def _call(self, name: str) -> str:
        """Source running table ``name``, returning its next node."""
        t = next(t for t in self.tables if t.name == name)
        return f"{self._cx.unit.bind('tbl', t.apply)}(P)"

    def _emit(self, n, stop, graph, ipdom, out: list[str], depth: int) -> None:
        pad = "    " * depth
        while n is not None and n != stop:
            self._emitted += 1  # nodes emitted, duplicates included
            if self._emitted > MAX_NODES or depth > MAX_DEPTH:
                raise _TooBig
            kind = self._kinds.get(n)
            if kind is None:
                raise _TooBig  # unknown node: leave it to the walk, which reports it
            join = ipdom[n]
            join = None if join == _EXIT else join
            if kind == "conditionals":
                t_next, f_next = graph[n]
                then: list[str] = []
                other: list[str] = []
                self._emit(t_next, join, graph, ipdom, then, depth + 1)
                self._emit(f_next, join, graph, ipdom, other, depth + 1)
                if then:
                    out.append(f"{pad}if {self.conds[n]}:")
                    out.extend(then)
                    if other:
                        out.append(f"{pad}else:")
                        out.extend(other)
                elif other:
                    out.append(f"{pad}if not {self.conds[n]}:")
                    out.extend(other)
                n = join
                continue
            succ = graph[n]
            exit_check = f"{pad}if P.exit: return" if self._exits(n) else None
            fixed = self._fixed_action(n)
            if fixed is not None and len(set(succ)) == 1:
                out.extend(self._inline(fixed[0], fixed[1], pad))
                if fixed[0].exits:
                    out.append(f"{pad}if P.exit: return")
                n = succ[0]
                continue
            if len(succ) == 1:
                out.append(f"{pad}{self._call(n)}")
                if exit_check:
                    out.append(exit_check)
                n = succ[0]
                continue
            out.append(f"{pad}_n = {self._call(n)}")
            if exit_check:
                out.append(exit_check)
            first = True
            for s in succ:
                if s == join:
                    continue
                test = "_n is None" if s is None else f"_n is {self._slots[s]}"
                out.append(f"{pad}{'if' if first else 'elif'} {test}:")
                mark = len(out)
                self._emit(s, join, graph, ipdom, out, depth + 1)
                if len(out) == mark:
                    out.append(f"{pad}    pass")
                first = False
            n = join


MAX_NODES = 20000  # a graph duplicating more than this when structured keeps the walk
MAX_DEPTH = 60
_EXIT = "$exit"


class _TooBig(Exception):
    pass


def _immediate_postdominators(
    graph: dict[str, list[str | None]], start: str | None
) -> dict[str, str] | None:
    """Immediate post-dominator of every node reachable from ``start``
    (``_EXIT`` for the end of the pipeline); None if the graph has a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(n: str | None) -> bool:
        if n is None:
            return True
        if state.get(n) == 2:
            return True
        if state.get(n) == 1 or n not in graph:
            return False  # a cycle, or a dangling reference
        state[n] = 1
        for s in graph[n]:
            if not visit(s):
                return False
        state[n] = 2
        order.append(n)  # post-order: successors first
        return True

    try:
        if start is not None and not visit(start):
            return None
    except RecursionError:
        return None
    pdom: dict[str, frozenset] = {_EXIT: frozenset([_EXIT])}
    for n in order:
        sets = [pdom[_EXIT if s is None else s] for s in graph[n]]
        pdom[n] = frozenset([n]).union(frozenset.intersection(*sets))
    ipdom: dict[str, str] = {}
    for n in order:
        others = pdom[n] - {n}
        ipdom[n] = max(others, key=lambda x: len(pdom[x]))
    return ipdom
