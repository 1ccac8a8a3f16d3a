"""Damaged frames and nanomsg messages into the load balancer (lb.p4 on a switch
process, configured by the controller); valid traffic must pass right after.

Frames start as well-formed VIP and routed packets (IPv4 with and without
options, IPv6, TCP, UDP, fragments) and are cut, overwritten, padded or
replaced; nanomsg messages get random headers, lengths and ports. After each
example a routed packet and a VIP packet, marked, must come out where they
belong.
"""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
from scapy.layers.l2 import Ether

from p4switch.launch import SwitchProcess
from tests.fuzz.conftest import examples
from tests.fuzz.mutations import damaged
from tests.integration.lb_fixture import LB_JSON, PacketWire, start_service

CLIENT, SERVER = 1, 2
LB_MAC = "02:4c:42:00:00:01"
VIP = "10.0.0.1"
_marks = itertools.count(1)


@pytest.fixture(scope="module")
def lb(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-frames")
    ipc = f"ipc://{tmp}/ports.ipc"
    switch = SwitchProcess(LB_JSON, packet_in=ipc, log_path=tmp / "switch.log").start()
    service = wire = None
    try:
        service = start_service(switch, tmp / "state.json")
        for line in ("lb conf ip4-src-address 192.0.2.1",
                     f"lb vip {VIP}/32 encap gre4",
                     f"lb as {VIP}/32 10.1.0.1 10.1.0.2",
                     f"ip route add 10.1.0.0/16 via 02:00:00:00:00:02 port {SERVER}",
                     f"ip route add 198.51.100.0/24 via 02:00:00:00:00:01 port {CLIENT}",
                     "ip route add 2001:db8:a::/48 via 02:00:00:00:00:02 port 2"):
            service.execute(line)
        wire = PacketWire(ipc)
        yield wire
    finally:
        if wire:
            wire.close()
        if service:
            service.close()
        switch.stop()


def seeds() -> list[bytes]:
    eth = Ether(src="02:00:00:00:00:01", dst=LB_MAC)
    return [bytes(p) for p in (
        eth / IP(src="198.51.100.7", dst=VIP) / TCP(sport=1000, dport=80) / (b"x" * 10),
        eth / IP(src="198.51.100.7", dst="10.1.0.9") / UDP(sport=5, dport=53) / (b"y" * 4),
        eth / IP(src="198.51.100.7", dst=VIP, options=[IPOption_RR(routers=["0.0.0.0"])])
        / UDP(sport=7, dport=9),
        eth / IP(src="198.51.100.7", dst=VIP, flags="MF", frag=0) / TCP(dport=80),
        eth / IP(src="198.51.100.7", dst=VIP, frag=3) / (b"z" * 16),
        eth / IPv6(src="2001:db8:c::1", dst="2001:db8:a::9") / UDP(sport=1, dport=2),
        eth / IPv6(src="2001:db8:c::1", dst="2001:db8:a::9") / IPv6ExtHdrFragment(offset=1)
        / (b"w" * 8),
    )]


SEEDS = seeds()

frames = st.sampled_from(SEEDS).flatmap(damaged)
nanomsg_messages = st.one_of(
    st.just(b""),
    st.binary(max_size=11),  # shorter than a header
    st.builds(lambda kind, port, more, body: struct.pack("<iii", kind, port, more) + body,
              st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1),
              st.integers(-(2**31), 2**31 - 1), st.binary(max_size=64)),
    st.builds(lambda port, frame, extra: struct.pack("<iii", 3, port, len(frame) + extra)
              + frame, st.integers(-3, 600), frames, st.integers(-20, 20)),
)


def probe_frames(mark: int) -> tuple[bytes, bytes]:
    eth = Ether(src="02:00:00:00:00:01", dst=LB_MAC)
    tag = b"probe-%08d" % mark
    routed = eth / IP(src="198.51.100.7", dst="10.1.0.9", id=mark & 0xFFFF) / UDP() / tag
    to_vip = eth / IP(src="198.51.100.8", dst=VIP) / TCP(sport=2000, dport=80) / tag
    return bytes(routed), bytes(to_vip)


def assert_passes(wire: PacketWire, mark: int) -> None:
    routed, to_vip = probe_frames(mark)
    wire.send(CLIENT, routed)
    wire.send(CLIENT, to_vip)
    tag = b"probe-%08d" % mark
    seen = []
    while len(seen) < 2:
        got = wire.receive(timeout=5)
        assert got is not None, f"probe {mark}: only {len(seen)} of 2 came out"
        port, frame = got
        if frame.endswith(tag):
            assert port == SERVER
            seen.append(frame)
    outer = [Ether(f) for f in seen]
    assert any(IP in f and f[IP].proto == 47 for f in outer), "the VIP packet is not GRE"


@examples(small=40)
@given(messages=st.lists(st.one_of(frames.map(lambda f: (CLIENT, f)),
                                   nanomsg_messages.map(lambda m: (None, m))),
                         min_size=1, max_size=6))
def test_damaged_frames_never_stop_valid_traffic(lb, messages) -> None:
    wire = lb
    for port, payload in messages:
        if port is None:
            wire.sock.send(payload)  # a whole nanomsg message, header and all
        else:
            wire.send(port, payload)
    assert_passes(wire, next(_marks))
