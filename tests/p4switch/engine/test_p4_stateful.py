"""eng_stateful.p4: counters, meters, registers, digests and idle timeout."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw

from p4switch.runtime_api import ActionCall, Digest, MatchKeyParam, MatchKind, MeterRate

from .compiled import action, names, switch


class FakeClock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sw(clock):
    s = switch("eng_stateful", clock=clock, ageing_thread=False)
    yield s
    s.close()


def frame(src: str = "10.0.0.1", ttl: int = 64) -> bytes:
    return raw(Ether() / IP(src=src, dst="10.0.0.2", ttl=ttl) / UDP())


def track(sw, src: int, index: int) -> int:
    t = names(sw, "flows")
    return sw.mt_add_entry(
        t, [MatchKeyParam(MatchKind.EXACT, src)], ActionCall(action(sw, t, "track"), [index])
    )


def counter_name(sw) -> str:
    return next(n for n in sw.program.externs.counters if n.endswith("flow_counter"))


def test_miss_sends_a_digest_for_the_controller(sw):
    got: list[Digest] = []
    sw.on_digest = got.append
    out = sw.process_packet(3, frame())
    assert [p for p, _ in out] == [2]
    assert got == [Digest("learn_t", [0x0A000001, 0x0A000002, 3])]


def test_hit_counts_meters_and_keeps_a_register(sw):
    track(sw, 0x0A000001, 5)
    f = frame(ttl=40)
    out = sw.process_packet(1, f)
    assert [p for p, _ in out] == [1]
    assert Ether(out[0][1])[IP].id == 0  # register was 0
    out = sw.process_packet(1, frame(ttl=41))
    assert Ether(out[0][1])[IP].id == 40
    ctr = counter_name(sw)
    assert sw.read_counters(ctr, 5) == (2 * len(f), 2)
    reg = next(iter(sw.program.externs.registers))
    assert sw.register_read(reg, 5) == 41
    mtr = next(iter(sw.program.externs.meters))
    sw.meter_set_rates(mtr, 5, [MeterRate(1e-12, 1), MeterRate(1e-12, 1)])
    colors = [Ether(sw.process_packet(1, f)[0][1])[IP].tos for _ in range(2)]
    assert colors == [0, 2]


def test_idle_timeout_notifies_until_deleted(sw, clock):
    t = names(sw, "flows")
    assert sw.table_info(t).support_timeout
    h = track(sw, 0x0A000001, 1)
    sw.mt_set_entry_ttl(t, h, 3000)
    notes: list[tuple[str, list[int]]] = []
    sw.on_idle_timeout = lambda table, handles: notes.append((table, handles))
    for _ in range(2):
        clock.t += 1
        sw.sweep()
    sw.process_packet(1, frame())
    assert sw.mt_get_entry(t, h).time_since_last_hit_ms == 0
    clock.t += 2
    sw.sweep()
    assert notes == []
    clock.t += 1
    sw.sweep()
    assert notes == [(t, [h])]
    sw.mt_delete_entry(t, h)
    clock.t += 10
    sw.sweep()
    assert notes == [(t, [h])]
