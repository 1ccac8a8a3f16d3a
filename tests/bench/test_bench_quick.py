"""`python -m bench.run --quick` runs every figure and writes what it promises.

Nothing here asserts a time or a rate: only that every figure was measured,
against a baseline, and that the outputs (table, JSON, chart, comparison) exist.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_results import BenchRun, Row
from tests.integration.lb_fixture import LB_JSON

ROOT = Path(__file__).resolve().parents[2]

# Every figure of issue 7, by the start of its rows' case names.
EXPECTED_CASES = {
    "dataplane": ["64 B frames, established flows", "64 B frames, new flows",
                  "1400 B frames, established flows", "1400 B frames, new flows"],
    "maglev": ["build, new_len 1024", "build, new_len 65536", "max/mean load",
               "removal: table moved / ideal", "removal: surviving ASs' buckets moved",
               "addition: table moved / ideal", "addition: surviving ASs' buckets moved"],
    "programming": ["batched vs one per request", "lb as del -> last bucket written"],
    "flows": ["learned/s", "aged/s", "switch memory per flow", "controller memory per flow"],
}


def run_bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not LB_JSON.exists(), reason="p4src/build/lb.json not built yet")
def test_quick_run_measures_every_figure(tmp_path) -> None:
    old = BenchRun(meta={"mode": "quick", "finished": "earlier"})
    old.add(Row("flows", "a row this run does not have", "flows/s", 1.0, 1.0, "x"))
    (tmp_path / "old.json").write_text(old.to_json())
    out, chart = tmp_path / "results.json", tmp_path / "maglev.png"

    done = run_bench("--quick", "--out", str(out), "--chart", str(chart),
                     "--compare", str(tmp_path / "old.json"))

    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["meta"]["mode"] == "quick" and doc["meta"]["errors"] == {}
    for figure, cases in EXPECTED_CASES.items():
        rows = [r for r in doc["rows"] if r["figure"] == figure]
        for case in cases:
            assert any(r["case"].startswith(case) for r in rows), f"{figure}: no {case!r}"
    for r in doc["rows"]:
        assert r["value"] is not None, r
        assert r["baseline_name"], r
        if r["baseline"]:
            assert r["ratio"] == pytest.approx(r["value"] / r["baseline"])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for figure in EXPECTED_CASES:
        assert f"== {figure} ==" in done.stdout
    assert "compared with the run of earlier" in done.stdout and "(gone)" in done.stdout


def test_compare_with_a_file_that_is_not_results_is_refused(tmp_path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text("[1, 2]")
    done = run_bench("--compare", str(bad), timeout=60)
    assert done.returncode == 2
    assert "notes.json" in done.stderr and "not a bench results file" in done.stderr


def test_unknown_options_are_refused() -> None:
    done = run_bench("--quick", "--fast", timeout=60)
    assert done.returncode == 2 and "unrecognized arguments: --fast" in done.stderr
