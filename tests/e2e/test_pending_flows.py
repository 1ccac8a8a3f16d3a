"""End to end: a flow keeps its AS from its first packet, and is counted once.

Real Linux TCP stacks on Mininet hosts, the switch, the controller. Until the
controller has installed a new flow's entry, lb.p4's pending-flow table keeps
the flow on the AS its first packet went to: ASs drained and re-added under
a stream of new connections reset none, and every connection is one "first
session packet" and one digest.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/lib/python3/dist-packages/mininet").exists(),
    reason="end-to-end tests need root and Debian's mininet package",
)

GRE_VIP, NAT_VIP = "10.0.0.1", "10.0.0.2"
SERVERS = 5


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from topo.lb_topology import LbNetwork

    lbn = LbNetwork(clients=2, servers=SERVERS, workdir=tmp_path_factory.mktemp("pending"))
    try:
        lbn.start()
        lbn.configure_demo(extra=True)
        yield lbn
    finally:
        lbn.stop()


def vip_counters(lbn, vip_line: str) -> dict[str, int]:
    """The counters block of one VIP in `show lb vips verbose`."""
    text = lbn.lbctl("show lb vips verbose")
    block = text.split(vip_line, 1)[1].split("#as:", 1)[0]
    return {name: int(value) for name, value in re.findall(r"\n\s+([a-z ]+): (\d+)", block)}


def learned(lbn) -> int:
    return int(re.search(r"flows learned (\d+)", lbn.lbctl("show lb")).group(1))


def run_client(lbn, *args: str, timeout: float = 120) -> dict:
    out = lbn.run_on(lbn.client_hosts[0], "topo.lb_client", *args, timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("proto,vip,port,headline", [
    ("tcp", GRE_VIP, "80", f"] {GRE_VIP}/32"),
    ("udp", NAT_VIP, "53", f"] {NAT_VIP}/32 protocol:udp port:53"),
])
def test_each_connection_is_one_first_session_packet_and_one_digest(
        net, proto, vip, port, headline) -> None:
    connections = 40
    before, learned_before = vip_counters(net, headline), learned(net)
    got = run_client(net, proto, vip, port, str(connections))
    assert got["failed"] == 0, got
    time.sleep(0.5)  # the last digests reach the controller
    after, learned_after = vip_counters(net, headline), learned(net)
    first = after["first session packet"] - before["first session packet"]
    digests_per_flow = first / connections
    print(f"{proto}: {connections} connections, {first} first-session packets "
          f"({digests_per_flow:.2f} digests per flow), "
          f"{learned_after - learned_before} flows learned")
    assert first == connections
    assert learned_after - learned_before == first, "a digest was learned twice or lost"
    assert after.get("pending flow collision") == before.get("pending flow collision")


def test_new_connections_survive_as_churn(net) -> None:
    """New connections at >= 50/s, 3 round trips each, while ASs are drained and
    re-added every ~0.5 s for 30 s: no resets, no connection answered by two ASs."""
    key = f"{NAT_VIP}/32 protocol tcp port 80"
    servers = [f"10.1.0.{10 + j}" for j in range(SERVERS)]
    stop = threading.Event()
    churned = []

    def churn_ases() -> None:
        rng = random.Random(12)
        while not stop.is_set():
            victim = rng.choice(servers)
            net.lbctl(f"lb as {key} {victim} del")
            churned.append(victim)
            stop.wait(rng.uniform(0.3, 0.7))
            net.lbctl(f"lb as {key} {victim}")
            stop.wait(rng.uniform(0.1, 0.3))

    churner = threading.Thread(target=churn_ases)
    churner.start()
    try:
        got = run_client(net, "churn", NAT_VIP, "80", "30", "60")
    finally:
        stop.set()
        churner.join()
    print(f"churn: {got['connections']} connections at {got['rate']}/s, {len(churned)} "
          f"drains; failed {got['failed']}, answered by two ASs {got['multi_as']}, "
          f"errors {got['errors']}")
    assert got["rate"] >= 50, got
    assert len(churned) >= 30
    assert got["failed"] == 0 and got["multi_as"] == 0, got
