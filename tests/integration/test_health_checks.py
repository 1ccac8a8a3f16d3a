"""Health checks through the data path, on a real switch: the controller's probes
leave by the AS's port encapsulated as the VIP's traffic is, and the answers a
server gives (played here on the switch's ports) come back to the controller
as PacketIn. The switch runs lb.p4 with its CPU port (--cpu-port 510)."""

from __future__ import annotations

import threading
import time

import pytest
from scapy.layers.inet import GRE, IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from tests.integration.lb_fixture import wait_for
from tests.integration.test_controller_on_switch import CLIENT_PORT, client_syn

SERVER_PORT = 1
HC_SOURCE, GRE_SOURCE = "192.0.2.99", "192.0.2.1"
HC6_SOURCE, GRE6_SOURCE = "2001:db8:99::99", "2001:db8:ff::1"
VIP6 = "2001:db8::1"
LB_SERVER_MAC = "02:4c:42:00:00:01"
INTERVAL, FALL, RISE = 0.2, 2, 2


class Servers:
    """The ASs behind SERVER_PORT, as a test plays them: each answers a probe's SYN
    per its mode ('accept': SYN-ACK, 'refuse': RST, 'dead': nothing)."""

    def __init__(self, rig) -> None:
        self.rig = rig
        self.modes: dict[str, str] = {}
        self.probes: list[tuple[str, Ether]] = []  # (AS address, frame as it left the LB)
        self.resets: list[Ether] = []
        self.client_packets: list[Ether] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _serve(self) -> None:
        while not self._stop.is_set():
            got = self.rig.wire.receive(0.1)
            if got is None:
                continue
            _port, frame = got
            pkt = Ether(frame)
            ip_layer = IP if IP in pkt else IPv6 if IPv6 in pkt else None
            if ip_layer is None:
                continue
            outer = pkt[ip_layer]
            inner = pkt[GRE].payload if GRE in pkt else outer
            as_address, vip_side = self._as_of(outer, inner)
            if TCP not in inner or inner.src not in (HC_SOURCE, HC6_SOURCE):
                self.client_packets.append(pkt)
                continue
            tcp = inner[TCP]
            if tcp.flags == "R":
                self.resets.append(pkt)
                continue
            self.probes.append((as_address, pkt))
            mode = self.modes.get(as_address, "accept")
            if mode == "dead":
                continue
            flags = "SA" if mode == "accept" else "RA"
            answer_ip = (IP(src=vip_side, dst=HC_SOURCE, ttl=64) if ip_layer is IP
                         else IPv6(src=vip_side, dst=HC6_SOURCE, hlim=64))
            answer = (Ether(dst=LB_SERVER_MAC, src="02:00:00:00:01:01") / answer_ip
                      / TCP(sport=tcp.dport, dport=tcp.sport, seq=1000, ack=tcp.seq + 1,
                            flags=flags))
            self.rig.wire.send(SERVER_PORT, bytes(answer))

    @staticmethod
    def _as_of(outer, inner) -> tuple[str, str]:
        """(the AS the frame went to, the address its answer comes from)."""
        if GRE in outer:
            return outer.dst, inner.dst  # the service answers from the VIP it holds
        if isinstance(outer, IP) and outer.tos >> 2:
            return outer.dst, "10.0.0.1"  # L3DSR: the server maps the DSCP back to the VIP
        return outer.dst, outer.dst  # NAT: from its own address (reverse NAT fixes that)


@pytest.fixture
def servers(rig):
    s = Servers(rig)
    yield s
    s.close()


def health(rig, address: str) -> dict:
    for check in rig.service.execute("show lb", as_json=True)["health"]:
        for a in check["ases"]:
            if a["address"] == address:
                return a
    raise AssertionError(f"{address} is not health-checked")


def bucket_holders(rig) -> set[str]:
    ids = {e.params[0] for e in rig.reader.table("maglev")}
    return {str(rig.service.config.as_by_id(i)[1].address) for i in ids}


# Per encap: the VIP's options, and the VIP, ASs and source addresses of its family.
_V4 = ("10.0.0.1/32", "10.1.0.1 10.1.0.2",
       f"ip4-src-address {GRE_SOURCE} hc4-src-address {HC_SOURCE}",
       ("ip route add 10.1.0.0/16 via 02:00:00:00:01:01 port 1",
        "ip route add 10.9.0.0/16 via 02:00:00:00:09:09 port 9"))
_V6 = (f"{VIP6}/128", "2001:db8:1::1 2001:db8:1::2",
       f"ip6-src-address {GRE6_SOURCE} hc6-src-address {HC6_SOURCE}",
       ("ip route add 2001:db8:1::/48 via 02:00:00:00:01:01 port 1",))
ENCAPS = {"gre4": ("encap gre4", _V4), "l3dsr": ("encap l3dsr dscp 10", _V4),
          "nat4": ("encap nat4 target_port 8080", _V4), "gre6": ("encap gre6", _V6),
          "nat6": ("encap nat6 target_port 8080", _V6)}


def setup(rig, encap: str, check: str = "") -> None:
    vip_options, (vip, ases, sources, routes) = ENCAPS[encap]
    rig.run(
        f"lb conf {sources} timeout 60", *routes,
        f"lb vip {vip} protocol tcp port 80 {vip_options} new_len 64",
        f"lb as {vip} protocol tcp port 80 {ases}",
        f"lb health-check {vip} protocol tcp port 80 interval {INTERVAL} timeout 0.1 "
        f"rise {RISE} fall {FALL} {check}",
    )


def test_gre_probes_are_encapsulated_like_client_traffic(rig, servers) -> None:
    setup(rig, "gre4")
    assert wait_for(lambda: {a for a, _ in servers.probes} == {"10.1.0.1", "10.1.0.2"})
    as_address, pkt = servers.probes[0]
    outer, inner = pkt[IP], pkt[GRE].payload
    assert (outer.src, outer.dst, outer.proto, outer.ttl) == (GRE_SOURCE, as_address, 47, 128)
    assert (inner.src, inner.dst, inner[TCP].dport, inner[TCP].flags) == (
        HC_SOURCE, "10.0.0.1", 80, "S")
    assert pkt[Ether].dst == "02:00:00:00:01:01"  # routed like any packet to the AS
    # Every accepted probe is closed with a RST, through the same tunnel.
    assert wait_for(lambda: servers.resets)
    assert servers.resets[0][IP].dst in ("10.1.0.1", "10.1.0.2")
    assert wait_for(lambda: health(rig, "10.1.0.1")["probes"]["ok"] >= 3)
    assert health(rig, "10.1.0.1")["state"] == "up"
    # Probes are neither flows nor VIP traffic.
    assert rig.reader.table("flow4") == [] and len(rig.service.dataplane.learner) == 0


def test_a_dead_as_loses_its_buckets_within_fall_intervals_and_comes_back(rig, servers) -> None:
    setup(rig, "gre4")
    assert wait_for(lambda: health(rig, "10.1.0.2")["probes"]["ok"] >= 1)
    assert bucket_holders(rig) == {"10.1.0.1", "10.1.0.2"}
    servers.modes["10.1.0.2"] = "dead"
    killed = time.monotonic()
    assert wait_for(lambda: bucket_holders(rig) == {"10.1.0.1"}, timeout=10, step=0.01)
    assert time.monotonic() - killed <= FALL * INTERVAL + 1
    down = health(rig, "10.1.0.2")
    assert down["state"] == "down" and "timed out" in down["reason"]
    shown = rig.run("show lb")
    assert "10.1.0.2 [2] down since" in shown and "health events:" in shown
    vips = rig.run("show lb vips verbose")
    assert "used (down)" in vips and "0 buckets" in vips
    servers.modes["10.1.0.2"] = "accept"
    revived = time.monotonic()
    assert wait_for(lambda: bucket_holders(rig) == {"10.1.0.1", "10.1.0.2"}, timeout=10)
    assert time.monotonic() - revived >= (RISE - 1) * INTERVAL
    assert health(rig, "10.1.0.2")["state"] == "up"
    events = rig.service.execute("show lb", as_json=True)["health_events"]
    assert [(e["as"], e["state"]) for e in events] == [("10.1.0.2", "down"), ("10.1.0.2", "up")]


def test_refusing_as_is_down_and_its_flows_are_flushed_when_asked(rig, servers) -> None:
    setup(rig, "gre4", "on_down flush")
    for sport in range(41000, 41012):
        rig.wire.send(CLIENT_PORT, client_syn(sport, dport=80))
    assert wait_for(lambda: len(rig.service.dataplane.learner) == 12)
    pinned = {str(rig.service.config.as_by_id(a)[1].address)
              for _k, a in rig.service.dataplane.learner.flows()}
    assert pinned == {"10.1.0.1", "10.1.0.2"}
    servers.modes["10.1.0.1"] = "refuse"
    assert wait_for(lambda: health(rig, "10.1.0.1")["state"] == "down")
    assert "refused" in health(rig, "10.1.0.1")["reason"]
    flows = rig.service.dataplane.learner.flows()
    assert flows and all(str(rig.service.config.as_by_id(a)[1].address) == "10.1.0.2"
                         for _k, a in flows)
    assert all(e.params[0] == flows[0][1] for e in rig.reader.table("flow4"))


def test_drain_keeps_the_flows_of_a_down_as(rig, servers) -> None:
    setup(rig, "gre4")
    for sport in range(42000, 42012):
        rig.wire.send(CLIENT_PORT, client_syn(sport, dport=80))
    assert wait_for(lambda: len(rig.service.dataplane.learner) == 12)
    servers.modes["10.1.0.1"] = "dead"
    assert wait_for(lambda: health(rig, "10.1.0.1")["state"] == "down")
    assert len(rig.service.dataplane.learner) == 12  # its flows drain


@pytest.mark.parametrize("encap", ["nat4", "l3dsr"])
def test_nat_and_l3dsr_probes_prove_the_rewrite(rig, servers, encap: str) -> None:
    setup(rig, encap)
    assert wait_for(lambda: health(rig, "10.1.0.1")["probes"]["ok"] >= 2)
    _as, pkt = next(p for p in servers.probes if p[0] == "10.1.0.1")
    ip, tcp = pkt[IP], pkt[TCP]
    assert ip.src == HC_SOURCE and ip.dst == "10.1.0.1"
    if encap == "nat4":
        # The AS answers from its own address and port 8080: only reverse NAT turns
        # that back into VIP:80, which is what the probe is waiting for.
        assert tcp.dport == 8080
    else:
        assert tcp.dport == 80 and ip.tos >> 2 == 10
    servers.modes["10.1.0.1"] = "dead"
    assert wait_for(lambda: health(rig, "10.1.0.1")["state"] == "down")
    assert wait_for(lambda: bucket_holders(rig) == {"10.1.0.2"})


def test_health_state_is_in_the_metrics(rig, servers) -> None:
    from controller.metrics import LbCollector

    setup(rig, "gre4")
    servers.modes["10.1.0.2"] = "dead"
    assert wait_for(lambda: health(rig, "10.1.0.2")["state"] == "down")
    samples = {
        (s.name, s.labels.get("as"), s.labels.get("result")): s.value
        for family in LbCollector(lambda line: rig.service.execute(line, as_json=True)).collect()
        for s in family.samples if s.name.startswith("p4lb_health")
    }
    assert samples[("p4lb_health_up", "10.1.0.1", None)] == 1
    assert samples[("p4lb_health_up", "10.1.0.2", None)] == 0
    assert samples[("p4lb_health_transitions_total", "10.1.0.2", None)] == 1
    assert samples[("p4lb_health_probes_total", "10.1.0.2", "timeout")] >= FALL


def test_a_probe_naming_an_unknown_as_is_a_counted_drop(rig, servers) -> None:
    from ipaddress import ip_address

    from controller.health_probe import TCP_SYN, Segment, build_frame

    setup(rig, "gre4")
    rig.run("lb health-check 10.0.0.1/32 protocol tcp port 80 del")
    before = rig.service.execute("show lb", as_json=True)["drops"]["no server"]["packets"]
    frame = build_frame(Segment(ip_address(HC_SOURCE), ip_address("10.0.0.1"), 40000, 80, 1, 0,
                                TCP_SYN))
    assert rig.service.dataplane.send_probe(frame, 999)
    assert wait_for(lambda: rig.service.execute("show lb", as_json=True)["drops"]["no server"]
                    ["packets"] == before + 1)
    assert len(rig.run("show lb flows").splitlines()) == 1  # "no tracked flows"


def test_gre6_probes_travel_the_ipv6_tunnel_and_a_dead_as_goes_down(rig, servers) -> None:
    setup(rig, "gre6")
    assert wait_for(lambda: {a for a, _ in servers.probes} == {"2001:db8:1::1", "2001:db8:1::2"})
    as_address, pkt = servers.probes[0]
    outer, inner = pkt[IPv6], pkt[GRE].payload
    assert (outer.src, outer.dst, outer.nh) == (GRE6_SOURCE, as_address, 47)
    assert pkt[GRE].proto == 0x86DD
    assert (inner.src, inner.dst, inner[TCP].dport, inner[TCP].flags) == (
        HC6_SOURCE, VIP6, 80, "S")
    assert wait_for(lambda: health(rig, "2001:db8:1::1")["probes"]["ok"] >= 2)
    assert health(rig, "2001:db8:1::1")["state"] == "up"
    servers.modes["2001:db8:1::2"] = "dead"
    assert wait_for(lambda: bucket_holders(rig) == {"2001:db8:1::1"}, timeout=10)
    assert "timed out" in health(rig, "2001:db8:1::2")["reason"]
    servers.modes["2001:db8:1::2"] = "accept"
    assert wait_for(lambda: bucket_holders(rig) == {"2001:db8:1::1", "2001:db8:1::2"},
                    timeout=10)
    assert rig.reader.table("flow6") == []  # probes are not flows


def test_nat6_probes_are_rewritten_and_answered_through_reverse_nat(rig, servers) -> None:
    setup(rig, "nat6")
    assert wait_for(lambda: health(rig, "2001:db8:1::1")["probes"]["ok"] >= 2)
    _as, pkt = next(p for p in servers.probes if p[0] == "2001:db8:1::1")
    assert (pkt[IPv6].src, pkt[IPv6].dst, pkt[TCP].dport) == (HC6_SOURCE, "2001:db8:1::1", 8080)
    servers.modes["2001:db8:1::1"] = "refuse"
    assert wait_for(lambda: health(rig, "2001:db8:1::1")["state"] == "down")
    assert "refused" in health(rig, "2001:db8:1::1")["reason"]
    assert wait_for(lambda: bucket_holders(rig) == {"2001:db8:1::2"})
