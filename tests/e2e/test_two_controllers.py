"""Topology 2 with two controllers and a 3-member etcd: real TCP through a
controller failover.

Two LBs behind an ECMP router; controller 1 (election id 2) is primary on
both, controller 2 (election id 1) a backup; they share their configuration
in etcd. Killing controller 1 with kill -9 while connections are open and new
ones keep coming must break none of them, and controller 2 must then program
the LBs, learn new flows and take commands.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.e2e.test_real_traffic import GRE_VIP, NAT_VIP, Held, pytestmark  # noqa: F401
from topo.etcd_cluster import ETCD, SKIP_REASON

pytestmark = [pytestmark, pytest.mark.skipif(ETCD is None, reason=SKIP_REASON)]


@pytest.fixture(scope="module")
def net3(tmp_path_factory):
    from topo.lb_topology import LbNetwork

    lbn = LbNetwork(clients=2, servers=3, lbs=2, controllers=2, etcd_members=3,
                    workdir=tmp_path_factory.mktemp("topo2ha"))
    try:
        lbn.start()
        lbn.configure_demo()  # told to the primary only: the backup follows the store
        yield lbn
    finally:
        lbn.stop()


def test_roles_and_store_are_shown_by_both_controllers(net3) -> None:
    primary, backup = net3.lbctl("show lb"), net3.lbctl("show lb", controller=1)
    assert primary.count("primary, election id 2") == 2, primary
    assert backup.count("backup, election id 1 (primary: election id 2)") == 2, backup
    for shown in (primary, backup):
        assert "configuration store: etcd://" in shown and "healthy" in shown
    assert net3.lbctl("show running-config") == net3.lbctl("show running-config", controller=1)


class NewConnections(threading.Thread):
    """Opens TCP connections to a VIP in batches until stopped; counts failures."""

    def __init__(self, lbn, vip: str) -> None:
        super().__init__(daemon=True)
        self.lbn, self.vip = lbn, vip
        self.halt = threading.Event()
        self.batches: list[dict] = []

    def run(self) -> None:
        while not self.halt.is_set():
            out = self.lbn.run_on(self.lbn.client_hosts[0], "topo.lb_client", "tcp", self.vip,
                                  "80", "10")
            self.batches.append(json.loads(out.strip().splitlines()[-1]))


def test_tcp_through_a_controller_failover(net3) -> None:
    held = [Held(net3, GRE_VIP, 80), Held(net3, NAT_VIP, 80)]
    fresh = NewConnections(net3, GRE_VIP)
    fresh.start()
    time.sleep(1.0)
    learned_before = _tracked_flows(net3, 0)
    killed = time.monotonic()
    net3.kill_controller(0)
    deadline = time.monotonic() + 30
    while net3.lbctl("show lb", controller=1).count("primary, election id 1") < 2:
        assert time.monotonic() < deadline, net3.lbctl("show lb", controller=1)
        time.sleep(0.02)
    print(f"\ncontroller failover on two LBs: controller 2 primary on both "
          f"{time.monotonic() - killed:.2f} s after kill -9")
    time.sleep(3.0)
    fresh.halt.set()
    fresh.join(60)
    results = [h.result() for h in held]
    for r in results:  # the long connections kept their AS
        assert r["failed"] == 0 and len(r["served"]) == 1, r
    opened = sum(sum(b["served"].values()) + b["failed"] for b in fresh.batches)
    failed = sum(b["failed"] for b in fresh.batches)
    print(f"new connections during the failover: {opened} opened, {failed} failed; "
          f"flows tracked by controller 1 before: {learned_before}")
    assert opened >= 20 and failed == 0, fresh.batches
    # The new primary learns flows and takes commands, for both LBs.
    got = net3.run_on(net3.client_hosts[1], "topo.lb_client", "tcp", GRE_VIP, "80", "20")
    assert json.loads(got.strip().splitlines()[-1])["failed"] == 0
    assert _tracked_flows(net3, 1) > 0
    net3.lbctl("lb vip 10.0.0.7/32 encap gre4", controller=1)
    assert "10.0.0.7/32" in net3.lbctl("show lb vips", controller=1)
    # The first controller comes back as a... primary again (highest id): it
    # reads both LBs back and adopts the configuration written meanwhile.
    net3.start_controller(0)
    assert "10.0.0.7/32" in net3.lbctl("show running-config")
    assert net3.lbctl("show lb").count("primary, election id 2") == 2


def _tracked_flows(lbn, controller: int) -> int:
    shown = lbn.lbctl("show lb", controller=controller)
    line = next(x for x in shown.splitlines() if "usage:" in x)
    return int(line.split("usage:")[1].split()[0])
