"""``lbctl top``: the load balancer's figures live, refreshed every second.

    lbctl top [--interval S] [--count N]

Each refresh asks the controller for ``show lb`` and ``show lb vips
verbose`` as data (the figures the Prometheus metrics carry) and shows,
per VIP and per AS, packets and bytes per second since the last refresh,
their totals, buckets, tracked flows, state and health; above them the
flows learned and aged per second, drops per second by reason, and the
switches. On a terminal it redraws in place until Ctrl-C; with ``--count``
(or when stdout is not a terminal) it prints that many frames, one per
interval, and ends.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from controller.metrics import vip_labels


@dataclass(frozen=True)
class Sample:
    """One refresh's answers and when they were taken (monotonic seconds)."""

    at: float
    lb: dict[str, Any]
    vips: list[dict[str, Any]]


def take_sample(query: Callable[[str], dict[str, Any]]) -> Sample:
    lb = query("show lb")
    vips = query("show lb vips verbose")["vips"]
    return Sample(time.monotonic(), lb, vips)


def _vip_key(vip: dict[str, Any]) -> tuple[str, ...]:
    return tuple(vip_labels(vip))


def _vip_total(vip: dict[str, Any]) -> tuple[int, int]:
    counters = vip.get("counters") or {}
    return (sum(c["packets"] for c in counters.values()),
            sum(c["bytes"] for c in counters.values()))


def _as_total(a: dict[str, Any]) -> tuple[int, int]:
    c = a.get("counters") or {"packets": 0, "bytes": 0}
    return c["packets"], c["bytes"]


def _rate(now: int, before: int | None, seconds: float) -> str:
    if before is None or seconds <= 0:
        return "-"
    return f"{max(now - before, 0) / seconds:.1f}"


def _health_by_as(lb: dict[str, Any]) -> dict[tuple[tuple[str, ...], str], str]:
    out = {}
    for check in lb.get("health", []):
        for a in check["ases"]:
            out[(_vip_key(check["vip"]), a["address"])] = a["state"]
    return out


def render(previous: Sample | None, current: Sample) -> Group:
    """One frame: a summary line, drops, and the VIP/AS table with rates."""
    seconds = current.at - previous.at if previous else 0.0
    lb = current.lb
    before_lb = previous.lb if previous else None
    learned = _rate(lb["flows_learned"], before_lb and before_lb["flows_learned"], seconds)
    aged = _rate(lb["flows_aged"], before_lb and before_lb["flows_aged"], seconds)
    summary = Text(
        f"p4lb: {lb['vips']} VIPs, {lb['ases']} ASs, {lb['tracked_flows']} tracked flows; "
        f"learned {learned}/s, aged {aged}/s, install failures {lb['install_failures']}"
    )
    switches = Text("switches: " + (", ".join(
        f"{s['switch']} {'connected' if s['connected'] else 'connecting'}"
        + (" primary" if s["primary"] else "")
        for s in lb["switches"]) or "none"))  # fmt: skip
    drops = []
    for reason, value in lb["drops"].items():
        old = before_lb["drops"].get(reason) if before_lb else None
        if value["packets"]:
            drops.append(f"{reason} {value['packets']} "
                         f"({_rate(value['packets'], old and old['packets'], seconds)}/s)")
    drop_line = Text("drops: " + (", ".join(drops) or "none"))

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("VIP / AS", "state", "buckets", "flows", "pkt/s", "bytes/s", "packets",
                   "bytes", "health"):
        table.add_column(column, justify="left" if column in ("VIP / AS", "state", "health")
                         else "right")
    old_vips = {_vip_key(v): v for v in previous.vips} if previous else {}
    health = _health_by_as(lb)
    for vip in current.vips:
        key = _vip_key(vip)
        old = old_vips.get(key)
        pkts, octets = _vip_total(vip)
        old_pkts, old_octets = _vip_total(old) if old else (None, None)
        name = vip["prefix"] + ("" if vip["protocol"] is None
                                else f" {vip['protocol']}/{vip['port']}") + f" ({vip['encap']})"
        table.add_row(Text(name, style="bold"), vip["state"], str(vip["new_len"]),
                      str(vip["flows"]), _rate(pkts, old_pkts, seconds),
                      _rate(octets, old_octets, seconds), str(pkts), str(octets), "")
        old_ases = {a["address"]: a for a in old["ases"]} if old else {}
        for a in vip["ases"]:
            ap, ab = _as_total(a)
            before = old_ases.get(a["address"])
            bp, bb = _as_total(before) if before else (None, None)
            table.add_row(f"  {a['address']}", a["state"], str(a["buckets"]), str(a["flows"]),
                          _rate(ap, bp, seconds), _rate(ab, bb, seconds), str(ap), str(ab),
                          health.get((key, a["address"]), "-"))
    return Group(summary, switches, drop_line, table)


def run(query: Callable[[str], dict[str, Any]], argv: list[str],
        console: Console | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lbctl top", description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    parser.add_argument("--count", type=int, help="print this many frames, then end")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be positive")
    if console is None:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: one line per row, never wrapped
            console = Console(width=200)
    previous: Sample | None = None
    if args.count is not None or not console.is_terminal:
        for n in range(args.count if args.count is not None else 1 << 62):
            if n:
                time.sleep(args.interval)
            current = take_sample(query)
            console.print(render(previous, current))
            console.print()
            previous = current
        return 0
    try:
        with Live(console=console, auto_refresh=False, screen=False) as live:
            while True:
                current = take_sample(query)
                live.update(render(previous, current), refresh=True)
                previous = current
                time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
