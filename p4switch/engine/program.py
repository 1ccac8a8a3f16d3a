"""Loading a BMv2 JSON program (bm_sim/P4Objects.cpp): every element is checked
and compiled once; a bad element raises ValueError naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .action_profiles import ActionProfile
from .actions import Action, build_actions
from .checksums import Calculations, Checksums, build_input
from .codegen import CodeUnit
from .controls import Pipeline
from .deparser import build_deparser
from .expressions import ExpressionCompiler, install
from .externs import Externs
from .headers import HeaderOps
from .layout import FieldInfo, Layout, at, load_error, loading
from .parser import ParserBuilder, ParseValueSet
from .primitives import BuildContext
from .tables import Table
from .v1model import Intrinsics


def _field_list(layout: Layout, fl: dict, kind: str) -> tuple[str, list[FieldInfo]]:
    name = fl.get("name")
    where = f"{kind} {name!r}"
    fields = []
    for el in fl.get("elements") or []:
        if not isinstance(el, dict) or el.get("type") != "field":
            raise load_error(where, f"unsupported element {el!r}")
        v = el.get("value")
        if not (isinstance(v, list) and len(v) == 2):
            raise load_error(where, f"bad field {v!r}")
        fields.append(layout.field(v[0], v[1], where))
    return name, fields


def _by_name(items: list, wanted: str, kind: str) -> dict:
    for it in items:
        if it.get("name") == wanted:
            return it
    if len(items) == 1:
        return items[0]
    raise load_error(kind, f"simple_switch needs one named {wanted!r}")


class Program:
    def __init__(self, j: dict, clock: Callable[[], float] = time.monotonic) -> None:
        with loading():
            self._load(j, clock)

    def _load(self, j: dict, clock: Callable[[], float]) -> None:
        if not isinstance(j, dict):
            raise load_error("root", "the program must be a JSON object")
        meta = j.get("__meta__") or {}
        version = meta.get("version")
        if isinstance(version, list) and version and version[0] != 2:
            raise load_error("__meta__", f"unsupported BMv2 JSON version {version!r}")
        for key in ("headers", "header_types", "parsers", "deparsers", "pipelines", "actions"):
            if not isinstance(j.get(key, []), list):
                raise load_error(key, "must be a list")
        self.json = j
        self.layout = layout = Layout(j)
        self.unit = unit = CodeUnit()
        install(unit)
        self.externs = Externs(j)
        exprs = ExpressionCompiler(layout, unit, self.externs)
        self.calcs = Calculations(j, layout, unit)
        self.intr = Intrinsics.find(layout)
        cx = BuildContext(
            layout, unit, exprs, self.externs, self.calcs, HeaderOps(layout), self.intr, clock
        )
        for fl in j.get("field_lists") or []:
            at(f"field_list {fl.get('name')!r}")
            cx.field_lists[fl.get("id")] = _field_list(layout, fl, "field_list")[1]
        for ll in j.get("learn_lists") or []:
            at(f"learn_list {ll.get('name')!r}")
            cx.learn_lists[ll.get("id")] = _field_list(layout, ll, "learn_list")
        self.cx = cx
        self.actions: dict[int, Action] = build_actions(cx, j)
        self.checksums = Checksums(j, layout, unit, exprs, self.calcs)
        self.vsets: dict[str, ParseValueSet] = {}
        for vs in j.get("parse_vsets") or []:
            at("parse_vsets")
            width = vs.get("compressed_bitwidth")
            if not isinstance(vs.get("name"), str) or not isinstance(width, int):
                raise load_error("parse_vsets", f"bad value set {vs!r}")
            self.vsets[vs["name"]] = ParseValueSet(vs["name"], width)
        parsers = j.get("parsers") or []
        if not parsers:
            raise load_error("parsers", "the program has no parser")
        self.parse = ParserBuilder(cx, self.vsets).build(_by_name(parsers, "parser", "parsers"))
        deparsers = j.get("deparsers") or []
        if not deparsers:
            raise load_error("deparsers", "the program has no deparser")
        self.deparse = build_deparser(
            cx,
            _by_name(deparsers, "deparser", "deparsers"),
            self.checksums.update if self.checksums.has_update else None,
        )
        self.profiles: dict[str, ActionProfile] = {}
        self.tables: dict[str, Table] = {}
        at("pipelines")
        pipes = j.get("pipelines") or []
        for pj in pipes:
            for ap in pj.get("action_profiles") or []:
                name = ap.get("name")
                at(f"action profile {name!r}")
                sel = ap.get("selector")
                selector = None
                if sel is not None:
                    selector = build_input(
                        layout, unit, sel.get("input"), sel.get("algo"), f"action profile {name!r}"
                    )
                self.profiles[name] = ActionProfile(name, int(ap.get("max_size", 1024)), selector)
        for pj in pipes:
            for tj in pj.get("tables") or []:
                if tj.get("name") in self.tables:
                    raise load_error(f"table {tj.get('name')!r}", "defined twice")
                self.tables[tj["name"]] = Table(
                    cx, tj, self.actions, self.profiles, self.externs.counters, self.externs.meters
                )
        named = {p.get("name"): p for p in pipes}
        for wanted in ("ingress", "egress"):
            if wanted not in named:
                raise load_error("pipelines", f"simple_switch needs a pipeline named {wanted!r}")
        self.ingress = Pipeline(cx, named["ingress"], self.actions, self.tables)
        self.egress = Pipeline(cx, named["egress"], self.actions, self.tables)
        for t in self.tables.values():
            t.load_static_entries()
        for pipe in (self.ingress, self.egress):
            at(f"pipeline {pipe.name!r}")
            pipe.compile()
        self.blank_F, self.blank_V = layout.initial_state()
        self.blank_N = [0] * layout.nstacks

    def new_state(self) -> tuple[list[int], list[int], list[int]]:
        """F, V, N of a fresh packet (copies of templates made once)."""
        return self.blank_F[:], self.blank_V[:], self.blank_N[:]
