"""Differential tests: the engine and BMv2's simple_switch, given the same entries
and frames on the same compiled programs, emit the same bytes on the same ports.

Runs where BMv2 is installed (``simple_switch`` and ``simple_switch_CLI``).
Fields a program leaves undefined are masked: random(), and reads of invalid
headers (BMv2 returns the stale value of an earlier packet, the engine 0).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw, raw

from p4switch.runtime_api import MatchKeyParam, MatchKind

from .bmv2_harness import Bmv2, Op, apply_to_engine, available, cli_lines, compare
from .compiled import BUILD, switch

pytest.importorskip("pynng")
pytestmark = pytest.mark.skipif(not available(), reason="BMv2 simple_switch not installed")

LB_JSON = Path(__file__).resolve().parents[3] / "p4src" / "build" / "lb.json"


def ip(a: str) -> int:
    return int.from_bytes(bytes(int(x) for x in a.split(".")), "big")


def E(v: int) -> MatchKeyParam:  # noqa: N802 - reads like the match kind
    return MatchKeyParam(MatchKind.EXACT, v)


def LPM(v: int, n: int) -> MatchKeyParam:  # noqa: N802
    return MatchKeyParam(MatchKind.LPM, v, prefix_len=n)


def T(v: int, m: int) -> MatchKeyParam:  # noqa: N802
    return MatchKeyParam(MatchKind.TERNARY, v, mask=m)


def R(lo: int, hi: int) -> MatchKeyParam:  # noqa: N802
    return MatchKeyParam(MatchKind.RANGE, lo, high=hi)


def ether(**kw) -> Ether:
    return Ether(dst="00:00:00:00:00:02", src="00:00:00:00:00:01", **kw)


def tcp(src="10.0.0.1", dst="10.0.0.2", sport=1000, dport=80, tos=0, ttl=64, payload=b"p"):
    return raw(ether() / IP(src=src, dst=dst, tos=tos, ttl=ttl) / TCP(sport=sport, dport=dport)
               / Raw(payload))  # fmt: skip


def udp(src="10.0.0.1", dst="10.0.0.2", sport=1000, dport=53, ttl=64, payload=b"u"):
    return raw(ether() / IP(src=src, dst=dst, ttl=ttl) / UDP(sport=sport, dport=dport)
               / Raw(payload))  # fmt: skip


# --- scenarios -------------------------------------------------------------------------
def parser_scenario():
    good = tcp(src="1.1.1.1", dst="2.2.2.2", payload=b"data")
    bad_ihl = bytearray(raw(ether() / IP() / TCP()))
    bad_ihl[14] = 0x44
    frames = [
        good,
        raw(ether() / IP(options=b"\x01\x01\x01\x00" * 2) / UDP() / Raw(b"xyz")),
        raw(ether() / Dot1Q(vlan=10) / Dot1Q(vlan=20) / IP() / TCP()),
        raw(ether() / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / IP() / TCP()),
        bytes(bad_ihl),
        good[:20],
        good[:40],
        raw(ether(type=0x88B5) / Raw(b"\x01\x2a" + b"\x00" * 40)),
    ]
    ops = [
        Op("entry", "by_port", "push_vlan", [E(1)], [100]),
        Op("entry", "by_port", "pop_vlan", [E(2)]),
        Op("entry", "by_port", "tcp_to_udp", [E(3)]),
    ]
    tagged = [f for f in frames if f[12:14] == b"\x81\x00"]
    # (pop_vlan on an untagged frame reads vlan[0], an invalid header: undefined)
    return ops, [(p, f) for f in frames for p in (1, 3, 9)] + [(2, f) for f in tagged], (9, good)


def expressions_scenario():
    ops = struct.Struct("!BBbbHB")
    values = [
        (200, 100, -100, 50, 0xABCD, 6),
        (0, 0, -128, -128, 0, 0),
        (255, 255, 127, 127, 0xFFFF, 3),
        (5, 9, -1, 1, 0, 1),
        (17, 200, 64, -65, 0x1234, 2),
    ]
    frames = [(1, raw(ether(type=0x88B5) / Raw(ops.pack(*v)))) for v in values]
    return [], frames, frames[0]


def checksum_scenario():
    ops = [Op("entry", "nat_table", "nat", [E(ip("10.0.0.2"))], [ip("192.168.1.7"), 8080])]
    frames = []
    for payload in (b"", b"odd", b"even!!", b"x" * 300):
        frames += [(1, tcp(payload=payload)), (1, udp(payload=payload)),
                   (1, tcp(src="10.0.0.3", dst="10.0.0.4", payload=payload))]  # fmt: skip
    bad = bytearray(tcp())
    bad[24] ^= 0x55  # a bad IPv4 checksum is dropped
    frames.append((1, bytes(bad)))
    return ops, frames, (1, tcp())


def tables_scenario():
    net = T(ip("10.0.0.0"), 0xFF000000)
    ops = [
        Op("entry", "t_exact", "set_tag", [E(ip("10.0.0.1")), E(6)], [0x12]),
        Op("entry", "t_lpm", "set_tag_metered", [LPM(ip("10.0.0.0"), 8)], [1]),
        Op("entry", "t_lpm", "set_tag_metered", [LPM(ip("10.0.0.0"), 24)], [2]),
        Op("entry", "t_ternary", "set_tag", [net, T(0, 0)], [0x10], priority=20),
        Op("entry", "t_ternary", "drop", [net, T(80, 0xFFFF)], priority=10),
        Op("entry", "t_range", "set_tag", [R(1000, 2000), E(6)], [7], priority=1),
        Op("entry", "t_optional", "set_tag", [T(17, 0xFF), T(0, 0)], [5], priority=1),
        Op("entry", "t_valid", "set_tag", [E(1), E(17)], [9]),
        Op("entry", "t_valid", "set_tag", [E(0), E(1)], [8]),
        Op("member", "sel", "set_port", args=[3]),
        Op("member", "sel", "set_port", args=[4]),
        Op("member", "sel", "set_port", args=[5]),
        Op("group", "sel", group=0, members=[0, 1, 2]),
        Op("group_entry", "t_selector", key=[E(ip("10.0.0.2"))], group=0),
        Op("member", "profile", "set_tag", args=[0x77]),
        Op("member_entry", "t_profile", key=[E(80)], members=[0]),
    ]
    frames = []
    for port in range(1, 10):
        for f in (tcp(), tcp(dport=81), tcp(sport=1500), tcp(sport=2001), udp(dport=9),
                  tcp(dst="10.0.0.9"), tcp(dst="10.9.0.9"), tcp(tos=1), tcp(tos=2), tcp(tos=3),
                  raw(ether() / IP(proto=1) / b"\x08\x00\x00\x00")):  # fmt: skip
            frames.append((port, f))
    for sport in (1, 2, 3, 1000, 4242, 777):
        frames.append((7, tcp(sport=sport)))
    return ops, frames, (1, tcp())


def replication_scenario():
    def mode(mac, act, args):
        return Op("entry", "mode", act, [E(mac)], args)

    ops = [
        mode(1, "unicast", [3]),
        mode(2, "multicast", [5]),
        mode(3, "clone_i2e", [1, 100]),
        mode(4, "clone_e2e", [1, 200]),
        mode(5, "resubmit_once", [2]),
        mode(6, "recirculate_twice", [2]),
        mode(7, "truncate_to", [2, 20]),
        mode(8, "clone_i2e", [1, 101]),
        Op("mc", group=5, replicas=[(2, 7), (3, 8)]),
        Op("mc", group=9, replicas=[(5, 1), (6, 2)]),
        Op("mirror", session=100, port=4),
        Op("mirror", session=101, group=9),
        Op("mirror", session=200, port=8),
    ]
    tag = struct.Struct("!BBBBHHI")

    def frame(mac):
        dst = ":".join(f"{b:02x}" for b in mac.to_bytes(6, "big"))
        return raw(Ether(dst=dst, type=0x88B6) / Raw(b"\x00" * tag.size + b"p" * 40))

    frames = [(6, frame(m)) for m in (1, 2, 3, 4, 5, 6, 7, 8, 99)]
    return ops, frames, (6, frame(1))


def stateful_scenario():
    ops = [Op("entry", "flows", "track", [E(ip("10.0.0.1"))], [5])]
    frames = [(1, tcp(ttl=t)) for t in (40, 41, 42)]
    frames += [(3, tcp(src="10.0.0.9")), (4, udp(src="10.0.0.8"))]
    return ops, frames, (1, tcp(ttl=50))


def lb_scenario():
    ops = [
        Op("entry", "vip4", "set_vip", [LPM(ip("10.0.0.100"), 32)], [1, 0, 0, 0]),
        Op("entry", "maglev", "use_bucket_as", [E(1), E(0)], [7]),
        Op("entry", "as_encap", "encap_gre4", [E(7)], [ip("192.0.2.1"), ip("10.1.0.7")]),
        Op("entry", "route4", "set_next_hop", [LPM(ip("10.1.0.0"), 16)],
           [2, 0x020000000001, 0x020000000002]),
        Op("entry", "route4", "set_next_hop", [LPM(ip("198.51.100.0"), 24)],
           [3, 0x020000000003, 0x020000000004]),
    ]  # fmt: skip
    vip = "10.0.0.100"
    frames = [
        (1, tcp(src="198.51.100.9", dst=vip, sport=4321)),
        (1, udp(src="198.51.100.9", dst=vip, sport=4321)),
        (1, raw(ether() / IP(src="198.51.100.9", dst=vip, options=b"\x01" * 4) / TCP())),
        (1, raw(ether() / IP(src="198.51.100.9", dst=vip, flags=1) / TCP())),  # a fragment
        (1, tcp(src="10.1.0.7", dst="198.51.100.9", ttl=5)),  # routed, TTL-1
        (1, tcp(src="10.1.0.7", dst="203.0.113.1")),  # no route: dropped
        (1, tcp(src="10.1.0.7", dst="198.51.100.9", ttl=1)),
        (1, raw(ether(type=0x86DD) / Raw(b"\x60" + b"\x00" * 50))),
        (1, raw(ether(type=0x1234) / Raw(b"z" * 46))),
    ]
    return ops, frames, (1, tcp(src="198.51.100.9", dst=vip, sport=4321))


SCENARIOS = {
    "eng_parser": parser_scenario,
    "eng_expressions": expressions_scenario,
    "eng_checksum": checksum_scenario,
    "eng_tables": tables_scenario,
    "eng_replication": replication_scenario,
    "eng_stateful": stateful_scenario,
    "lb": lb_scenario,
}


def undefined_bytes(program: str):
    """eng_checksum.p4's hashes header: `bounded` hashes tcp.sport, which reads an
    invalid header for UDP, and `random_value` is random."""
    if program != "eng_checksum":
        return lambda data: data
    return lambda data: data[:20] + b"\x00" * 4 + data[24:]


@pytest.mark.parametrize("program", list(SCENARIOS))
def test_same_output_as_bmv2(program, tmp_path):
    path = LB_JSON if program == "lb" else BUILD / f"{program}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not built")
    ops, frames, probe = SCENARIOS[program]()
    engine = switch(program) if program != "lb" else None
    if engine is None:
        import json

        from p4switch.engine import EmbeddedSwitch

        engine = EmbeddedSwitch(json.loads(path.read_text()), None)
    bmv2 = Bmv2(path, tmp_path)
    try:
        apply_to_engine(engine, ops)
        bmv2.cli(cli_lines(engine, ops))
        compare(engine, bmv2, frames, probe, undefined_bytes(program))
    finally:
        bmv2.close()
        engine.close()
