"""End to end: health checks through the data path with real servers.

A TCP health check on the GRE VIP's port 80, every second, fall 2, rise 2.
Stopping one AS's service takes it out of the new-flow buckets within
fall x interval + 1 s (new connections all go to the others, a connection
held on another AS is untouched); starting it again brings it back after
rise x interval. An AS whose GRE decapsulation is broken, while the host and
its service are up, is detected as down too: the probes go through the tunnel.

Needs root and Debian's mininet, as test_real_traffic.py.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.test_real_traffic import GRE_VIP, Held, client, pytestmark  # noqa: F401

INTERVAL, FALL, RISE = 1, 2, 2
HC_SOURCE = "192.0.2.99"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from topo.lb_topology import LbNetwork

    lbn = LbNetwork(clients=2, servers=3, workdir=tmp_path_factory.mktemp("health"))
    try:
        lbn.start()
        lbn.configure_demo()
        lbn.lbctl(f"lb conf hc4-src-address {HC_SOURCE}",
                  f"lb health-check {GRE_VIP}/32 check_port 80 interval {INTERVAL} timeout 0.5 "
                  f"rise {RISE} fall {FALL}")
        yield lbn
    finally:
        lbn.stop()


def health(net) -> dict[str, dict]:
    (check,) = net_query(net, "show lb")["health"]
    return {a["address"]: a for a in check["ases"]}


def net_query(net, line: str) -> dict:
    from controller.management_api import ManagementClient

    c = ManagementClient(net.socket)
    try:
        return c.query(line)
    finally:
        c.close()


def wait_state(net, address: str, state: str, timeout: float) -> float:
    start = time.monotonic()
    while health(net)[address]["state"] != state:
        assert time.monotonic() - start < timeout, (address, state, health(net)[address])
        time.sleep(0.1)
    return time.monotonic() - start


def pinned_as(net, held: Held) -> str:
    flows = net.lbctl(f"show lb flows vip {GRE_VIP}/32")
    line = next(x for x in flows.splitlines() if f"198.51.100.11:{held.local_port} " in x)
    return line.split()[-3]


def test_every_as_is_up_through_its_tunnel(net) -> None:
    deadline = time.monotonic() + 10
    while not all(a["probes"]["ok"] >= RISE for a in health(net).values()):
        assert time.monotonic() < deadline, health(net)
        time.sleep(0.2)
    assert all(a["state"] == "up" for a in health(net).values())
    shown = net.lbctl("show lb")
    assert f"health-check {GRE_VIP}/32: tcp {GRE_VIP} port 80 from {HC_SOURCE}" in shown


def test_stopped_service_gets_no_new_connections_and_comes_back(net) -> None:
    held = Held(net, GRE_VIP, 80, seconds=90)
    keep = pinned_as(net, held)
    addresses = {h.name: f"10.1.0.{10 + j}" for j, h in enumerate(net.server_hosts)}
    victim_host = next(h for h in net.server_hosts if addresses[h.name] != keep)
    victim = addresses[victim_host.name]
    net.stop_service(victim_host)
    stopped = time.monotonic()
    wait_state(net, victim, "down", timeout=FALL * INTERVAL + 1)
    time.sleep(max(0.0, stopped + FALL * INTERVAL + 1 - time.monotonic()))
    got = client(net, "tcp", GRE_VIP, "80", "30")
    assert got["failed"] == 0, got  # none reached the stopped service
    assert victim_host.name not in got["served"] and len(got["served"]) == 2, got
    assert "down since" in net.lbctl("show lb")

    # From before the start: a probe may succeed before wait_services sees the port.
    restarted = time.monotonic()
    net.start_service(victim_host)
    net.wait_services(victim_host)
    took = wait_state(net, victim, "up", timeout=RISE * INTERVAL + 3)
    # RISE answers in a row are RISE - 1 intervals apart at least (less the
    # probe timer's few ms of jitter).
    assert time.monotonic() - restarted >= (RISE - 1) * INTERVAL - 0.05
    assert took <= RISE * INTERVAL + 3
    back = client(net, "tcp", GRE_VIP, "80", "30")
    assert back["failed"] == 0 and victim_host.name in back["served"], back
    result = held.result()
    assert result["failed"] == 0 and len(result["served"]) == 1, result  # untouched


def test_broken_gre_decap_with_the_host_up_is_down(net) -> None:
    host = net.server_hosts[2]
    address = f"10.1.0.{10 + 2}"
    wait_state(net, address, "up", timeout=RISE * INTERVAL + 3)
    net.stop_gre_decap(host)
    broken = time.monotonic()
    # The host and its service are up: reached directly, not through the tunnel.
    direct = net.run_on(net.client_hosts[0], "topo.lb_client", "tcp", address, "80", "1")
    assert json.loads(direct.strip().splitlines()[-1])["served"] == {host.name: 1}
    wait_state(net, address, "down", timeout=FALL * INTERVAL + 1.5)
    assert time.monotonic() - broken <= FALL * INTERVAL + 1.5
    reason = health(net)[address]["reason"]
    assert "timed out" in reason, reason
    got = client(net, "tcp", GRE_VIP, "80", "20")
    assert got["failed"] == 0 and host.name not in got["served"], got
    net.start_gre_decap(host)
    net.wait_services(host)
    wait_state(net, address, "up", timeout=RISE * INTERVAL + 3)
