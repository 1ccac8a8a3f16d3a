"""Distribution, stickiness, src_ip_sticky and fragments."""

from __future__ import annotations

import collections

from base_test import (
    CLIENT_MAC,
    CLIENT_PORT,
    LB_MAC,
    SERVER_PORT,
    LbTest,
    maglev_bucket,
)
from ptf import testutils as tu
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether

VIP = "10.0.0.10"
SERVERS = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"]


def syn(sport: int, src: str = "198.51.100.7", dst: str = VIP) -> Ether:
    return (Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT])
            / IP(src=src, dst=dst, id=1) / TCP(sport=sport, dport=80, flags="S"))


class LbBalancingTest(LbTest):
    def served_by(self, frame: Ether) -> str:
        """Sends a frame and returns the AS its GRE packet went to."""
        tu.send_packet(self, CLIENT_PORT, frame)
        result = tu.dp_poll(self, port_number=SERVER_PORT, timeout=2)
        assert isinstance(result, self.dataplane.PollSuccess), "no packet reached the servers"
        return Ether(result.packet)[IP].dst


class FairShareAndMaglevAgreement(LbBalancingTest):
    """400 flows over 4 ASs: each gets 100 ± 35 (a binomial 3-sigma bound is ~26),
    and each flow goes where the controller's bucket table says."""

    def runTest(self) -> None:
        self.vip(f"{VIP}/32 encap gre4 new_len 1024")
        self.ases(f"{VIP}/32", *SERVERS)
        vip_id = self.vip_id(f"{VIP}/32")
        owners = {e.key[1]: e.params[0] for e in self.switch.table("maglev")
                  if e.key[0] == vip_id}
        addr = {i: self.as_address(i) for i in set(owners.values())}
        seen = collections.Counter()
        for sport in range(20000, 20400):
            got = self.served_by(syn(sport))
            bucket = maglev_bucket("198.51.100.7", VIP, 6, sport, 80, 1024)
            assert got == addr[owners[bucket]], f"flow {sport}: bucket {bucket}"
            seen[got] += 1
        assert set(seen) == set(SERVERS)
        assert all(65 <= n <= 135 for n in seen.values()), seen


class FlowsStickThroughAsChanges(LbBalancingTest):
    def runTest(self) -> None:
        self.cmd("lb conf timeout 60")
        self.vip(f"{VIP}/32 encap gre4 new_len 256")
        self.ases(f"{VIP}/32", *SERVERS[:3])
        first = {sport: self.served_by(syn(sport)) for sport in range(30000, 30040)}
        self.wait_flows("flow4", 40)
        # Add an AS, reweight one, drain one: every known flow keeps its AS.
        self.ases(f"{VIP}/32", SERVERS[3])
        self.cmd(f"lb as {VIP}/32 {SERVERS[0]} weight 10")
        self.cmd(f"lb as {VIP}/32 {SERVERS[1]} del")
        for sport, server in first.items():
            assert self.served_by(syn(sport)) == server, f"flow {sport} moved"
        # A new flow never goes to the draining AS.
        news = {self.served_by(syn(sport)) for sport in range(31000, 31060)}
        assert SERVERS[1] not in news
        self.wait_flows("flow4", 100)  # every digest learned before the flush
        # `lb flush vip` forgets the flows: they are re-balanced, none to the drained AS.
        self.cmd(f"lb flush vip {VIP}/32")
        left = self.switch.table("flow4")
        assert left == [], (left, self.cmd(f"show lb flows vip {VIP}/32"))
        moved = {self.served_by(syn(sport)) for sport in range(30000, 30040)}
        assert SERVERS[1] not in moved


class IdleFlowIsRebalanced(LbBalancingTest):
    def runTest(self) -> None:
        self.cmd("lb conf timeout 1")
        self.vip(f"{VIP}/32 encap gre4 new_len 256")
        self.ases(f"{VIP}/32", SERVERS[0])
        assert self.served_by(syn(32000)) == SERVERS[0]
        self.wait_flows("flow4", 1)
        self.ases(f"{VIP}/32", SERVERS[1])
        # The flow's bucket may now belong to the new AS; after aging it follows it.
        self.wait_flows("flow4", 0)
        bucket = maglev_bucket("198.51.100.7", VIP, 6, 32000, 80, 256)
        owner = self.as_address(self.bucket_owner(self.vip_id(f"{VIP}/32"), bucket))
        assert self.served_by(syn(32000)) == owner


class SrcIpStickyKeepsASourceOnOneAs(LbBalancingTest):
    def runTest(self) -> None:
        self.vip(f"{VIP}/32 encap gre4 new_len 256 src_ip_sticky")
        self.ases(f"{VIP}/32", *SERVERS)
        self.vip("10.0.0.11/32 encap gre4 new_len 256")
        self.ases("10.0.0.11/32", *SERVERS)
        for client in ("198.51.100.7", "198.51.100.8", "198.51.100.9"):
            got = {self.served_by(syn(sport, src=client)) for sport in range(40000, 40030)}
            assert len(got) == 1, f"{client} spread over {got}"
        # The other VIP still spreads one source over several ASs.
        other = {self.served_by(syn(sport, dst="10.0.0.11")) for sport in range(40000, 40030)}
        assert len(other) > 1


class FragmentsOfADatagramReachOneAs(LbBalancingTest):
    def runTest(self) -> None:
        self.vip(f"{VIP}/32 encap gre4 new_len 256")
        self.ases(f"{VIP}/32", *SERVERS)
        for ident in range(5):
            datagram = IP(src="198.51.100.7", dst=VIP, id=100 + ident) / UDP(
                sport=5000 + ident, dport=53) / (b"x" * 1200)
            frags = fragment(datagram, fragsize=400)
            assert len(frags) == 4
            got = {self.served_by(Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT]) / f)
                   for f in frags}
            assert len(got) == 1, f"datagram {ident} split over {got}"
        # Fragments are forwarded but never learned as flows.
        learned = self.switch.table("flow4")
        assert learned == [], learned
