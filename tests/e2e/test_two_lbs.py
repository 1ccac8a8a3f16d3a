"""Topology 2: two LB switches behind an ECMP router, one controller.

Both LBs get identical tables (and every learned flow), so a connection keeps
its AS whichever LB carries it, also when the LB that carried it is lost.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.test_real_traffic import GRE_VIP, Held, pytestmark  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def net2(tmp_path_factory):
    from topo.lb_topology import LbNetwork

    lbn = LbNetwork(clients=2, servers=3, lbs=2, workdir=tmp_path_factory.mktemp("topo2"))
    try:
        lbn.start()
        lbn.configure_demo()
        yield lbn
    finally:
        lbn.stop()


def test_both_lbs_hold_identical_tables(net2) -> None:

    from controller.p4_schema import P4Schema
    from tests.integration.lb_fixture import SwitchReader, lb_p4info

    schema = P4Schema(lb_p4info())
    tables = []
    for sw in net2.switches:
        reader = SwitchReader(sw.grpc_addr, schema, sw.device_id)
        try:
            tables.append({t: sorted(map(repr, reader.table(t)))
                           for t in ("vip4", "vip_port", "maglev", "as_encap", "route4")})
        finally:
            reader.close()
    assert tables[0] == tables[1]
    assert len(tables[0]["maglev"]) == 2048


def test_requests_through_either_lb(net2) -> None:
    out = net2.run_on(net2.client_hosts[0], "topo.lb_client", "tcp", GRE_VIP, "80", "40")
    got = json.loads(out.strip().splitlines()[-1])
    assert got["failed"] == 0, got


def test_connection_survives_losing_the_lb_that_carries_it(net2) -> None:
    held = Held(net2, GRE_VIP, 80)
    time.sleep(0.5)
    # Which LB carries it: the one whose port towards the ECMP router saw packets.
    counts = [_rx_packets(net2, i) for i in range(2)]
    time.sleep(0.5)
    deltas = [_rx_packets(net2, i) - counts[i] for i in range(2)]
    carrier = 0 if deltas[0] >= deltas[1] else 1
    net2.lose_lb(carrier)
    time.sleep(2.0)
    result = held.result()
    assert result["failed"] == 0 and len(result["served"]) == 1, result


def _rx_packets(net2, lb_index: int) -> int:
    lb = net2.lb_nodes[lb_index]
    intf = lb.connectionsTo(net2.ecmp)[0][0]
    return int(Path(f"/sys/class/net/{intf}/statistics/rx_packets").read_text())
