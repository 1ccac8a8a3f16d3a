"""The base of every p4lb PTF test: connect, configure through the controller, undo.

The suite runs with `ptf --platform nn` against a switch started with
`--packet-in` and a controller daemon (tests/test_ptf_suite.py starts both).
Tests configure the load balancer through the controller's management API,
as lbctl does, so the real control plane is exercised; they read switch
state back through P4Runtime where they need it. Everything a test
configures is undone in tearDown (flows flushed first), so tests are
independent and can run in any order.
"""

from __future__ import annotations

import sys
import zlib
from ipaddress import ip_address
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ptf  # noqa: E402
from google.protobuf import text_format  # noqa: E402
from ptf import testutils as tu  # noqa: E402
from ptf.base_tests import BaseTest  # noqa: E402

from controller.management_api import CommandError, ManagementClient  # noqa: E402
from controller.p4_schema import P4Schema  # noqa: E402
from controller.p4runtime_proto import p4info_pb2  # noqa: E402
from tests.integration.lb_fixture import SwitchReader, wait_for  # noqa: E402

LB_P4INFO = ROOT / "p4src" / "build" / "lb.p4info.txt"

# The test network: clients behind port 1, servers behind ports 2 and 3.
CLIENT_PORT, SERVER_PORT, SERVER6_PORT = 1, 2, 3
LB_MAC = {p: f"02:4c:42:00:00:{p:02x}" for p in range(8)}
CLIENT_MAC, SERVER_MAC, SERVER6_MAC = "02:00:00:00:00:c1", "02:00:00:00:00:a5", "02:00:00:00:00:a6"
GRE_SRC4, GRE_SRC6 = "192.0.2.1", "2001:db8:ffff::1"
BASE_CONFIG = (
    f"lb conf ip4-src-address {GRE_SRC4} ip6-src-address {GRE_SRC6}",
    f"ip route add 198.51.100.0/24 via {CLIENT_MAC} port {CLIENT_PORT}",
    f"ip route add 2001:db8:c::/48 via {CLIENT_MAC} port {CLIENT_PORT}",
    f"ip route add 10.1.0.0/16 via {SERVER_MAC} port {SERVER_PORT}",
    f"ip route add 2001:db8:a::/48 via {SERVER6_MAC} port {SERVER6_PORT}",
)


def rewritten(frame, port: int, dst_mac: str, **fields: object):
    """`frame` as the LB sends it out of `port`: MACs rewritten, `fields` set
    (`IP_ttl=63, TCP_dport=8080`), IPv4/TCP/UDP checksums recomputed, so the
    comparison also proves the LB's checksums right."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    layers = {"IP": IP, "IPv6": IPv6, "TCP": TCP, "UDP": UDP}
    out = frame.copy()
    out[Ether].src, out[Ether].dst = LB_MAC[port], dst_mac
    for name, value in fields.items():
        layer, attr = name.split("_", 1)
        setattr(out[layers[layer]], attr, value)
    for layer in (IP, TCP, UDP):
        if layer in out:
            del out[layer].chksum
    return Ether(bytes(out))


def maglev_bucket(src: str, dst: str, protocol: int, sport: int, dport: int, new_len: int) -> int:
    """The bucket lb.p4 hashes a flow to: crc32 over the packed 5-tuple, masked."""
    data = (
        ip_address(src).packed + ip_address(dst).packed + bytes([protocol])
        + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    )
    return zlib.crc32(data) & (new_len - 1)


class LbTest(BaseTest):
    def setUp(self) -> None:
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()
        params = tu.test_params_get()
        self.lb = ManagementClient(Path(params["socket"]))
        info = p4info_pb2.P4Info()
        text_format.Parse(LB_P4INFO.read_text(), info)
        self.schema = P4Schema(info)
        self.switch = SwitchReader(params["grpc_addr"], self.schema)
        self._undo: list[str] = []
        self._vips: list[str] = []
        self._ases: dict[str, list[str]] = {}
        for line in BASE_CONFIG:
            self.cmd(line)
        self._undo = [line.replace("ip route add", "ip route del").split(" via")[0]
                      for line in BASE_CONFIG if line.startswith("ip route")]

    def tearDown(self) -> None:
        # Flows first, so nothing is left draining; a test may already have
        # removed what it configured, which is fine.
        for key in reversed(self._vips):
            self._quietly(f"lb flush vip {key}")
            for addr in self._ases.get(key, []):
                self._quietly(f"lb as {key} {addr} del flush")
            self._quietly(f"lb vip {key} del")
        for line in reversed(self._undo):
            self.lb.run(line)
        self.lb.run("lb conf timeout 40")
        self.lb.close()
        self.switch.close()
        BaseTest.tearDown(self)

    # --- configuration that undoes itself -----------------------------------------

    def cmd(self, line: str) -> str:
        return self.lb.run(line)

    def _quietly(self, line: str) -> None:
        try:
            self.lb.run(line)
        except CommandError:
            pass

    def vip(self, spec: str) -> None:
        """`lb vip <spec>`; the VIP and every AS added to it go away in tearDown."""
        self.cmd(f"lb vip {spec}")
        key = spec.split(" encap")[0].split(" new_len")[0].split(" src_ip_sticky")[0]
        self._vips.append(key)

    def ases(self, vip_key: str, *addresses: str, weight: int | None = None) -> None:
        extra = f" weight {weight}" if weight is not None else ""
        self.cmd(f"lb as {vip_key} {' '.join(addresses)}{extra}")
        self._ases.setdefault(vip_key, []).extend(addresses)

    # --- the switch ------------------------------------------------------------------

    def bucket_owner(self, vip_id: int, bucket: int) -> int | None:
        for e in self.switch.table("maglev"):
            if e.key == (vip_id, bucket):
                return e.params[0]
        return None

    def vip_id(self, vip_key: str) -> int:
        shown = self.cmd("show lb vips")
        for line in shown.splitlines():
            # "ip4-gre4 [3] 10.0.0.1/32 ..." (with "protocol:tcp port:80" for per-port VIPs)
            if f"] {vip_key.split()[0]} " in line + " ":
                if " protocol " in vip_key:
                    proto, port = vip_key.split()[2], vip_key.split()[4]
                    if f"protocol:{proto} port:{port}" not in line:
                        continue
                return int(line.split("[")[1].split("]")[0])
        raise AssertionError(f"VIP {vip_key} not in show lb vips:\n{shown}")

    def as_address(self, as_id: int) -> str:
        for line in self.cmd("show lb vips verbose").splitlines():
            if f"[{as_id}]" in line and "weight" in line:
                return line.split()[0]
        raise AssertionError(f"AS id {as_id} not shown")

    def wait_flows(self, table: str, count: int) -> list:
        return wait_for(lambda: len(self.switch.table(table)) == count
                        and self.switch.table(table), timeout=10)
