"""lb.p4 programmed by p4runtime-shell alone (no p4lb controller): a packet to the
VIP leaves GRE-encapsulated towards the AS. tests/test_ptf_p4runtime_shell.py
writes the entries and runs this directory with `ptf --platform nn`."""

from __future__ import annotations

import ptf
from ptf import testutils as tu
from ptf.base_tests import BaseTest
from scapy.layers.inet import GRE, IP, TCP
from scapy.layers.l2 import Ether


class GreFromShellEntries(BaseTest):
    def setUp(self) -> None:
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()

    def runTest(self) -> None:
        inner = IP(src="198.51.100.9", dst="10.0.0.1", ttl=64, id=5) / TCP(sport=4321, dport=80)
        frame = Ether(src="02:00:00:00:00:c1", dst="02:4c:42:00:00:01") / inner
        expected = (Ether(src="02:4c:42:00:00:02", dst="02:00:00:00:00:a5")
                    / IP(src="192.0.2.1", dst="10.1.0.7", ttl=128, proto=47, id=0, flags=0)
                    / GRE(proto=0x0800) / inner)
        tu.send_packet(self, 1, frame)
        tu.verify_packet(self, expected, 2)
        tu.verify_no_other_packets(self)
