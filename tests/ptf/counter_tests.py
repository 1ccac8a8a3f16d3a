"""Per-VIP and per-AS counters read back through the controller match the packets sent."""

from __future__ import annotations

import re

from base_test import CLIENT_MAC, CLIENT_PORT, LB_MAC, SERVER_PORT, LbTest
from ptf import testutils as tu
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether

VIP_NET = "10.0.1.0/24"  # a VIP prefix wider than /32: every address in it is the VIP


def counters(shown: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\s+(packet from existing sessions|first session packet|"
                                 r"untracked packet|no server configured): (\d+)$", shown, re.M)}


def as_packets(shown: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\s+(\S+) \[\d+\].* (\d+) packets$", shown, re.M)}


class VipAndAsCountersMatchTraffic(LbTest):
    def runTest(self) -> None:
        self.cmd("lb conf timeout 60")
        self.vip(f"{VIP_NET} encap gre4 new_len 64")
        self.ases(VIP_NET, "10.1.0.1", "10.1.0.2")

        def send(frame) -> None:
            tu.send_packet(self, CLIENT_PORT, frame)
            assert isinstance(tu.dp_poll(self, port_number=SERVER_PORT, timeout=2),
                              self.dataplane.PollSuccess)

        flows = [(f"10.0.1.{n}", 1000 + n) for n in range(1, 11)]
        for dst, sport in flows:  # 10 new flows to 10 addresses of the prefix
            send(Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT])
                 / IP(src="198.51.100.7", dst=dst) / TCP(sport=sport, dport=80))
        self.wait_flows("flow4", 10)
        for dst, sport in flows * 2:  # 20 packets of the now known flows
            send(Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT])
                 / IP(src="198.51.100.7", dst=dst) / TCP(sport=sport, dport=80, flags="A"))
        datagram = IP(src="198.51.100.7", dst="10.0.1.99", id=77) / UDP(dport=53) / (b"y" * 900)
        for frag in fragment(datagram, fragsize=400):  # 3 untracked fragments
            send(Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT]) / frag)

        shown = self.cmd("show lb vips verbose")
        got = counters(shown)
        assert got == {
            "packet from existing sessions": 20,
            "first session packet": 10,
            "untracked packet": 3,
            "no server configured": 0,
        }, shown
        per_as = as_packets(shown)
        assert set(per_as) == {"10.1.0.1", "10.1.0.2"} and sum(per_as.values()) == 33, shown
