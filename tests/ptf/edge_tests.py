"""Edge and bad input: each has a defined, counted outcome and never disturbs the next packet."""

from __future__ import annotations

from base_test import (
    CLIENT_MAC,
    CLIENT_PORT,
    LB_MAC,
    SERVER_MAC,
    SERVER_PORT,
    LbTest,
    rewritten,
)
from ptf import testutils as tu
from scapy.layers.inet import IP, TCP, UDP, IPOption_RR
from scapy.layers.l2 import ARP, Ether

VIP = "10.0.0.20"


def to_lb(payload) -> Ether:
    return Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT]) / payload


class EdgeTest(LbTest):
    def drops(self) -> dict[str, int]:
        out = {}
        for line in self.cmd("show lb").splitlines():
            if line.strip().startswith("drops "):
                name, value = line.strip()[len("drops "):].rsplit(":", 1)
                out[name] = int(value)
        return out

    def assert_dropped(self, frame, reason: str) -> None:
        before = self.drops().get(reason, 0)
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_no_other_packets(self, timeout=0.5)
        assert self.drops().get(reason, 0) == before + 1, (reason, self.drops())
        self.assert_still_forwarding()

    def assert_still_forwarding(self) -> None:
        ok = to_lb(IP(src="198.51.100.7", dst="10.1.0.9", ttl=9, id=4) / UDP(sport=1, dport=2))
        tu.send_packet(self, CLIENT_PORT, ok)
        tu.verify_packet(self, rewritten(ok, SERVER_PORT, SERVER_MAC, IP_ttl=8), SERVER_PORT)


class NoServerConfigured(EdgeTest):
    def runTest(self) -> None:
        self.vip(f"{VIP}/32 encap gre4")
        frame = to_lb(IP(src="198.51.100.7", dst=VIP) / TCP(dport=80))
        self.assert_dropped(frame, "no server")
        assert "no server configured: 1" in self.cmd("show lb vips verbose")


class DeletedVipIsRoutedAgain(EdgeTest):
    def runTest(self) -> None:
        self.vip("10.1.0.77/32 encap gre4")
        self.ases("10.1.0.77/32", "10.1.0.1")
        self.cmd("lb as 10.1.0.77/32 10.1.0.1 del flush")
        self.cmd("lb vip 10.1.0.77/32 del")
        frame = to_lb(IP(src="198.51.100.7", dst="10.1.0.77", ttl=5, id=2) / TCP(dport=80))
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, rewritten(frame, SERVER_PORT, SERVER_MAC, IP_ttl=4), SERVER_PORT)


class TtlExpiry(EdgeTest):
    def runTest(self) -> None:
        self.assert_dropped(to_lb(IP(src="198.51.100.7", dst="10.1.0.9", ttl=1) / UDP()),
                            "ttl expired")


class NoRoute(EdgeTest):
    def runTest(self) -> None:
        self.assert_dropped(to_lb(IP(src="198.51.100.7", dst="203.0.113.1") / UDP()), "no route")


class Ipv4OptionsAreParsedPastToThePorts(EdgeTest):
    def runTest(self) -> None:
        self.vip(f"{VIP}/32 protocol tcp port 80 encap nat4 target_port 8080")
        self.ases(f"{VIP}/32 protocol tcp port 80", "10.1.0.1")
        frame = to_lb(IP(src="198.51.100.7", dst=VIP, id=5, options=[IPOption_RR(routers=[
            "0.0.0.0"])]) / TCP(sport=1234, dport=80))
        expected = rewritten(frame, SERVER_PORT, SERVER_MAC, IP_dst="10.1.0.1", IP_ttl=63,
                             TCP_dport=8080)
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, expected, SERVER_PORT)


class BadIpv4Checksum(EdgeTest):
    def runTest(self) -> None:
        frame = to_lb(IP(src="198.51.100.7", dst="10.1.0.9", chksum=0x1234) / UDP())
        self.assert_dropped(frame, "bad ipv4 checksum")


class TruncatedHeaders(EdgeTest):
    def runTest(self) -> None:
        whole = bytes(to_lb(IP(src="198.51.100.7", dst="10.1.0.9") / TCP()))
        self.assert_dropped(whole[: 14 + 20 + 8], "parser error")  # TCP cut short
        self.assert_dropped(whole[: 14 + 12], "parser error")  # IPv4 cut short


class IpLengthBeyondTheFrame(EdgeTest):
    def runTest(self) -> None:
        frame = to_lb(IP(src="198.51.100.7", dst="10.1.0.9", len=400) / UDP())
        self.assert_dropped(frame, "truncated")


class BadIpVersionAndHeaderLength(EdgeTest):
    def runTest(self) -> None:
        raw = bytearray(bytes(to_lb(IP(src="198.51.100.7", dst="10.1.0.9") / UDP())))
        raw[14] = 0x44  # IHL 4 < 5
        self.assert_dropped(bytes(raw), "parser error")


class NonIpFrames(EdgeTest):
    def runTest(self) -> None:
        self.assert_dropped(Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(), "not ip")
        self.assert_dropped(bytes(Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT], type=0x88B5))
                            + b"\x00" * 46, "not ip")


class Ipv4TotalLengthBelowItsHeader(EdgeTest):
    """RFC 1812 5.2.2: a total length shorter than the header is dropped, and counted."""

    def runTest(self) -> None:
        for total_len in (0, 1, 19):
            frame = to_lb(IP(src="198.51.100.7", dst="10.1.0.9", len=total_len) / UDP())
            self.assert_dropped(frame, "bad ip length")
        with_options = to_lb(IP(src="198.51.100.7", dst="10.1.0.9", len=23, options=[
            IPOption_RR(routers=["0.0.0.0"])]) / UDP())  # a 28-byte header
        self.assert_dropped(with_options, "bad ip length")


class PortsBeyondTheDatagramAreNotRead(EdgeTest):
    """A datagram too short for its TCP or UDP header carries no ports: the bytes
    after it (here a whole TCP header) must not make it a per-port VIP's traffic."""

    def runTest(self) -> None:
        self.vip(f"{VIP}/32 protocol tcp port 80 encap nat4 target_port 8080")
        self.ases(f"{VIP}/32 protocol tcp port 80", "10.1.0.1")
        self.vip(f"{VIP}/32 protocol udp port 53 encap nat4 target_port 5353")
        self.ases(f"{VIP}/32 protocol udp port 53", "10.1.0.1")
        # not the VIPs' traffic, so routed as any other: 10.0.0.20 has no route
        for total_len in (20, 21, 39):
            frame = to_lb(IP(src="198.51.100.7", dst=VIP, len=total_len)
                          / TCP(sport=1234, dport=80))
            self.assert_dropped(frame, "no route")
        frame = to_lb(IP(src="198.51.100.7", dst=VIP, len=27) / UDP(sport=1234, dport=53))
        self.assert_dropped(frame, "no route")
        # the same, whole, is the VIP's
        whole = to_lb(IP(src="198.51.100.7", dst=VIP, id=9) / TCP(sport=1234, dport=80))
        tu.send_packet(self, CLIENT_PORT, whole)
        tu.verify_packet(self, rewritten(whole, SERVER_PORT, SERVER_MAC, IP_dst="10.1.0.1",
                                         IP_ttl=63, TCP_dport=8080), SERVER_PORT)
