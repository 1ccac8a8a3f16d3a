"""Each encap on each allowed VIP/AS family pair, with exact headers."""

from __future__ import annotations

from base_test import (
    CLIENT_MAC,
    CLIENT_PORT,
    GRE_SRC4,
    GRE_SRC6,
    LB_MAC,
    SERVER6_MAC,
    SERVER6_PORT,
    SERVER_MAC,
    SERVER_PORT,
    LbTest,
    maglev_bucket,
    rewritten,
)
from ptf import testutils as tu
from scapy.layers.inet import GRE, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

CLIENT4, CLIENT6 = "198.51.100.7", "2001:db8:c::7"


def client_frame(dst: str, sport: int = 12345, dport: int = 80, proto: str = "tcp",
                 tos: int = 0, ttl: int = 64) -> Ether:
    l4 = TCP(sport=sport, dport=dport, flags="S") if proto == "tcp" else UDP(sport=sport,
                                                                            dport=dport)
    if ":" in dst:
        ip = IPv6(src=CLIENT6, dst=dst, hlim=ttl, tc=tos)
    else:
        ip = IP(src=CLIENT4, dst=dst, ttl=ttl, tos=tos, id=7)
    return Ether(src=CLIENT_MAC, dst=LB_MAC[CLIENT_PORT]) / ip / l4 / b"p4lb payload"


class EncapTest(LbTest):
    def chosen_as(self, vip_key: str, frame: Ether, new_len: int) -> str:
        ip = frame[IP] if IP in frame else frame[IPv6]
        l4 = frame[TCP] if TCP in frame else frame[UDP]
        proto = 6 if TCP in frame else 17
        bucket = maglev_bucket(ip.src, ip.dst, proto, l4.sport, l4.dport, new_len)
        owner = self.bucket_owner(self.vip_id(vip_key), bucket)
        assert owner is not None, f"no AS for bucket {bucket}"
        return self.as_address(owner)


class Gre4OnIpv4Vip(EncapTest):
    def runTest(self) -> None:
        self.vip("10.0.0.1/32 encap gre4 new_len 64")
        self.ases("10.0.0.1/32", "10.1.0.1", "10.1.0.2", "10.1.0.3")
        frame = client_frame("10.0.0.1")
        server = self.chosen_as("10.0.0.1/32", frame, 64)
        inner = frame[IP]
        expected = (Ether(src=LB_MAC[SERVER_PORT], dst=SERVER_MAC)
                    / IP(src=GRE_SRC4, dst=server, ttl=128, proto=47, id=0, flags=0)
                    / GRE(proto=0x0800) / inner)
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, expected, SERVER_PORT)
        tu.verify_no_other_packets(self)


class Gre6OnIpv4Vip(EncapTest):
    def runTest(self) -> None:
        self.vip("10.0.0.6/32 encap gre6 new_len 64")
        self.ases("10.0.0.6/32", "2001:db8:a::1", "2001:db8:a::2")
        frame = client_frame("10.0.0.6", proto="udp", dport=53)
        server = self.chosen_as("10.0.0.6/32", frame, 64)
        expected = (Ether(src=LB_MAC[SERVER6_PORT], dst=SERVER6_MAC)
                    / IPv6(src=GRE_SRC6, dst=server, hlim=128, nh=47)
                    / GRE(proto=0x0800) / frame[IP])
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, expected, SERVER6_PORT)
        tu.verify_no_other_packets(self)


class Gre6OnIpv6Vip(EncapTest):
    def runTest(self) -> None:
        self.vip("2001:db8:f::/64 encap gre6 new_len 128")
        self.ases("2001:db8:f::/64", "2001:db8:a::1", "2001:db8:a::2", "2001:db8:a::3")
        frame = client_frame("2001:db8:f::99", dport=443)
        server = self.chosen_as("2001:db8:f::/64", frame, 128)
        expected = (Ether(src=LB_MAC[SERVER6_PORT], dst=SERVER6_MAC)
                    / IPv6(src=GRE_SRC6, dst=server, hlim=128, nh=47)
                    / GRE(proto=0x86DD) / frame[IPv6])
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, expected, SERVER6_PORT)
        tu.verify_no_other_packets(self)


class Gre4OnIpv6Vip(EncapTest):
    def runTest(self) -> None:
        self.vip("2001:db8:f::1/128 encap gre4 new_len 64")
        self.ases("2001:db8:f::1/128", "10.1.0.1", "10.1.0.2")
        frame = client_frame("2001:db8:f::1")
        server = self.chosen_as("2001:db8:f::1/128", frame, 64)
        expected = (Ether(src=LB_MAC[SERVER_PORT], dst=SERVER_MAC)
                    / IP(src=GRE_SRC4, dst=server, ttl=128, proto=47, id=0, flags=0)
                    / GRE(proto=0x86DD) / frame[IPv6])
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, expected, SERVER_PORT)
        tu.verify_no_other_packets(self)


class L3dsrSetsDscpKeepsEcn(EncapTest):
    def runTest(self) -> None:
        self.vip("10.0.0.3/32 encap l3dsr dscp 10 new_len 64")
        self.ases("10.0.0.3/32", "10.1.0.1", "10.1.0.2")
        frame = client_frame("10.0.0.3", tos=0x03 | (5 << 2))  # ECN CE, some old DSCP
        server = self.chosen_as("10.0.0.3/32", frame, 64)
        # TCP's checksum covers the pseudo-header, which changed with the address.
        expected = rewritten(frame, SERVER_PORT, SERVER_MAC, IP_dst=server,
                             IP_tos=(10 << 2) | 0x03, IP_ttl=63)
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, expected, SERVER_PORT)
        tu.verify_no_other_packets(self)


class Nat4TcpAndUdpBothWays(EncapTest):
    def runTest(self) -> None:
        self.vip("10.0.0.4/32 protocol tcp port 80 encap nat4 type clusterip target_port 8080"
                 " new_len 64")
        self.ases("10.0.0.4/32 protocol tcp port 80", "10.1.0.1", "10.1.0.2")
        self.vip("10.0.0.4/32 protocol udp port 53 encap nat4 type nodeport target_port 5353"
                 " new_len 64")
        self.ases("10.0.0.4/32 protocol udp port 53", "10.1.0.3")
        for proto, port, target, key in (
            ("tcp", 80, 8080, "10.0.0.4/32 protocol tcp port 80"),
            ("udp", 53, 5353, "10.0.0.4/32 protocol udp port 53"),
        ):
            frame = client_frame("10.0.0.4", dport=port, proto=proto)
            server = self.chosen_as(key, frame, 64)
            l4 = "TCP" if proto == "tcp" else "UDP"
            expected = rewritten(frame, SERVER_PORT, SERVER_MAC, IP_dst=server, IP_ttl=63,
                                 **{f"{l4}_dport": target})
            tu.send_packet(self, CLIENT_PORT, frame)
            tu.verify_packet(self, expected, SERVER_PORT)
            # The server's answer comes back from the VIP's address and port.
            reply_l4 = (TCP(sport=target, dport=12345, flags="SA") if proto == "tcp"
                        else UDP(sport=target, dport=12345))
            reply = (Ether(src=SERVER_MAC, dst=LB_MAC[SERVER_PORT])
                     / IP(src=server, dst=CLIENT4, ttl=64, id=9) / reply_l4 / b"answer")
            back = rewritten(reply, CLIENT_PORT, CLIENT_MAC, IP_src="10.0.0.4", IP_ttl=63,
                             **{f"{l4}_sport": port})
            tu.send_packet(self, SERVER_PORT, reply)
            tu.verify_packet(self, back, CLIENT_PORT)
        tu.verify_no_other_packets(self)


class Nat6Tcp(EncapTest):
    def runTest(self) -> None:
        self.vip("2001:db8:f::4/128 protocol tcp port 80 encap nat6 target_port 8080 new_len 64")
        self.ases("2001:db8:f::4/128 protocol tcp port 80", "2001:db8:a::1", "2001:db8:a::2")
        frame = client_frame("2001:db8:f::4")
        server = self.chosen_as("2001:db8:f::4/128 protocol tcp port 80", frame, 64)
        expected = rewritten(frame, SERVER6_PORT, SERVER6_MAC, IPv6_dst=server, IPv6_hlim=63,
                             TCP_dport=8080)
        tu.send_packet(self, CLIENT_PORT, frame)
        tu.verify_packet(self, expected, SERVER6_PORT)
        tu.verify_no_other_packets(self)


class UnrelatedTrafficIsRoutedUntouched(EncapTest):
    def runTest(self) -> None:
        self.vip("10.0.0.4/32 protocol tcp port 80 encap nat4 target_port 8080 new_len 64")
        self.ases("10.0.0.4/32 protocol tcp port 80", "10.1.0.1")
        # A server talking from another port is not reverse-NATed, only routed.
        frame = (Ether(src=SERVER_MAC, dst=LB_MAC[SERVER_PORT])
                 / IP(src="10.1.0.1", dst=CLIENT4, ttl=64, id=3) / TCP(sport=22, dport=999))
        tu.send_packet(self, SERVER_PORT, frame)
        tu.verify_packet(self, rewritten(frame, CLIENT_PORT, CLIENT_MAC, IP_ttl=63), CLIENT_PORT)
        tu.verify_no_other_packets(self)
