"""eng_parser.p4: header stacks, varbit options, lookahead, verify, value sets,
header unions, and BMv2's parser-error behaviour."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw, raw

from p4switch.runtime_api import ActionCall, MatchKeyParam, MatchKind

from .compiled import action, names, switch

REPORT = struct.Struct("!BBBBHH")  # parser_error, vlans, l4, custom, options_bytes, last_vid
ETH = dict(dst="00:00:00:00:00:02", src="00:00:00:00:00:01")


@pytest.fixture
def sw():
    s = switch("eng_parser")
    yield s
    s.close()


def run(sw, frame: bytes, port: int = 9) -> tuple[tuple, bytes]:
    out = sw.process_packet(port, frame)
    assert [p for p, _ in out] == [1]
    data = out[0][1]
    return REPORT.unpack(data[: REPORT.size]), data[REPORT.size :]


def test_plain_tcp(sw):
    f = raw(Ether(**ETH) / IP(src="1.1.1.1", dst="2.2.2.2") / TCP() / Raw(b"data"))
    report, rest = run(sw, f)
    assert report == (0, 0, 1, 0, 0, 0)
    assert rest == f


def test_ipv4_options_are_a_varbit_carried_through(sw):
    ip = IP(src="1.1.1.1", dst="2.2.2.2", options=b"\x01\x01\x01\x00" * 2)  # ihl = 7
    f = raw(Ether(**ETH) / ip / UDP(sport=1, dport=2) / Raw(b"xyz"))
    report, rest = run(sw, f)
    assert report == (0, 0, 2, 0, 8, 0)
    assert rest == f


def test_vlan_stack_next_and_last(sw):
    f = raw(Ether(**ETH) / Dot1Q(vlan=10) / Dot1Q(vlan=20) / IP() / TCP())
    report, rest = run(sw, f)
    assert report == (0, 2, 1, 0, 0, 20)
    assert rest == f


def test_third_vlan_tag_overflows_the_stack(sw):
    f = raw(Ether(**ETH) / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / IP() / TCP())
    report, rest = run(sw, f)
    assert report[:3] == (3, 2, 0)  # StackOutOfBounds; the rest stays payload
    assert rest == f


def test_verify_raises_the_program_error(sw):
    f = bytearray(raw(Ether(**ETH) / IP() / TCP()))
    f[14] = 0x44  # ihl 4 < 5
    report, rest = run(sw, bytes(f))
    assert report[0] == 2 and report[2] == 0
    assert rest == bytes(f)


def test_truncated_headers_are_packet_too_short(sw):
    full = raw(Ether(**ETH) / IP(options=b"\x00" * 8) / TCP())
    for cut in (20, 14 + 22, 14 + 28 + 10):
        report, rest = run(sw, full[:cut])
        assert report[0] == 1
        assert rest == full[:cut]


def test_value_set(sw):
    f = raw(Ether(**ETH, type=0x88B5) / Raw(b"\x01\x2a" + b"\x00" * 40))
    assert run(sw, f)[0][3] == 0
    (vset,) = sw.program.vsets
    sw.parse_vset_add(vset, 0x88B5)
    assert sw.parse_vset_get(vset) == [0x88B5]
    report, rest = run(sw, f)
    assert report[3] == 0x2A and rest == f
    sw.parse_vset_remove(vset, 0x88B5)
    assert run(sw, f)[0][3] == 0


def by_port(sw, port: int, act: str, args: list[int]) -> None:
    t = names(sw, "by_port")
    sw.mt_add_entry(t, [MatchKeyParam(MatchKind.EXACT, port)], ActionCall(action(sw, t, act), args))


def test_push_and_pop_vlan(sw):
    by_port(sw, 1, "push_vlan", [100])
    by_port(sw, 2, "pop_vlan", [])
    f = raw(Ether(**ETH) / Dot1Q(vlan=20) / IP() / TCP())
    _, rest = run(sw, f, port=1)
    got = Ether(rest)
    assert [got[Dot1Q].vlan, got[Dot1Q].payload.vlan] == [100, 20]
    assert raw(got[IP]) == raw(Ether(f)[IP])
    _, rest = run(sw, f, port=2)
    assert rest == raw(Ether(**ETH) / IP() / TCP())


def test_union_member_set_valid_invalidates_the_other(sw):
    by_port(sw, 3, "tcp_to_udp", [])
    f = raw(Ether(**ETH) / IP(proto=6) / TCP(sport=5, dport=6) / Raw(b"!"))
    report, rest = run(sw, f, port=3)
    assert report[2] == 2  # udp is the valid member now
    ip_end = 14 + 20
    assert rest[ip_end : ip_end + 8] == struct.pack("!HHHH", 7, 9, 8, 0)
    assert rest[ip_end + 8 :] == b"!"  # tcp gone, payload kept
