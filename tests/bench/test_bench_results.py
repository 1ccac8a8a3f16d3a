"""Results files: written, read back, compared, and refused when they are not ours."""

from __future__ import annotations

import json

import pytest

from bench.bench_results import (
    BenchRun,
    ResultsFileError,
    Row,
    load_rows,
    render_comparison,
    render_table,
)


def sample_run(value: float) -> BenchRun:
    run = BenchRun(meta={"mode": "quick", "finished": "then"})
    run.add(Row("dataplane", "64 B frames, new flows", "packets/s", value, 2 * value, "BMv2"))
    run.add(Row("maglev", "build", "ms", 3.0, None, "VPP", higher_is_better=False))
    return run


def test_round_trip_and_ratio(tmp_path) -> None:
    path = tmp_path / "results.json"
    path.write_text(sample_run(1000.0).to_json())
    meta, rows = load_rows(path)
    assert meta["mode"] == "quick"
    row = rows["dataplane: 64 B frames, new flows"]
    assert row.value == 1000.0 and row.ratio == 0.5
    assert rows["maglev: build"].ratio is None
    assert json.loads(path.read_text())["rows"][0]["ratio"] == 0.5


def test_table_shows_values_ratio_and_shared_baseline() -> None:
    table = render_table(sample_run(1000.0))
    assert "== dataplane ==  (baseline: BMv2)" in table
    assert "1,000" in table and "2,000" in table and "0.50x" in table
    assert "lower is better" in table


def test_comparison_lists_old_new_and_rows_one_side_lacks(tmp_path) -> None:
    old = sample_run(1000.0)
    old.add(Row("flows", "gone row", "flows/s", 1.0, 1.0, "x"))
    path = tmp_path / "old.json"
    path.write_text(old.to_json())
    new = sample_run(1500.0)
    new.add(Row("flows", "new row", "flows/s", 1.0, 1.0, "x"))
    text = render_comparison(*load_rows(path), new)
    line = next(t for t in text.splitlines() if "64 B frames" in t)
    assert "1,000" in line and "1,500" in line and "1.50x" in line
    assert "(gone)" in text and "(new)" in text


@pytest.mark.parametrize("content,message", [
    ("{not json", "not JSON"),
    ('{"schema": 99, "rows": []}', "not a bench results file"),
    ('{"schema": 1, "rows": [{"figure": "x"}]}', "rows\\[0\\]"),
])
def test_bad_results_files_are_refused_by_name(tmp_path, content, message) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultsFileError, match=message) as info:
        load_rows(path)
    assert "bad.json" in str(info.value)


def test_missing_results_file_is_refused(tmp_path) -> None:
    with pytest.raises(ResultsFileError, match="cannot read"):
        load_rows(tmp_path / "nope.json")
