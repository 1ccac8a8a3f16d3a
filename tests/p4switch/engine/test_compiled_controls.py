"""The structured pipeline functions (controls.Pipeline.compile) behave exactly
like walking the control graph node by node, on every compiled program."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw, raw

from p4switch.engine import EmbeddedSwitch

from .compiled import BUILD

ROOT = Path(__file__).resolve().parents[3]
PROGRAMS = sorted(p for p in BUILD.glob("*.json") if p.name != "programs.stamp.json")
PROGRAMS.append(ROOT / "p4src" / "build" / "lb.json")


def frames() -> list[bytes]:
    rnd = random.Random(7)
    out = [
        raw(Ether() / IP(dst="10.0.0.2") / TCP(sport=1, dport=80) / Raw(b"abc")),
        raw(Ether() / IP(dst="10.0.0.100", ttl=1) / UDP(sport=9, dport=53)),
        raw(Ether() / Dot1Q(vlan=3) / IP() / TCP()),
        raw(Ether(type=0x88B5) / Raw(bytes(range(40)))),
        raw(Ether(type=0x86DD) / Raw(b"\x60" + b"\x00" * 60)),
    ]
    for f in list(out):
        for _ in range(4):
            b = bytearray(f)
            b[rnd.randrange(len(b))] = rnd.randrange(256)
            out.append(bytes(b[: rnd.randrange(len(b) + 1)]))
    return out


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_structured_pipeline_equals_node_walk(path):
    if not path.exists():
        pytest.skip(f"{path.name} not built")
    program = json.loads(path.read_text())
    compiled = EmbeddedSwitch(program, None, ageing_thread=False)
    walked = EmbeddedSwitch(program, None, ageing_thread=False)
    for pipe in (walked.program.ingress, walked.program.egress):
        pipe.run = pipe.apply
    walked.switching._ingress_run = walked.program.ingress.run
    walked.switching._egress_run = walked.program.egress.run
    assert compiled.program.ingress.run != compiled.program.ingress.apply
    for i, f in enumerate(frames()):
        for port in (1, 2, 3):
            random.seed(i)  # eng_checksum.p4 calls random()
            got = compiled.process_packet(port, f)
            random.seed(i)
            assert got == walked.process_packet(port, f)
    assert compiled.stats() == walked.stats()
    compiled.close()
    walked.close()
