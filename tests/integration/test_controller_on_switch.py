"""The controller driving a real switch running lb.p4: read back, packets, flows."""

from __future__ import annotations

import ipaddress
import time

from scapy.layers.inet import GRE, IP, TCP, UDP
from scapy.layers.l2 import Ether

from controller.p4runtime_codec import parse_stream_message
from controller.p4runtime_proto import p4runtime_pb2
from tests.integration.lb_fixture import wait_for

VIP = "10.0.0.1"
ASES = ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
CLIENT_PORT, SERVER_PORT = 9, 1
LB_MAC = "02:4c:42:00:00:09"

SETUP = (
    "lb conf ip4-src-address 192.0.2.1 ip6-src-address 2001:db8::1 timeout 2",
    "ip route add 10.1.0.0/16 via 02:00:00:00:01:01 port 1",
    "ip route add 10.9.0.0/16 via 02:00:00:00:09:09 port 9",
    f"lb vip {VIP}/32 encap gre4 new_len 1024",
    f"lb as {VIP}/32 " + " ".join(ASES),
)


def as_address(as_id: int, rig) -> str:
    found = rig.service.config.as_by_id(as_id)
    return str(found[1].address)


def client_syn(sport: int, src: str = "10.9.0.5", dport: int = 80) -> bytes:
    return bytes(
        Ether(dst=LB_MAC, src="02:00:00:00:09:09")
        / IP(src=src, dst=VIP, ttl=64)
        / TCP(sport=sport, dport=dport, flags="S")
        / b"hello"
    )


def send_and_receive(rig, frame: bytes):
    rig.wire.send(CLIENT_PORT, frame)
    got = rig.wire.receive()
    assert got is not None, "the switch forwarded nothing"
    return got


def test_config_is_written_and_matches_the_controllers_maglev_table(rig) -> None:
    rig.run(*SETUP)
    vip_id = rig.service.config.vips()[0].vip_id
    (vip_entry,) = rig.reader.table("vip4")
    assert vip_entry.action == "set_vip" and vip_entry.params[0] == vip_id
    buckets = {e.key[1]: e.params[0] for e in rig.reader.table("maglev")}
    assert len(buckets) == 1024
    assert [buckets[b] for b in range(1024)] == rig.service.dataplane.bucket_owners(vip_id)
    encaps = {e.key[0]: e for e in rig.reader.table("as_encap")}
    assert sorted(as_address(i, rig) for i in encaps) == ASES
    assert all(e.action == "encap_gre4" for e in encaps.values())
    assert {e.key for e in rig.reader.table("route4")} == {
        ((int(ipaddress.IPv4Address("10.1.0.0")), 16),),
        ((int(ipaddress.IPv4Address("10.9.0.0")), 16),),
    }


def test_adding_an_as_rewrites_only_the_buckets_that_move(rig) -> None:
    rig.run(*SETUP)
    before = {e.key[1]: e.params[0] for e in rig.reader.table("maglev")}
    rig.run(f"lb as {VIP}/32 10.1.0.4")
    after = {e.key[1]: e.params[0] for e in rig.reader.table("maglev")}
    new_id = next(a.as_id for a in rig.service.config.vips()[0].ases.values()
                  if str(a.address) == "10.1.0.4")
    moved = [b for b in before if before[b] != after[b]]
    to_new = [b for b in moved if after[b] == new_id]
    assert len(to_new) == 256  # its exact quota of 1024 / 4
    assert len(moved) - len(to_new) <= 0.04 * 1024


def test_packet_to_vip_is_gre_encapsulated_and_its_flow_learned(rig) -> None:
    rig.run(*SETUP)
    frame = client_syn(40000)
    port, out = send_and_receive(rig, frame)
    assert port == SERVER_PORT
    pkt = Ether(out)
    outer = pkt[IP]
    assert outer.src == "192.0.2.1" and outer.dst in ASES
    assert outer.proto == 47 and outer.ttl == 128
    assert pkt[GRE].proto == 0x0800
    assert bytes(pkt[GRE].payload) == bytes(Ether(frame)[IP])  # inner packet unchanged
    assert pkt[Ether].dst == "02:00:00:00:01:01"
    # The digest became a flow entry pinned to the same AS, aging with the timeout.
    flows = wait_for(lambda: rig.reader.table("flow4"))
    assert len(flows) == 1 and as_address(flows[0].params[0], rig) == outer.dst
    assert rig.reader.flow_timeouts("flow4") == [2_000_000_000]


def test_idle_flow_is_deleted_after_the_timeout(rig) -> None:
    rig.run(*SETUP)
    send_and_receive(rig, client_syn(40001))
    assert wait_for(lambda: rig.reader.table("flow4"))
    assert wait_for(lambda: not rig.reader.table("flow4"), timeout=10)
    assert len(rig.service.dataplane.learner) == 0


def test_drained_as_keeps_its_flows_and_is_collected_when_they_age(rig) -> None:
    rig.run(*SETUP)
    _, out = send_and_receive(rig, client_syn(40002))
    pinned = Ether(out)[IP].dst
    assert wait_for(lambda: rig.reader.table("flow4"))
    rig.run(f"lb as {VIP}/32 {pinned} del")
    shown = rig.run("show lb vips verbose")
    assert pinned in shown and "draining" in shown
    owners = {e.params[0] for e in rig.reader.table("maglev")}
    assert all(as_address(i, rig) != pinned for i in owners)
    # The flow still reaches its AS.
    _, again = send_and_receive(rig, client_syn(40002))
    assert Ether(again)[IP].dst == pinned
    # Once the flow ages out the AS disappears, encap entry included.
    assert wait_for(lambda: pinned not in rig.run("show lb vips verbose"), timeout=15)
    assert len(rig.reader.table("as_encap")) == 2


def test_del_flush_cuts_the_flows_at_once(rig) -> None:
    rig.run(*SETUP)
    _, out = send_and_receive(rig, client_syn(40003))
    pinned = Ether(out)[IP].dst
    assert wait_for(lambda: rig.reader.table("flow4"))
    rig.run(f"lb as {VIP}/32 {pinned} del flush")
    assert rig.reader.table("flow4") == []
    assert len(rig.reader.table("as_encap")) == 2
    _, moved = send_and_receive(rig, client_syn(40003))
    assert Ether(moved)[IP].dst != pinned


def test_controller_restart_keeps_every_flow_and_rewrites_nothing(rig) -> None:
    rig.run(*SETUP)
    rig.run("lb conf timeout 60")
    for sport in range(41000, 41020):
        send_and_receive(rig, client_syn(sport))
    assert wait_for(lambda: len(rig.reader.table("flow4")) == 20)
    flows_before = sorted(rig.reader.table("flow4"), key=lambda e: e.key)
    buckets_before = rig.reader.table("maglev")
    rig.restart_controller()
    assert sorted(rig.reader.table("flow4"), key=lambda e: e.key) == flows_before
    assert rig.reader.table("maglev") == buckets_before
    assert len(rig.service.dataplane.learner) == 20
    # And the restarted controller still forwards a known flow to its AS.
    _, out = send_and_receive(rig, client_syn(41005))
    pinned = next(e for e in flows_before if e.key[4] == 41005).params[0]
    assert Ether(out)[IP].dst == as_address(pinned, rig)


def test_udp_to_a_vip_without_servers_is_dropped_and_counted(rig) -> None:
    rig.run(*SETUP[:3], "lb vip 10.0.0.2/32 encap gre4")
    frame = bytes(Ether(dst=LB_MAC) / IP(src="10.9.0.5", dst="10.0.0.2") / UDP(sport=5, dport=53))
    rig.wire.send(CLIENT_PORT, frame)
    assert rig.wire.receive(0.5) is None
    shown = rig.run("show lb vips verbose")
    assert "no server configured: 1" in shown


def test_switch_restart_gets_pipeline_config_and_flows_replayed(rig) -> None:
    rig.run(*SETUP)
    rig.run("lb conf timeout 60")
    for sport in range(42000, 42010):
        send_and_receive(rig, client_syn(sport))
    assert wait_for(lambda: len(rig.reader.table("flow4")) == 10)
    config_before = {t: sorted(map(repr, rig.reader.table(t)))
                     for t in ("vip4", "maglev", "as_encap", "route4")}
    flows_before = sorted(map(repr, rig.reader.table("flow4")))
    # The switch dies, stays down long enough for the controller's retries to
    # reach their longest interval, and comes back empty on the same address.
    rig.switch.stop()
    time.sleep(3)
    launched = time.monotonic()
    rig.switch.start()
    listening = time.monotonic()
    session = next(iter(rig.service.dataplane.sessions.values()))
    assert wait_for(lambda: session.connected.is_set(), timeout=30)
    assert wait_for(lambda: len(rig.reader.table("flow4")) == 10, timeout=10)
    done = time.monotonic()
    print(f"\nswitch restart: programmed, {len(flows_before)} flows replayed, "
          f"{done - launched:.2f} s after the switch process started "
          f"(it answered gRPC after {listening - launched:.2f} s)")
    assert {t: sorted(map(repr, rig.reader.table(t))) for t in config_before} == config_before
    assert sorted(map(repr, rig.reader.table("flow4"))) == flows_before


def test_gre_without_a_source_address_warns(rig) -> None:
    out = rig.run("lb vip 10.0.0.5/32 encap gre4", "lb as 10.0.0.5/32 10.1.0.1")
    assert "ip4-src-address" in out
    assert rig.run("lb conf ip4-src-address 192.0.2.1") == ""


def test_undecodable_switch_messages_are_counted_and_learning_goes_on(rig) -> None:
    """What the stream delivers passes through parse_stream_message; feed it bytes
    a broken switch could send: a truncated digest and a digest of the wrong shape."""
    rig.run(*SETUP)
    session = next(iter(rig.service.dataplane.sessions.values()))
    wrong_shape = p4runtime_pb2.StreamMessageResponse()
    wrong_shape.digest.digest_id = 1
    wrong_shape.digest.data.add().struct.members.add().bitstring = b"\x04"
    for raw in (wrong_shape.SerializeToString()[:-2], wrong_shape.SerializeToString()):
        session.on_stream_message(session, parse_stream_message(raw))
    assert "undecodable switch messages 2" in rig.run("show lb")
    send_and_receive(rig, client_syn(40100))
    assert wait_for(lambda: rig.reader.table("flow4"))
