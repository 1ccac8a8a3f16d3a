"""Packets per second of the engine on any program (``make bench`` builds on this).

    python -m p4switch.engine.bench PROGRAM.json --setup pkg.module:function \\
        --frames pkg.module:function [--seconds 3] [--profile]

``--setup`` names a function ``f(switch)`` that installs the entries the traffic
needs; ``--frames`` a function returning a list of ``(ingress_port, bytes)``
sent round-robin. The rate is measured on the calling thread, one packet at a
time through ``process_packet`` (as the daemon's packet loop does), over wall
time and over this process's CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import pstats
import time
from collections.abc import Callable

from .switch import EmbeddedSwitch


def _function(spec: str) -> Callable:
    module, _, name = spec.partition(":")
    if not name:
        raise SystemExit(f"{spec!r}: expected module:function")
    return getattr(importlib.import_module(module), name)


def measure(
    sw: EmbeddedSwitch, frames: list[tuple[int, bytes]], seconds: float
) -> tuple[float, float, int]:
    """(packets/s wall, packets/s CPU, packets sent) of process_packet."""
    if not frames:
        raise SystemExit("no frames to send")
    sent = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    deadline = wall0 + seconds
    batch = frames * max(1, 256 // len(frames))
    while time.perf_counter() < deadline:
        for port, frame in batch:
            sw.process_packet(port, frame)
        sent += len(batch)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return sent / wall, sent / max(cpu, 1e-9), sent


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("program", help="BMv2 JSON")
    ap.add_argument("--setup", help="module:function(switch) installing entries")
    ap.add_argument("--frames", required=True, help="module:function() -> [(port, bytes)]")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--profile", action="store_true", help="print where the time goes")
    args = ap.parse_args(argv)
    with open(args.program) as f:
        sw = EmbeddedSwitch(json.load(f), None, ageing_thread=False)
    if args.setup:
        _function(args.setup)(sw)
    frames = _function(args.frames)()
    measure(sw, frames, 0.3)  # warm up
    wall, cpu, sent = measure(sw, frames, args.seconds)
    print(f"embedded switch: {wall:,.0f} packets/s ({cpu:,.0f}/s of CPU), {sent} packets")
    print(f"counters: {sw.stats()}")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        measure(sw, frames, min(args.seconds, 2.0))
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(20)
        print(out.getvalue())
    sw.close()


if __name__ == "__main__":
    main()
