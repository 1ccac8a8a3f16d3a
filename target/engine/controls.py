"""Control flow graphs (bm_sim pipeline.cpp, conditionals.cpp, control_action.cpp).

A pipeline is a graph of nodes: tables, conditionals and action calls. Every
node is a function ``node(P) -> next node or None``; :func:`run` walks the
graph and stops early when the packet was marked for ``exit``, as
``Pipeline::apply`` does.
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
        for tj in pj.get("tables") or []:
            t = tables.get(tj["name"])
            if t is None:
                raise load_error(where, f"table {tj['name']!r} missing")
            fns[tj["name"]] = t.apply
            self.tables.append(t)
        for c in pj.get("conditionals") or []:
            w = at(f"{where} conditional {c['name']!r}")
            cond = cx.exprs.boolean(c.get("expression"), w).src
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

    def apply(self, P: Packet) -> None:
        run(P, self.first)
