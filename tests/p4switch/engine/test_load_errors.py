"""Malformed programs: every broken JSON element gives a ValueError naming it,
never another exception (a seeded mutation fuzz over our fixture programs)."""

from __future__ import annotations

import copy
import random

import pytest

from p4switch.engine import load_switch

from .test_forwarding import router_program
from .test_stateful import stateful_program, tcp_checksum_program

JUNK = [None, 0, -1, 1 << 70, "x", "0xzz", [], {}, True, 3.5, [1, 2],
        {"type": "field", "value": ["nope", "x"]}]  # fmt: skip


def _paths(x, p=()):
    yield p
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, (*p, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _paths(v, (*p, i))


def mutate(prog: dict, rnd: random.Random) -> dict:
    prog = copy.deepcopy(prog)
    path = rnd.choice([p for p in _paths(prog) if p])
    parent = prog
    for k in path[:-1]:
        parent = parent[k]
    if rnd.random() < 0.4:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rnd.choice(JUNK)
    return prog


@pytest.mark.parametrize("seed", range(4))
def test_mutated_programs_fail_with_named_value_errors(seed):
    rnd = random.Random(seed)
    programs = [router_program(), stateful_program(), tcp_checksum_program()]
    for _ in range(150):
        prog = mutate(rnd.choice(programs), rnd)
        try:
            sw = load_switch(prog, None)
        except ValueError as e:
            assert str(e).startswith("BMv2 JSON ")
            continue
        sw.process_packet(1, bytes(range(64)))  # a loaded program must not raise either
        sw.close()


def test_examples_of_named_errors():
    p = router_program()
    p["headers"][3]["header_type"] = "nope_t"
    with pytest.raises(ValueError, match="header 'ipv4': unknown header_type 'nope_t'"):
        load_switch(p, None)
    p = router_program()
    p["pipelines"][0]["tables"][0]["key"] = [{"match_type": "lpm", "target": 7, "mask": None}]
    with pytest.raises(ValueError, match="table 'MyIngress.routes'"):
        load_switch(p, None)
    p = router_program()
    p["parsers"][0]["parse_states"][0]["transitions"][0]["next_state"] = "nowhere"
    with pytest.raises(ValueError, match="state 'start'.*'nowhere'"):
        load_switch(p, None)
