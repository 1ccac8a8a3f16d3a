"""Health checks as a state machine: probes, answers, rise/fall, damping (a fake clock,
and a scripted AS that answers the probes the checker sends)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from controller.health_checker import HealthChecker, ProbeTarget
from controller.health_probe import TCP_ACK, TCP_RST, TCP_SYN, Segment, build_frame, parse_frame
from controller.lb_values import DownAction, HealthCheck

SOURCE, VIP = ip_address("192.0.2.99"), ip_address("10.0.0.1")


def target(as_id: int = 7, **check: object) -> ProbeTarget:
    settings = {"interval_ms": 1000, "timeout_ms": 500, "rise": 2, "fall": 3, **check}
    return ProbeTarget(1, as_id, "10.0.0.1/32", ("10.0.0.1/32", None, 0),
                       ip_address(f"10.1.0.{as_id}"), SOURCE, VIP, 80, HealthCheck(**settings))


class ScriptedAs:
    """Answers each SYN the checker sends as a server would: 'accept', 'refuse' or 'drop'."""

    def __init__(self, checker_box: list) -> None:
        self.box = checker_box
        self.mode = "accept"
        self.sent: list[tuple[Segment, int]] = []
        self.connected = True

    def send(self, frame: bytes, as_id: int) -> bool:
        if not self.connected:
            return False
        seg = parse_frame(frame)
        self.sent.append((seg, as_id))
        if seg.flags == TCP_SYN and self.mode != "drop":
            flags = TCP_SYN | TCP_ACK if self.mode == "accept" else TCP_RST | TCP_ACK
            answer = Segment(seg.dst, seg.src, seg.dst_port, seg.src_port, 12345,
                             (seg.seq + 1) & 0xFFFFFFFF, flags)
            self.box[0].packet_in(build_frame(answer))
        return True


@pytest.fixture
def rig():
    box: list = []
    server = ScriptedAs(box)
    changes: list = []
    clock = [0.0]
    checker = HealthChecker(server.send, changes.extend, clock=lambda: clock[0],
                            wall_clock=lambda: 1_700_000_000 + clock[0])
    box.append(checker)

    def run_until(t: float, step: float = 0.05) -> None:
        while clock[0] < t:
            clock[0] = round(clock[0] + step, 6)
            checker.step()

    return checker, server, changes, run_until


def test_answered_probes_keep_the_as_up_and_each_is_closed_with_a_reset(rig) -> None:
    checker, server, changes, run_until = rig
    checker.configure([target()])
    run_until(2.9)
    syns = [s for s, _ in server.sent if s.flags == TCP_SYN]
    resets = [s for s, _ in server.sent if s.flags == TCP_RST]
    assert len(syns) == 3 and len(resets) == 3  # one a second, from the first step
    assert all(s.src == SOURCE and s.dst == VIP and s.dst_port == 80 for s in syns)
    assert [r.seq for r in resets] == [(s.seq + 1) & 0xFFFFFFFF for s in syns]
    assert {a for _, a in server.sent} == {7}
    assert checker.is_up(1, 7) and changes == []
    (status,) = checker.status()
    (a,) = status["ases"]
    assert a["state"] == "up" and a["probes"]["ok"] == 3 and a["successes"] == 3
    assert a["reason"] == "answering probes"


def test_fall_timeouts_take_it_down_then_rise_answers_bring_it_back(rig) -> None:
    checker, server, changes, run_until = rig
    checker.configure([target()])
    run_until(0.5)
    server.mode = "drop"  # host up, nothing comes back (a broken tunnel)
    run_until(3.4)
    assert changes == []  # two timeouts so far (probes at 1 s and 2 s)
    run_until(3.6)  # the probe of t=3 times out at 3.5: the third failure
    (down,) = changes
    assert not down.up and down.target.as_id == 7 and not checker.is_up(1, 7)
    assert down.reason == "3 probes failed, last timed out (every 1s)"
    server.mode = "accept"
    run_until(5.2)  # probes at 4 and 5 answered: rise 2
    assert [c.up for c in changes] == [False, True] and checker.is_up(1, 7)
    assert changes[1].reason == "2 probes answered"
    events = checker.event_list()
    assert [e["state"] for e in events] == ["down", "up"]
    assert events[0]["time"].startswith("2023-11-14T22:13:2")


def test_a_refused_connection_fails_at_once_without_waiting_for_the_timeout(rig) -> None:
    checker, server, changes, run_until = rig
    checker.configure([target(fall=2)])
    server.mode = "refuse"
    run_until(1.1)
    assert len(changes) == 1 and "last refused" in changes[0].reason
    assert checker.status()[0]["ases"][0]["probes"]["refused"] == 2


def test_flapping_as_needs_more_successes_each_time(rig) -> None:
    checker, server, changes, run_until = rig
    checker.configure([target(fall=1, rise=2, flap_window=60)])
    needed, answered = [], []
    t = 0.0
    for _ in range(3):
        server.mode = "refuse"
        while checker.is_up(1, 7):
            t += 0.5
            run_until(t)
        needed.append(checker.status()[0]["ases"][0]["rise_needed"])
        server.mode = "accept"
        ok_before = checker.status()[0]["ases"][0]["probes"]["ok"]
        while not checker.is_up(1, 7):
            t += 0.5
            run_until(t)
        answered.append(checker.status()[0]["ases"][0]["probes"]["ok"] - ok_before)
    assert needed == [2, 4, 8] and answered == [2, 4, 8]
    ups = [c for c in changes if c.up]
    assert "damped after 3 downs" in ups[-1].reason


def test_without_flap_window_rise_stays_rise(rig) -> None:
    checker, server, changes, run_until = rig
    checker.configure([target(fall=1, rise=2, flap_window=0)])
    for t in (1.0, 5.0, 9.0):
        server.mode = "refuse"
        run_until(t)
        assert checker.status()[0]["ases"][0]["rise_needed"] == 2
        server.mode = "accept"
        run_until(t + 3)


def test_answers_that_do_not_match_a_probe_are_ignored(rig) -> None:
    checker, server, changes, run_until = rig
    server.mode = "drop"
    checker.configure([target(fall=1)])
    run_until(0.1)
    (syn, _), = server.sent
    wrong = [
        Segment(VIP, SOURCE, 80, syn.src_port, 1, syn.seq + 2, TCP_SYN | TCP_ACK),  # wrong ack
        Segment(VIP, ip_address("192.0.2.98"), 80, syn.src_port, 1, syn.seq + 1,
                TCP_SYN | TCP_ACK),  # not our source
        Segment(VIP, SOURCE, 80, syn.src_port + 1, 1, syn.seq + 1, TCP_SYN | TCP_ACK),
        Segment(VIP, SOURCE, 80, syn.src_port, 1, syn.seq + 1, TCP_ACK),  # no SYN, no RST
    ]
    for seg in wrong:
        checker.packet_in(build_frame(seg))
    checker.packet_in(b"\x00" * 10)
    run_until(0.4)
    assert checker.stray_answers == 5 and checker.is_up(1, 7)
    run_until(0.6)  # the probe times out: none of those answered it
    assert not checker.is_up(1, 7)


def test_no_switch_to_send_through_is_not_a_failure(rig) -> None:
    checker, server, changes, run_until = rig
    server.connected = False
    checker.configure([target(fall=1)])
    run_until(2.9)
    (a,) = checker.status()[0]["ases"]
    assert a["probes"]["unsent"] == 3 and a["state"] == "up" and changes == []


def test_targets_come_and_go_and_keep_their_state(rig) -> None:
    checker, server, changes, run_until = rig
    checker.configure([target(7, fall=1)])
    server.mode = "refuse"
    run_until(0.1)
    assert not checker.is_up(1, 7)
    checker.configure([target(7, fall=1, interval_ms=500), target(8, fall=1)])
    assert not checker.is_up(1, 7) and checker.is_up(1, 8)
    checker.configure([target(8, fall=1)])
    assert checker.is_up(1, 7)  # not checked any more: up
    assert [a["id"] for a in checker.status()[0]["ases"]] == [8]


@pytest.mark.parametrize("family", [4, 6])
def test_probe_frames_are_what_scapy_reads(family: int) -> None:
    src, dst = (("192.0.2.99", "10.0.0.1") if family == 4 else ("2001:db8::99", "2001:db8::1"))
    seg = Segment(ip_address(src), ip_address(dst), 40001, 443, 0xDEADBEEF, 0, TCP_SYN)
    frame = build_frame(seg, ident=77)
    pkt = Ether(frame)
    ip = pkt[IP] if family == 4 else pkt[IPv6]
    assert (ip.src, ip.dst) == (src, dst)
    tcp = pkt[TCP]
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.flags) == (40001, 443, 0xDEADBEEF, "S")
    # The checksums scapy computes for the same headers are the ones we wrote.
    rebuilt = pkt.copy()
    if family == 4:
        del rebuilt[IP].chksum
        assert ip.ttl == 64 and ip.flags == "DF" and ip.id == 77
    del rebuilt[TCP].chksum
    assert bytes(Ether(bytes(rebuilt))) == frame
    assert parse_frame(frame) == seg


def test_parse_frame_refuses_what_is_not_a_whole_tcp_segment() -> None:
    good = build_frame(Segment(SOURCE, VIP, 1, 2, 3, 4, TCP_SYN))
    assert parse_frame(good[:-1]) is None  # truncated TCP header
    assert parse_frame(good[:13]) is None
    udp = bytes(Ether() / IP(src="10.0.0.1", dst="192.0.2.99", proto=17) / (b"x" * 30))
    assert parse_frame(udp) is None
    fragment = bytes(Ether() / IP(src="10.0.0.1", dst="192.0.2.99", frag=5) / TCP())
    assert parse_frame(fragment) is None
    arp = bytes.fromhex("ffffffffffff020000000001" "0806") + bytes(28)
    assert parse_frame(arp) is None


def test_mixed_families_are_refused() -> None:
    with pytest.raises(ValueError, match="mixed address families"):
        build_frame(Segment(SOURCE, ip_address("2001:db8::1"), 1, 2, 3, 4, TCP_SYN))


def test_down_action_default_is_drain() -> None:
    assert HealthCheck().on_down is DownAction.DRAIN
