"""Memory the controller spends per tracked flow: FlowLearner records, RSS delta.

Run in a child process of its own (``python -m bench.controller_memory N``), so
the bench's own heap does not blur the figure. The flows go in through
``FlowLearner.install`` in chunks, as learned flows do (the learner has no
switch attached, so nothing is written); the flow keys are made after the
first RSS reading and kept only by the learner, so they count. Prints one
JSON object. RSS includes allocator slack, so this is an upper bound.

Each install also encodes the P4Runtime updates it would write.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

from bench.switch_pair import rss_bytes
from controller.flow_learner import FlowKey, FlowLearner
from controller.p4_schema import P4Schema
from tests.integration.lb_fixture import lb_p4info

CHUNK = 10_000


def flow_key(i: int) -> FlowKey:
    """Distinct IPv4 TCP flows spread over 100 VIPs."""
    return FlowKey(4, 1 + i % 100, 0x0A090000 + i, 0x0A000001 + i % 100, 6,
                   10000 + i % 50000, 80)


def measure(count: int) -> dict:
    schema = P4Schema(lb_p4info())
    # A first install fills the schema's lookup caches; it is not what we measure.
    FlowLearner(schema, lambda: 40, lambda _vip, _as: True).install({flow_key(0): 1})
    learner = FlowLearner(schema, lambda: 40, lambda _vip, _as: True)
    gc.collect()
    pid = os.getpid()
    before = rss_bytes(pid)
    start = time.perf_counter()
    for first in range(0, count, CHUNK):
        chunk = range(first, min(first + CHUNK, count))
        learner.install({flow_key(i): 1 + i % 1000 for i in chunk})
    seconds = time.perf_counter() - start
    gc.collect()
    after = rss_bytes(pid)
    if len(learner) != count:
        raise RuntimeError(f"learner holds {len(learner)} flows, expected {count}")
    return {"flows": count, "rss_delta": after - before, "bytes_per_flow": (after - before) / count,
            "install_s": seconds}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit() or int(argv[0]) <= 0:
        print("usage: python -m bench.controller_memory FLOWS (a positive integer)",
              file=sys.stderr)
        return 2
    print(json.dumps(measure(int(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
