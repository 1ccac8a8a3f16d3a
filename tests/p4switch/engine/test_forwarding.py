"""Parser, deparser, actions, exact/LPM/ternary tables and the IPv4 checksum, on a
hand-written p4c-style program (an IPv4 router: LPM on dst -> port + TTL-1)."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from p4switch.engine import load_switch
from p4switch.runtime_api import ActionCall, MatchError, MatchKeyParam, MatchKind, RuntimeApiError

from .jsonprog import (
    action,
    assign,
    basic_program,
    expr,
    field,
    hexstr,
    ipv4_checksum_calc,
    masked_add,
    pipeline,
    prim,
    rt,
    table,
)

SM = "standard_metadata"


def router_program() -> dict:
    p = basic_program()
    p["actions"] = [
        action(0, "NoAction", []),
        action(1, "drop", [prim("mark_to_drop", {"type": "header", "value": SM})]),
        action(
            2,
            "forward",
            [
                assign(field(SM, "egress_spec"), rt(0)),
                assign(field("ethernet", "dstAddr"), rt(1)),
                assign(field("ipv4", "ttl"), masked_add(field("ipv4", "ttl"), hexstr(0xFF), 8)),
            ],
            [("port", 9), ("dmac", 48)],
        ),
        action(3, "set_c", [assign(field("scalars", "c"), rt(0))], [("c", 8)]),
    ]
    lpm = table(
        0, "MyIngress.routes", [("lpm", ["ipv4", "dstAddr"], None)],
        [(2, "forward"), (1, "drop")], "MyIngress.acl", default=(1, []),
    )  # fmt: skip
    acl = table(
        1, "MyIngress.acl",
        [("ternary", ["ipv4", "srcAddr"], None), ("exact", ["ipv4", "protocol"], None)],
        [(1, "drop"), (0, "NoAction")], None, default=(0, []),
    )  # fmt: skip
    p["pipelines"] = [
        pipeline(
            0,
            "ingress",
            "node_valid",
            [lpm, acl],
            [
                {
                    "name": "node_valid",
                    "id": 0,
                    "expression": expr("d2b", None, field("ipv4", "$valid$")),
                    "true_next": "MyIngress.routes",
                    "false_next": None,
                }
            ],
        ),
        pipeline(1, "egress", None),
    ]
    p["calculations"] = [ipv4_checksum_calc()]
    p["checksums"] = [
        {
            "name": "cksum",
            "id": 0,
            "target": ["ipv4", "hdrChecksum"],
            "type": "generic",
            "calculation": "calc_ipv4",
            "verify": False,
            "update": True,
            "if_cond": expr("d2b", None, field("ipv4", "$valid$")),
        }
    ]
    return p


@pytest.fixture
def sw():
    s = load_switch(router_program(), None)
    yield s
    s.close()


def lpm(value: int, plen: int) -> MatchKeyParam:
    return MatchKeyParam(MatchKind.LPM, value, prefix_len=plen)


def ip(a: str) -> int:
    return int.from_bytes(bytes(int(x) for x in a.split(".")), "big")


def pkt(dst: str = "10.1.2.3", ttl: int = 64, proto: str = "tcp") -> bytes:
    l4 = TCP(sport=1234, dport=80) if proto == "tcp" else UDP(sport=1234, dport=53)
    return raw(
        Ether(dst="00:00:00:00:00:02", src="00:00:00:00:00:01")
        / IP(src="192.168.0.1", dst=dst, ttl=ttl)
        / l4
        / Raw(b"payload!")
    )


def test_lpm_forward_rewrites_mac_ttl_and_checksum(sw):
    sw.mt_add_entry("MyIngress.routes", [lpm(ip("10.0.0.0"), 8)], ActionCall("forward", [3, 0xAA]))
    sw.mt_add_entry("MyIngress.routes", [lpm(ip("10.1.0.0"), 16)], ActionCall("forward", [4, 0xBB]))
    out = sw.process_packet(1, pkt("10.1.2.3"))
    assert [port for port, _ in out] == [4]
    got = Ether(out[0][1])
    assert got.dst == "00:00:00:00:00:bb"
    assert got[IP].ttl == 63
    expected = IP(raw(got[IP]))
    expected.chksum = None
    assert got[IP].chksum == IP(raw(expected)).chksum  # recomputed by the deparser
    assert raw(got[TCP].payload) == b"payload!"
    out = sw.process_packet(1, pkt("10.9.9.9"))
    assert [port for port, _ in out] == [3]


def test_miss_runs_default_drop(sw):
    assert sw.process_packet(1, pkt("11.0.0.1")) == []
    assert sw.stats()["dropped"] == 1


def test_ternary_priority_lower_value_wins(sw):
    sw.mt_add_entry("MyIngress.routes", [lpm(0, 0)], ActionCall("forward", [2, 1]))
    tern = MatchKeyParam(MatchKind.TERNARY, ip("192.168.0.0"), mask=0xFFFF0000)
    exact_tcp = MatchKeyParam(MatchKind.EXACT, 6)
    h = sw.mt_add_entry("MyIngress.acl", [tern, exact_tcp], ActionCall("drop"), priority=10)
    assert sw.process_packet(1, pkt()) == []
    assert len(sw.process_packet(1, pkt(proto="udp"))) == 1
    anyip = MatchKeyParam(MatchKind.TERNARY, 0, mask=0)
    sw.mt_add_entry("MyIngress.acl", [anyip, exact_tcp], ActionCall("NoAction"), priority=5)
    assert len(sw.process_packet(1, pkt())) == 1
    sw.mt_delete_entry("MyIngress.acl", h)
    assert sw.mt_get_num_entries("MyIngress.acl") == 1


def test_non_ip_skips_the_table_and_is_dropped_by_egress_spec_zero(sw):
    frame = raw(Ether(dst="00:00:00:00:00:02", type=0x88CC) / Raw(b"x" * 50))
    out = sw.process_packet(5, frame)
    # no table ran, egress_spec stayed 0: simple_switch sends it to port 0 unchanged
    assert out == [(0, frame)]


def test_truncated_ipv4_takes_parser_error_path(sw):
    sw.mt_add_entry("MyIngress.routes", [lpm(0, 0)], ActionCall("forward", [2, 1]))
    frame = pkt()[:20]  # ethernet + 6 bytes of IPv4
    out = sw.process_packet(1, frame)
    # ipv4 never became valid: the packet went through with only ethernet parsed
    assert out == [(0, frame)]
    assert sw.stats()["parser_errors"] == 1


def test_runtime_errors_name_the_problem(sw):
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_add_entry("nope", [], ActionCall("drop"))
    assert e.value.code == MatchError.INVALID_TABLE_NAME
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_add_entry("MyIngress.routes", [lpm(0, 0)], ActionCall("set_c", [1]))
    assert e.value.code == MatchError.INVALID_ACTION_NAME
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_add_entry("MyIngress.routes", [lpm(0, 0)], ActionCall("forward", [512, 1]))
    assert e.value.code == MatchError.BAD_ACTION_DATA and "port" in e.value.detail
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_add_entry("MyIngress.routes", [lpm(1 << 32, 8)], ActionCall("drop"))
    assert e.value.code == MatchError.BAD_MATCH_KEY
    sw.mt_add_entry("MyIngress.routes", [lpm(ip("10.0.0.0"), 8)], ActionCall("drop"))
    with pytest.raises(RuntimeApiError) as e:
        # same prefix once masked: a duplicate
        sw.mt_add_entry("MyIngress.routes", [lpm(ip("10.0.0.7"), 8)], ActionCall("drop"))
    assert e.value.code == MatchError.DUPLICATE_ENTRY
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_delete_entry("MyIngress.routes", 99)
    assert e.value.code == MatchError.INVALID_HANDLE


def test_default_entry_and_readback(sw):
    d = sw.mt_get_default_entry("MyIngress.routes")
    assert d.action == ActionCall("drop", [])
    sw.mt_set_default_action("MyIngress.routes", ActionCall("forward", [7, 0x1]))
    assert [p for p, _ in sw.process_packet(1, pkt())] == [7]
    sw.mt_reset_default_entry("MyIngress.routes")
    assert sw.process_packet(1, pkt()) == []
    h = sw.mt_add_entry("MyIngress.routes", [lpm(ip("10.1.2.3"), 32)], ActionCall("drop"))
    e = sw.mt_get_entry("MyIngress.routes", h)
    assert e.match_key == [lpm(ip("10.1.2.3"), 32)] and e.action == ActionCall("drop", [])
    assert sw.mt_get_entry_from_key("MyIngress.routes", [lpm(ip("10.1.2.3"), 32)]).handle == h
    sw.mt_modify_entry("MyIngress.routes", h, ActionCall("forward", [9, 2]))
    assert [p for p, _ in sw.process_packet(1, pkt())] == [9]


def test_garbage_frames_never_raise(sw):
    sw.mt_add_entry("MyIngress.routes", [lpm(0, 0)], ActionCall("forward", [2, 1]))
    for frame in [b"", b"\x00", pkt()[:14], pkt()[:33], b"\xff" * 3000, pkt() + b"\x00" * 9000]:
        sw.process_packet(1, frame)
    assert sw.process_packet(-1, pkt()) == []


def test_bad_json_names_the_element():
    p = router_program()
    p["actions"][2]["primitives"][0]["op"] = "frobnicate"
    with pytest.raises(ValueError, match="action 'forward'.*frobnicate"):
        load_switch(p, None)
    p = router_program()
    p["pipelines"][0]["tables"][0]["key"][0]["target"] = ["ipv4", "nosuch"]
    with pytest.raises(ValueError, match="MyIngress.routes.*nosuch"):
        load_switch(p, None)
