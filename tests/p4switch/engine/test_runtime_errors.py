"""Bad runtime calls: any method of the runtime API, given bad names, handles,
widths or types, raises RuntimeApiError (never another exception), and the
switch keeps forwarding (a seeded random-call fuzz)."""

from __future__ import annotations

import inspect
import random

import pytest

from p4switch.runtime_api import (
    ActionCall,
    MatchKeyParam,
    MatchKind,
    MeterRate,
    RuntimeApiError,
)

from .compiled import switch

VALUES = [None, -1, 0, 1, 2**70, "x", 3.5, [], {}, (1, 2), True, b"ab"]
KEYS = [
    [],
    None,
    ["junk"],
    [MatchKeyParam(MatchKind.EXACT, 1)],
    [MatchKeyParam(MatchKind.EXACT, 1), MatchKeyParam(MatchKind.EXACT, 6)],
    [MatchKeyParam(MatchKind.LPM, 5, prefix_len=40)],
    [MatchKeyParam(MatchKind.TERNARY, 1, mask=None), MatchKeyParam(MatchKind.TERNARY, 2, mask=3)],
    [MatchKeyParam(MatchKind.RANGE, 5, high=None), MatchKeyParam(MatchKind.EXACT, 6)],
]
RATES = [[MeterRate(1.0, 10), MeterRate(2.0, 20)], [], None, [MeterRate(-1, 5)], ["x"]]
REPLICAS = [[], [(1, 2)], [(1,)], None, [("a", 1)]]


def actions(sw) -> list:
    names = sorted({a.name for a in sw.program.actions.values()})
    out = [None, ActionCall(5, None), ActionCall("nope")]
    for n in names:
        out += [
            ActionCall(n, []),
            ActionCall(n, [1]),
            ActionCall(n, [2**40, 1]),
            ActionCall(n, ["x"]),
        ]
    return out


@pytest.mark.parametrize("program", ["eng_tables", "eng_stateful", "eng_replication"])
def test_bad_calls_raise_runtime_api_errors_only(program):
    sw = switch(program, ageing_thread=False)
    ext = sw.program.externs
    names = sw.table_names() + list(sw.program.profiles) + list(ext.counters) + list(ext.meters)
    names += list(ext.registers) + ["nope", None, 5]
    acts = actions(sw)
    methods = [
        m for m in dir(sw)
        if m.startswith(("mt_", "read_", "write_", "reset_", "meter_", "register_", "counter_",
                         "mc_", "mirroring_", "parse_vset", "table_"))
    ]  # fmt: skip
    rnd = random.Random(program)
    for i in range(1500):
        fn = getattr(sw, rnd.choice(methods))
        args = []
        for p in inspect.signature(fn).parameters.values():
            if p.name in ("table", "act_prof", "counter", "meter", "register", "name"):
                args.append(rnd.choice(names))
            else:
                pool = {"key": KEYS, "action": acts, "rates": RATES, "replicas": REPLICAS}
                args.append(rnd.choice(pool.get(p.name, VALUES)))
        try:
            fn(*args)
        except RuntimeApiError:
            pass
        if i % 50 == 0:
            sw.process_packet(rnd.choice([1, 2, 3, 7, 8]), bytes(range(60)))
    assert sw.stats()["faults"] == 0
    sw.close()
