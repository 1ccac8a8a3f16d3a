"""eng_tables.p4: every match kind, const entries, direct counters and meters,
action profiles and selectors, hit/miss and switch(action_run) control flow."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw

from p4switch.engine.hashes import crc16
from p4switch.runtime_api import (
    ActionCall,
    MatchError,
    MatchKeyParam,
    MatchKind,
    MeterRate,
    RuntimeApiError,
)

from .compiled import action, names, switch

EXACT, LPM, TERNARY, RANGE, OPTIONAL = (
    MatchKind.EXACT, MatchKind.LPM, MatchKind.TERNARY, MatchKind.RANGE, MatchKind.OPTIONAL,
)  # fmt: skip


@pytest.fixture
def sw():
    s = switch("eng_tables")
    yield s
    s.close()


def ip(a: str) -> int:
    return int.from_bytes(bytes(int(x) for x in a.split(".")), "big")


def frame(src="10.0.0.1", dst="10.0.0.2", proto="tcp", sport=1000, dport=80, tos=0) -> bytes:
    l4 = TCP(sport=sport, dport=dport) if proto == "tcp" else UDP(sport=sport, dport=dport)
    return raw(Ether() / IP(src=src, dst=dst, tos=tos) / l4)


def result(sw, port: int, f: bytes) -> tuple[int, int, int] | None:
    """(egress port, tag, color) or None when dropped."""
    out = sw.process_packet(port, f)
    if not out:
        return None
    ((eport, data),) = out
    got = Ether(data)[IP]
    return eport, got.id, got.tos


def add(sw, table: str, key: list[MatchKeyParam], act: str, args=(), priority: int = -1) -> int:
    t = names(sw, table)
    return sw.mt_add_entry(t, key, ActionCall(action(sw, t, act), list(args)), priority)


def test_exact_two_fields_hit_flag_and_direct_counter(sw):
    h = add(sw, "t_exact", [MatchKeyParam(EXACT, ip("10.0.0.1")), MatchKeyParam(EXACT, 6)],
            "set_tag", [0x12])  # fmt: skip
    f = frame()
    assert result(sw, 1, f) == (2, 0x8012, 0)
    assert result(sw, 1, frame(proto="udp")) == (2, 0, 0)  # miss: nop, no hit flag
    assert sw.mt_read_counters(names(sw, "t_exact"), h) == (len(f), 1)


def test_lpm_longest_prefix_and_direct_meter(sw):
    t = names(sw, "t_lpm")
    add(sw, "t_lpm", [MatchKeyParam(LPM, ip("10.0.0.0"), prefix_len=8)], "set_tag_metered", [1])
    h = add(sw, "t_lpm", [MatchKeyParam(LPM, ip("10.0.0.0"), prefix_len=24)],
            "set_tag_metered", [2])  # fmt: skip
    assert result(sw, 2, frame(dst="10.0.0.9"))[1] == 2
    assert result(sw, 2, frame(dst="10.9.0.9"))[1] == 1
    assert result(sw, 2, frame(dst="11.0.0.1"))[1] == 0
    tiny = 1e-12
    sw.mt_set_meter_rates(t, h, [MeterRate(tiny, 1), MeterRate(tiny, 2)])
    colors = [result(sw, 2, frame(dst="10.0.0.9"))[2] for _ in range(3)]
    assert colors == [0, 1, 2]
    assert sw.mt_get_meter_rates(t, h) == [MeterRate(tiny, 1), MeterRate(tiny, 2)]
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_read_counters(t, h)
    assert e.value.code == MatchError.COUNTERS_DISABLED


def test_ternary_priorities_and_switch_action_run(sw):
    net = MatchKeyParam(TERNARY, ip("10.0.0.0"), mask=0xFF000000)
    any_port = MatchKeyParam(TERNARY, 0, mask=0)
    port80 = MatchKeyParam(TERNARY, 80, mask=0xFFFF)
    add(sw, "t_ternary", [net, any_port], "set_tag", [0x10], priority=20)
    assert result(sw, 3, frame()) == (2, 0x11, 0)  # set_tag branch adds 1
    add(sw, "t_ternary", [net, port80], "drop", priority=10)
    assert result(sw, 3, frame()) is None  # lower number = higher priority, drop then exit
    assert result(sw, 3, frame(dport=81)) == (2, 0x11, 0)
    with pytest.raises(RuntimeApiError) as e:
        add(sw, "t_ternary", [net, port80], "nop", priority=10)
    assert e.value.code == MatchError.DUPLICATE_ENTRY


def test_range(sw):
    add(sw, "t_range", [MatchKeyParam(RANGE, 1000, high=2000), MatchKeyParam(EXACT, 6)],
        "set_tag", [7], priority=1)  # fmt: skip
    assert result(sw, 4, frame(sport=1000))[1] == 7
    assert result(sw, 4, frame(sport=2000))[1] == 7
    assert result(sw, 4, frame(sport=2001))[1] == 0
    assert result(sw, 4, frame(sport=1500, proto="udp"))[1] == 0
    with pytest.raises(RuntimeApiError) as e:
        add(sw, "t_range", [MatchKeyParam(RANGE, 9, high=8), MatchKeyParam(EXACT, 6)], "nop",
            priority=1)  # fmt: skip
    assert e.value.code == MatchError.BAD_MATCH_KEY


def test_optional(sw):
    udp = MatchKeyParam(OPTIONAL, 17, mask=0xFF)
    anyp = MatchKeyParam(OPTIONAL, 0, mask=0)
    add(sw, "t_optional", [udp, anyp], "set_tag", [5], priority=1)
    assert result(sw, 5, frame(proto="udp", dport=9))[1] == 5
    assert result(sw, 5, frame(proto="tcp", dport=9))[1] == 0


def test_const_entries_and_const_default(sw):
    t = names(sw, "t_const")
    assert result(sw, 6, frame(tos=1))[1] == 0x0101
    assert result(sw, 6, frame(tos=2))[1] == 0x0202
    assert result(sw, 6, frame(tos=3))[1] == 0x0E0E
    info = sw.table_info(t)
    assert info.has_const_entries and info.const_default_action
    assert sw.mt_get_num_entries(t) == 2
    with pytest.raises(RuntimeApiError) as e:
        add(sw, "t_const", [MatchKeyParam(EXACT, 3)], "nop")
    assert e.value.code == MatchError.IMMUTABLE_TABLE_ENTRIES
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_set_default_action(t, ActionCall(action(sw, t, "nop")))
    assert e.value.code in (MatchError.DEFAULT_ACTION_IS_CONST, MatchError.DEFAULT_ENTRY_IS_CONST)


def test_action_selector_picks_member_by_hash(sw):
    t = names(sw, "t_selector")
    info = sw.table_info(t)
    prof = info.action_profile
    assert info.with_selector
    set_port = action(sw, t, "set_port")
    members = [sw.mt_act_prof_add_member(prof, ActionCall(set_port, [p])) for p in (3, 4, 5)]
    g = sw.mt_act_prof_create_group(prof)
    for m in members:
        sw.mt_act_prof_add_member_to_group(prof, m, g)
    sw.mt_indirect_ws_add_entry(t, [MatchKeyParam(EXACT, ip("10.0.0.2"))], g)
    for sport in (1, 2, 3, 1000, 4242):
        h = crc16(bytes([10, 0, 0, 1]) + sport.to_bytes(2, "big"))
        assert result(sw, 7, frame(sport=sport))[0] == [3, 4, 5][h % 3]
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_act_prof_delete_member(prof, members[0])
    assert e.value.code == MatchError.MBR_STILL_USED
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_act_prof_delete_group(prof, g)
    assert e.value.code == MatchError.GRP_STILL_USED


def test_action_profile_members(sw):
    t = names(sw, "t_profile")
    prof = sw.table_info(t).action_profile
    m = sw.mt_act_prof_add_member(prof, ActionCall(action(sw, t, "set_tag"), [0x77]))
    h = sw.mt_indirect_add_entry(t, [MatchKeyParam(EXACT, 80)], m)
    assert result(sw, 8, frame())[1] == 0x77
    sw.mt_act_prof_modify_member(prof, m, ActionCall(action(sw, t, "set_tag"), [0x78]))
    assert result(sw, 8, frame())[1] == 0x78
    assert sw.mt_get_entry(t, h).member == m
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_add_entry(t, [MatchKeyParam(EXACT, 81)], ActionCall(action(sw, t, "nop")))
    assert e.value.code == MatchError.WRONG_TABLE_TYPE


def test_validity_key(sw):
    add(sw, "t_valid", [MatchKeyParam(EXACT, 1), MatchKeyParam(EXACT, 17)], "set_tag", [9])
    add(sw, "t_valid", [MatchKeyParam(EXACT, 0), MatchKeyParam(EXACT, 1)], "set_tag", [8])
    assert result(sw, 9, frame(proto="udp"))[1] == 9
    icmp = raw(Ether() / IP(proto=1) / b"\x08\x00\x00\x00")
    assert result(sw, 9, icmp)[1] == 8
