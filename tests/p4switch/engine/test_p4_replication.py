"""eng_replication.p4: multicast, I2E/E2E clones with preserved field lists,
resubmit, recirculate and truncate, with simple_switch's instance types."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from p4switch.runtime_api import ActionCall, MatchKeyParam, MatchKind

from .compiled import action, names, switch

TAG = struct.Struct("!BBBBHHI")  # instance_type, rid, mark, rounds, egress, ingress, length
NORMAL, I2E, E2E, RECIRC, REPLICATION, RESUBMIT = 0, 1, 2, 4, 5, 6


@pytest.fixture
def sw():
    s = switch("eng_replication")
    yield s
    s.close()


def mode(sw, mac: int, act: str, args: list[int]) -> None:
    t = names(sw, "mode")
    sw.mt_add_entry(t, [MatchKeyParam(MatchKind.EXACT, mac)], ActionCall(action(sw, t, act), args))


def frame(mac: int, pad: int = 20) -> bytes:
    dst = ":".join(f"{b:02x}" for b in mac.to_bytes(6, "big"))
    return raw(Ether(dst=dst, type=0x88B6) / Raw(b"\x00" * TAG.size + b"p" * pad))


def tags(out: list[tuple[int, bytes]]) -> list[tuple[int, tuple]]:
    return sorted((port, TAG.unpack(data[14 : 14 + TAG.size])) for port, data in out)


def test_unicast_and_drop(sw):
    mode(sw, 1, "unicast", [3])
    f = frame(1)
    assert tags(sw.process_packet(7, f)) == [(3, (NORMAL, 0, 0, 0, 3, 7, len(f)))]
    assert sw.process_packet(7, frame(99)) == []  # default action drops


def test_multicast_sets_rid_and_instance_type(sw):
    mode(sw, 2, "multicast", [5])
    sw.mc_set_group(5, [(2, 7), (3, 8)])
    f = frame(2)
    got = tags(sw.process_packet(1, f))
    assert got == [
        (2, (REPLICATION, 7, 0, 0, 2, 1, len(f))),
        (3, (REPLICATION, 8, 0, 0, 3, 1, len(f))),
    ]
    sw.mc_set_group(5, [])
    assert sw.process_packet(1, f) == []


def test_ingress_clone_preserves_its_field_list(sw):
    mode(sw, 3, "clone_i2e", [1, 100])
    sw.mirroring_session_set(100, 4, None)
    got = tags(sw.process_packet(6, frame(3)))
    # simple_switch resets the clone's metadata: only @field_list(1) survives,
    # ingress_port included (it is zeroed with the rest of standard_metadata)
    assert [(p, t[0], t[2]) for p, t in got] == [(1, NORMAL, 0x11), (4, I2E, 0x11)]
    assert got[1][1][5] == 0
    sw.mirroring_session_delete(100)
    assert [p for p, _ in sw.process_packet(6, frame(3))] == [1]


def test_clone_session_to_a_multicast_group(sw):
    mode(sw, 3, "clone_i2e", [1, 101])
    sw.mirroring_session_set(101, None, 9)
    sw.mc_set_group(9, [(5, 1), (6, 2)])
    got = tags(sw.process_packet(6, frame(3)))
    assert [(p, t[0], t[1]) for p, t in got] == [(1, NORMAL, 0), (5, I2E, 1), (6, I2E, 2)]


def test_egress_clone(sw):
    mode(sw, 4, "clone_e2e", [1, 200])
    sw.mirroring_session_set(200, 8, None)
    got = tags(sw.process_packet(6, frame(4)))
    assert [(p, t[0], t[2]) for p, t in got] == [(1, NORMAL, 0), (8, E2E, 0x22)]


def test_resubmit_keeps_field_list_2(sw):
    mode(sw, 5, "resubmit_once", [2])
    got = tags(sw.process_packet(6, frame(5)))
    assert [(p, t[0], t[2], t[3]) for p, t in got] == [(2, NORMAL, 0x66, 2)]


def test_recirculate_twice(sw):
    mode(sw, 6, "recirculate_twice", [2])
    got = tags(sw.process_packet(6, frame(6)))
    assert [(p, t[0], t[2], t[3]) for p, t in got] == [(2, NORMAL, 0x44, 2)]


def test_truncate(sw):
    mode(sw, 7, "truncate_to", [2, 20])
    out = sw.process_packet(6, frame(7, pad=100))
    assert [(p, len(d)) for p, d in out] == [(2, 20)]


def test_clone_session_truncation(sw):
    mode(sw, 3, "clone_i2e", [1, 102])
    sw.mirroring_session_set(102, 4, None, truncate=16)
    out = dict(sw.process_packet(6, frame(3, pad=100)))
    assert len(out[4]) == 16 and len(out[1]) > 100
    assert sw.mirroring_sessions()[102] == (4, None, 16)


def test_cpu_port_goes_to_the_callback():
    s = switch("eng_replication", cpu_port=64)
    got: list[bytes] = []
    s.on_packet_to_cpu = got.append
    mode(s, 1, "unicast", [64])
    assert s.process_packet(1, frame(1)) == []
    assert len(got) == 1 and Ether(got[0]).dst == "00:00:00:00:00:01"
    s.close()
