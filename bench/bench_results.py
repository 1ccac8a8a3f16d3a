"""What a bench run found, and how it is shown: the table, the JSON, the comparison.

Every measurement is a :class:`Row`: our figure, the baseline it was measured
against in the same run, and their ratio. Rows are keyed by (figure, case),
so a later run can be set beside an earlier one (``--compare``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1


@dataclass
class Row:
    figure: str  # dataplane | maglev | programming | flows
    case: str  # what was measured, e.g. "64 B, established flows"
    unit: str  # unit of value and baseline
    value: float | None  # ours
    baseline: float | None  # the side-by-side baseline, same unit
    baseline_name: str  # what the baseline is, e.g. "BMv2 simple_switch_grpc"
    higher_is_better: bool = True
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.figure}: {self.case}"

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class BenchRun:
    meta: dict = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # raw figures for the chart and for readers

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def to_json(self) -> str:
        rows = [dict(asdict(r), ratio=r.ratio) for r in self.rows]
        return json.dumps(
            {"schema": SCHEMA_VERSION, "meta": self.meta, "rows": rows, "details": self.details},
            indent=1, sort_keys=False,
        )  # fmt: skip


class ResultsFileError(ValueError):
    """A results file that cannot be compared with (names the file and the problem)."""


def load_rows(path: Path) -> tuple[dict, dict[str, Row]]:
    """(meta, rows by key) of a results.json written by an earlier run."""
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise ResultsFileError(f"{path}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise ResultsFileError(f"{path}: not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION:
        raise ResultsFileError(f"{path}: not a bench results file (schema {SCHEMA_VERSION})")
    rows: dict[str, Row] = {}
    for i, raw in enumerate(doc.get("rows", [])):
        try:
            raw = {k: v for k, v in raw.items() if k != "ratio"}
            row = Row(**raw)
        except TypeError as e:
            raise ResultsFileError(f"{path}: rows[{i}]: {e}") from None
        rows[row.key] = row
    return doc.get("meta", {}), rows


def format_number(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 1:
        return f"{x:.2f}"
    if ax >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2e}"


def format_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def _table(headers: list[str], lines: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(headers)]
    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    out = [fmt(headers), fmt(["-" * w for w in widths])]
    out += [fmt(line) for line in lines]
    return "\n".join(out)


def render_table(run: BenchRun) -> str:
    """Per figure: the baseline (once, when all its rows share one), then one line per row."""
    out = []
    for figure in dict.fromkeys(r.figure for r in run.rows):
        rows = [r for r in run.rows if r.figure == figure]
        names = {r.baseline_name for r in rows if r.baseline is not None}
        shared = names.pop() if len(names) == 1 else None
        lines = []
        for r in rows:
            notes = [] if shared and r.baseline_name == shared else [f"vs {r.baseline_name}"]
            notes += [r.note] if r.note else []
            unit = r.unit + ("" if r.higher_is_better else ", lower is better")
            lines.append([r.case, format_number(r.value), format_number(r.baseline),
                          format_ratio(r.ratio), unit, "; ".join(notes)])
        out.append(f"== {figure} ==" + (f"  (baseline: {shared})" if shared else ""))
        out.append(_table(["case", "ours", "baseline", "ratio", "unit", "notes"], lines,
                          right={1, 2, 3}))
        out.append("")
    return "\n".join(out)


def render_comparison(old_meta: dict, old: dict[str, Row], run: BenchRun) -> str:
    """Old against new, row by row: values and ratios, and rows only one run has."""
    lines = []
    new_keys = {r.key for r in run.rows}
    for r in run.rows:
        o = old.get(r.key)
        change = None
        if o is not None and o.value not in (None, 0) and r.value is not None:
            change = r.value / o.value
        lines.append([
            r.key,
            format_number(o.value) if o else "(new)",
            format_number(r.value),
            format_ratio(change),
            format_ratio(o.ratio) if o else "-",
            format_ratio(r.ratio),
            r.unit,
        ])
    for key, o in old.items():
        if key not in new_keys:
            lines.append([key, format_number(o.value), "(gone)", "-", format_ratio(o.ratio), "-",
                          o.unit])
    head = (f"compared with the run of {old_meta.get('finished', '?')} "
            f"({old_meta.get('mode', '?')} mode) against this one "
            f"({run.meta.get('mode', '?')} mode)")
    return head + "\n" + _table(
        ["figure: case", "old", "new", "new/old", "old ratio", "new ratio", "unit"], lines,
        right={1, 2, 3, 4, 5},
    )
