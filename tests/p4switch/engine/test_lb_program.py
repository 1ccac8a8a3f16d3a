"""The load balancer's data plane (p4src/build/lb.json) runs on the engine: a TCP
packet to a VIP leaves GRE-encapsulated towards its AS, with a digest for the
new flow, through the runtime API alone (the P4Runtime path is tested elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scapy.layers.inet import GRE, IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from p4switch.engine import EmbeddedSwitch
from p4switch.runtime_api import ActionCall, MatchKeyParam, MatchKind, RuntimeApiError

from .compiled import action, names

LB_JSON = Path(__file__).resolve().parents[3] / "p4src" / "build" / "lb.json"


def ip(a: str) -> int:
    return int.from_bytes(bytes(int(x) for x in a.split(".")), "big")


@pytest.fixture
def lb():
    if not LB_JSON.exists():
        pytest.skip("p4src/build/lb.json not built yet")
    sw = EmbeddedSwitch(json.loads(LB_JSON.read_text()), None, ageing_thread=False)
    yield sw
    sw.close()


def add(sw: EmbeddedSwitch, table: str, key: list[MatchKeyParam], act: str, args: list[int]):
    t = names(sw, table)
    return sw.mt_add_entry(t, key, ActionCall(action(sw, t, act), args))


def exact(v: int) -> MatchKeyParam:
    return MatchKeyParam(MatchKind.EXACT, v)


def test_vip_packet_is_gre_encapsulated_to_its_as(lb):
    add(lb, "vip4", [MatchKeyParam(MatchKind.LPM, ip("10.0.0.100"), prefix_len=32)],
        "set_vip", [1, 0, 0, 0])  # fmt: skip
    add(lb, "maglev", [exact(1), exact(0)], "use_bucket_as", [7])
    add(lb, "as_encap", [exact(7)], "encap_gre4", [ip("192.0.2.1"), ip("10.1.0.7")])
    add(lb, "route4", [MatchKeyParam(MatchKind.LPM, ip("10.1.0.0"), prefix_len=16)],
        "set_next_hop", [2, 0x020000000001, 0x020000000002])  # fmt: skip
    digests = []
    lb.on_digest = digests.append
    inner = IP(src="198.51.100.9", dst="10.0.0.100", ttl=64) / TCP(sport=4321, dport=80) / Raw(b"x")
    out = lb.process_packet(1, raw(Ether(dst="02:00:00:00:00:aa") / inner))
    assert [p for p, _ in out] == [2], lb.stats()
    got = Ether(out[0][1])
    outer = got[IP]
    assert (outer.src, outer.dst, outer.ttl, outer.proto) == ("192.0.2.1", "10.1.0.7", 128, 47)
    ref = outer.copy()
    ref.chksum = None
    assert outer.chksum == IP(raw(ref)).chksum
    assert got[GRE].proto == 0x0800
    assert raw(got[GRE].payload) == raw(inner)
    assert got.dst == "02:00:00:00:00:02"
    assert len(digests) == 1


def test_remembered_action_checks_still_refuse_bools_and_floats(lb):
    """A call checked once is remembered; True and 1.0 hash as 1 does, and must
    still be refused as action data (as on the first call)."""
    maglev = names(lb, "maglev")
    use = action(lb, maglev, "use_bucket_as")
    first = lb.mt_add_exact_entry(maglev, (1, 0), ActionCall(use, [1]))
    for bad in ([True], [1.0]):
        with pytest.raises(RuntimeApiError):
            lb.mt_add_exact_entry(maglev, (1, 1), ActionCall(use, bad))
        with pytest.raises(RuntimeApiError):
            lb.mt_modify_exact_entry(maglev, (1, 0), ActionCall(use, bad))
    assert lb.mt_modify_exact_entry(maglev, (1, 0), ActionCall(use, [2])) == first
    assert lb.mt_modify_exact_entry(maglev, (1, 9), ActionCall(use, [2])) is None
    assert lb.mt_delete_exact_entry(maglev, (1, 0)) == first
    assert lb.mt_delete_exact_entry(maglev, (1, 0)) is None
