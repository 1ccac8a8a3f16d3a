"""Prometheus metrics and `lbctl top` against a real switch: the figures match
the traffic sent and what `show lb` says."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller.management_api import ManagementServer
from controller.metrics import parse_address, start_metrics_server
from p4switch.launch import free_tcp_port
from tests.integration.lb_fixture import wait_for
from tests.integration.test_controller_on_switch import (
    ASES,
    CLIENT_PORT,
    LB_MAC,
    VIP,
    client_syn,
    send_and_receive,
)
from tests.integration.test_lbctl_and_daemon import ENV, ROOT

SETUP = (
    "lb conf ip4-src-address 192.0.2.1 timeout 60",
    "ip route add 10.1.0.0/16 via 02:00:00:00:01:01 port 1",
    "ip route add 10.9.0.0/16 via 02:00:00:00:09:09 port 9",
    f"lb vip {VIP}/32 encap gre4 new_len 1024",
    f"lb as {VIP}/32 " + " ".join(ASES),
)


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(metrics, name: str, **labels: str) -> float:
    return metrics[(name, frozenset(labels.items()))]


def by_label(metrics, name: str, label: str) -> dict[str, float]:
    return {dict(k)[label]: v for (n, k), v in metrics.items() if n == name}


@pytest.fixture
def metrics_port(rig):
    port = free_tcp_port()
    server = start_metrics_server(lambda line: rig.service.execute(line, as_json=True),
                                  "127.0.0.1", port)
    yield port
    server.shutdown()


def test_scrape_matches_the_traffic_sent_and_show_lb(rig, metrics_port) -> None:
    rig.run(*SETUP)
    frames = [client_syn(44000 + i) for i in range(5)]
    for frame in frames:
        send_and_receive(rig, frame)
    assert wait_for(lambda: len(rig.service.dataplane.learner) == 5)
    for frame in frames:  # now tracked: existing sessions
        send_and_receive(rig, frame)
    unrouted = bytes(Ether(dst=LB_MAC) / IP(src="10.9.0.5", dst="172.16.0.1") / TCP())
    rig.wire.send(CLIENT_PORT, unrouted)
    assert rig.wire.receive(0.5) is None

    m = scrape(metrics_port)
    vip = {"vip": f"{VIP}/32", "protocol": "any", "port": "0"}
    size = sum(len(f) for f in frames)
    assert sample(m, "p4lb_vip_packets_total", **vip, counter="first_session") == 5
    assert sample(m, "p4lb_vip_packets_total", **vip, counter="existing_session") == 5
    assert sample(m, "p4lb_vip_packets_total", **vip, counter="no_server") == 0
    assert sample(m, "p4lb_vip_bytes_total", **vip, counter="first_session") == size
    assert sample(m, "p4lb_vip_new_len", **vip) == 1024
    assert sum(by_label(m, "p4lb_as_packets_total", "as").values()) == 10
    assert sum(by_label(m, "p4lb_as_bytes_total", "as").values()) == 2 * size
    assert sample(m, "p4lb_drop_packets_total", reason="no route") == 1
    assert sample(m, "p4lb_drop_bytes_total", reason="no route") == len(unrouted)
    assert sample(m, "p4lb_flows_learned_total") == 5
    assert sample(m, "p4lb_flows_aged_total") == 0
    assert sample(m, "p4lb_flow_install_failures_total") == 0
    switch = f"{rig.switch.grpc_addr}#0"
    assert sample(m, "p4lb_switch_connected", switch=switch) == 1
    assert sample(m, "p4lb_switch_primary", switch=switch) == 1

    # The same figures as show lb, asked right after.
    lb = rig.service.execute("show lb", as_json=True)
    (shown,) = rig.service.execute("show lb vips verbose", as_json=True)["vips"]
    assert sample(m, "p4lb_tracked_flows") == lb["tracked_flows"] == 5
    assert sample(m, "p4lb_buckets") == lb["buckets"]
    for a in shown["ases"]:
        labels = {**vip, "as": a["address"]}
        assert sample(m, "p4lb_as_buckets", **labels) == a["buckets"]
        assert sample(m, "p4lb_as_flows", **labels) == a["flows"]
        assert sample(m, "p4lb_as_packets_total", **labels) == a["counters"]["packets"]
        assert sample(m, "p4lb_as_draining", **labels) == 0
    assert sum(by_label(m, "p4lb_as_buckets", "as").values()) == 1024

    busiest = max(shown["ases"], key=lambda a: a["flows"])
    rig.run(f"lb as {VIP}/32 {busiest['address']} del")
    m = scrape(metrics_port)
    drained = {**vip, "as": busiest["address"]}
    assert sample(m, "p4lb_as_draining", **drained) == 1
    assert sample(m, "p4lb_as_buckets", **drained) == 0
    assert sample(m, "p4lb_as_flows", **drained) == busiest["flows"] >= 2


def test_metrics_address_is_checked() -> None:
    assert parse_address("127.0.0.1:9100") == ("127.0.0.1", 9100)
    assert parse_address("[::1]:9100") == ("::1", 9100)
    for bad in ("9100", "127.0.0.1:", "host:port", ":9100", "127.0.0.1:70000"):
        with pytest.raises(ValueError, match="expected HOST:PORT"):
            parse_address(bad)


def test_lbctl_top_shows_rates_per_vip_and_as(rig, tmp_path) -> None:
    rig.run(*SETUP)
    sock = tmp_path / "top.sock"
    server = ManagementServer(sock, rig.service.execute)
    server.start()
    stop = threading.Event()

    def traffic() -> None:
        sport = 45000
        while not stop.is_set():
            rig.wire.send(CLIENT_PORT, client_syn(sport))
            sport += 1
            time.sleep(0.05)

    sender = threading.Thread(target=traffic, daemon=True)
    try:
        sender.start()
        out = subprocess.run(
            [sys.executable, "-m", "controller.lbctl", "--socket", str(sock), "top",
             "--count", "3", "--interval", "1"],
            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        sender.join()
        server.stop()
    assert out.returncode == 0, out.stderr
    frames = [f for f in out.stdout.split("p4lb: ") if f.strip()]
    assert len(frames) == 3, out.stdout
    first, last = frames[0], frames[-1]
    vip_row = next(line for line in last.splitlines() if line.startswith(f"{VIP}/32"))
    cells = vip_row.split()
    # name (gre4) state buckets flows pkt/s bytes/s packets bytes
    assert cells[1:4] == ["(gre4)", "used", "1024"]
    assert float(cells[5]) > 5  # ~20 new flows a second
    first_row = next(line for line in first.splitlines() if line.startswith(f"{VIP}/32"))
    assert first_row.split()[5] == "-"  # no rate before a second sample
    as_rows = [line.split() for line in last.splitlines() if line.strip().split()[:1]
               and line.strip().split()[0] in ASES]
    assert sorted(r[0] for r in as_rows) == ASES
    assert sum(float(r[4]) for r in as_rows) == pytest.approx(float(cells[5]), abs=0.2)
    assert "switches: " + f"{rig.switch.grpc_addr}#0 connected primary" in last
