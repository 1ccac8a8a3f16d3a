"""lbctl top's frames: rates from two samples, drawn without a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from controller.lbctl_top import Sample, render, run


def answers(packets: int, flows_learned: int, drops: int) -> tuple[dict, list[dict]]:
    lb = {"vips": 1, "ases": 2, "tracked_flows": 4, "flows_learned": flows_learned,
          "flows_aged": 0, "install_failures": 0,
          "drops": {"no route": {"packets": drops, "bytes": 60 * drops}},
          "switches": [{"switch": "s1", "connected": True, "primary": True}],
          "health": [{"vip": {"prefix": "10.0.0.1/32", "protocol": None, "port": 0},
                      "ases": [{"address": "10.1.0.1", "state": "down"}]}]}
    counter = {"packets": packets, "bytes": 100 * packets}
    zero = {"packets": 0, "bytes": 0}
    vips = [{"prefix": "10.0.0.1/32", "protocol": None, "port": 0, "encap": "gre4",
             "state": "used", "new_len": 16, "flows": 4,
             "counters": {"existing_session": counter, "first_session": zero,
                          "untracked": zero, "no_server": zero},
             "ases": [{"address": "10.1.0.1", "state": "used", "buckets": 0, "flows": 1,
                       "counters": zero},
                      {"address": "10.1.0.2", "state": "used", "buckets": 16, "flows": 3,
                       "counters": counter}]}]
    return lb, vips


def text(group) -> list[str]:
    console = Console(file=io.StringIO(), width=200)
    console.print(group)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def test_rates_are_the_differences_over_the_seconds_between_samples() -> None:
    before = Sample(10.0, *answers(packets=100, flows_learned=10, drops=1))
    after = Sample(12.0, *answers(packets=300, flows_learned=30, drops=5))
    lines = text(render(before, after))
    assert lines[0].startswith("p4lb: 1 VIPs, 2 ASs, 4 tracked flows; learned 10.0/s")
    assert lines[1] == "switches: s1 connected primary"
    assert lines[2] == "drops: no route 5 (2.0/s)"
    vip, down, up = (line.split() for line in lines[4:7])
    assert vip == ["10.0.0.1/32", "(gre4)", "used", "16", "4", "100.0", "10000.0", "300",
                   "30000"]
    assert down == ["10.1.0.1", "used", "0", "1", "0.0", "0.0", "0", "0", "down"]
    assert up == ["10.1.0.2", "used", "16", "3", "100.0", "10000.0", "300", "30000", "-"]


def test_first_frame_has_no_rates() -> None:
    lines = text(render(None, Sample(1.0, *answers(5, 1, 0))))
    assert "learned -/s" in lines[0] and lines[2] == "drops: none"
    assert lines[4].split()[5:7] == ["-", "-"]


def test_count_prints_that_many_frames() -> None:
    calls = []

    def query(line: str) -> dict:
        calls.append(line)
        lb, vips = answers(len(calls), 0, 0)
        return lb if line == "show lb" else {"vips": vips}

    out = io.StringIO()
    assert run(query, ["--count", "2", "--interval", "0.01"], Console(file=out, width=200)) == 0
    assert out.getvalue().count("p4lb: ") == 2
    assert calls == ["show lb", "show lb vips verbose"] * 2
