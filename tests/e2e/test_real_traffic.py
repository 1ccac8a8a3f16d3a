"""End to end: real TCP and UDP through the LB on Mininet hosts.

Needs root and Debian's mininet (`make system-packages`); CI has both.
Every network is torn down in a finally, whatever the test did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/lib/python3/dist-packages/mininet").exists(),
    reason="end-to-end tests need root and Debian's mininet package",
)

GRE_VIP, NAT_VIP, DSR_VIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from topo.lb_topology import LbNetwork

    lbn = LbNetwork(clients=2, servers=3, workdir=tmp_path_factory.mktemp("topo1"))
    try:
        lbn.start()
        lbn.configure_demo(extra=True)
        yield lbn
    finally:
        lbn.stop()


def client(lbn, *args: str) -> dict:
    out = lbn.run_on(lbn.client_hosts[0], "topo.lb_client", *args)
    return json.loads(out.strip().splitlines()[-1])


class Held:
    """A long-lived TCP connection from a client, checked at the end."""

    def __init__(self, lbn, vip: str, port: int, seconds: float = 60) -> None:
        self.proc = lbn.client_hosts[1].popen(
            [sys.executable, "-m", "topo.lb_client", "hold", vip,
             str(port), str(seconds)],
            cwd=str(Path(__file__).resolve().parents[2]),
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        first = json.loads(self.proc.stdout.readline())
        self.local_port = first["local_port"]
        time.sleep(1.0)  # a few lines exchanged

    def result(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
        out, _err = self.proc.communicate(timeout=30)
        return json.loads(out.decode().strip().splitlines()[-1])


def test_gre_tcp_requests_are_spread_and_answered(net) -> None:
    got = client(net, "tcp", GRE_VIP, "80", "30")
    assert got["failed"] == 0, got
    assert len(got["served"]) >= 2, got


def test_gre_udp(net) -> None:
    got = client(net, "udp", GRE_VIP, "53", "20")
    assert got["failed"] == 0 and sum(got["served"].values()) == 20, got


def test_nat_tcp_and_udp(net) -> None:
    tcp = client(net, "tcp", NAT_VIP, "80", "20")
    udp = client(net, "udp", NAT_VIP, "53", "20")
    assert tcp["failed"] == 0 and udp["failed"] == 0, (tcp, udp)


def test_l3dsr_tcp(net) -> None:
    got = client(net, "tcp", DSR_VIP, "80", "20")
    assert got["failed"] == 0, got


def test_long_connection_survives_as_changes_and_controller_restart(net) -> None:
    held = Held(net, GRE_VIP, 80)
    net.lbctl(f"lb as {GRE_VIP}/32 10.1.0.99")  # an AS that does not even exist
    net.lbctl(f"lb as {GRE_VIP}/32 10.1.0.10 weight 20")
    time.sleep(0.5)
    net.kill_controller()
    time.sleep(0.5)
    net.start_controller()
    time.sleep(1.0)
    result = held.result()
    assert result["failed"] == 0 and len(result["served"]) == 1, result
    net.lbctl(f"lb as {GRE_VIP}/32 10.1.0.99 del flush", f"lb as {GRE_VIP}/32 10.1.0.10 weight 100")


def test_draining_keeps_the_connection_and_flush_ends_it(net) -> None:
    held = Held(net, GRE_VIP, 80)
    time.sleep(0.5)
    flows = net.lbctl(f"show lb flows vip {GRE_VIP}/32")
    line = next(x for x in flows.splitlines() if f"198.51.100.11:{held.local_port} " in x)
    pinned = line.split()[-3]  # "... <address> [id] used"
    net.lbctl(f"lb as {GRE_VIP}/32 {pinned} del")
    time.sleep(1.0)
    assert held.proc.poll() is None, "drain cut the connection"
    net.lbctl(f"lb as {GRE_VIP}/32 {pinned} del flush")
    time.sleep(1.5)  # the next lines go to another AS, which knows no such connection
    result = held.result()
    assert result["failed"] == 1, result
    net.lbctl(f"lb as {GRE_VIP}/32 {pinned}")
