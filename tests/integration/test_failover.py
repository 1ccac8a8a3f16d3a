"""Two controllers on one switch, as processes: kill -9 the primary while traffic
runs, and the backup takes over without moving a flow.

Run twice: the controllers share their configuration in etcd (commands go to
the primary only), and each keeps its own state file (both are given the same
commands).
"""

from __future__ import annotations

import threading
import time

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether

from tests.integration.controller_daemons import primary_and_backup, ready_as
from tests.integration.lb_fixture import PacketWire, wait_for
from tests.integration.test_controller_on_switch import CLIENT_PORT, SETUP, VIP, client_syn
from topo.etcd_cluster import ETCD, SKIP_REASON, EtcdCluster


@pytest.fixture(params=["etcd", "state files"])
def two_controllers(request, tmp_path):
    if request.param == "state files":
        with primary_and_backup(tmp_path) as rig:
            yield (*rig, rig[1:3])  # both are told every command
        return
    if ETCD is None:
        pytest.skip(SKIP_REASON)
    cluster = EtcdCluster(tmp_path).start()
    try:
        with primary_and_backup(tmp_path, "--store", cluster.store_url) as rig:
            yield (*rig, rig[1:2])  # the primary is told; the store carries it to b
    finally:
        cluster.stop()


class Traffic(threading.Thread):
    """Sends packets of known flows and a new flow every 20 ms, each twice, and
    records which AS each packet reached."""

    def __init__(self, wire: PacketWire, old_sports: list[int], first_new: int) -> None:
        super().__init__(daemon=True)
        self.wire = wire
        self.old_sports = old_sports
        self.next_new = first_new
        self.sent_at: dict[int, float] = {}  # new flow -> when its first packet went
        self.reached: dict[int, list[str | None]] = {}
        self.halt = threading.Event()

    def _send(self, sport: int) -> None:
        self.wire.send(CLIENT_PORT, client_syn(sport))
        got = self.wire.receive(2.0)
        self.reached.setdefault(sport, []).append(
            None if got is None else Ether(got[1])[IP].dst)

    def run(self) -> None:
        i = 0
        while not self.halt.wait(0.02):
            sport = self.next_new
            self.next_new += 1
            self.sent_at[sport] = time.monotonic()
            self._send(sport)
            self._send(self.old_sports[i % len(self.old_sports)])
            if sport - 1 in self.sent_at:
                self._send(sport - 1)  # the previous new flow's second packet
            i += 1


def test_kill_9_of_the_primary_the_backup_takes_over_with_traffic_running(
        two_controllers) -> None:
    switch, a, b, wire, reader, told = two_controllers
    for controller in told:
        controller.run(*SETUP, "lb conf timeout 60")
    assert wait_for(lambda: b.run("show running-config") == a.run("show running-config"))
    old = list(range(44000, 44020))
    first_as = {}
    for sport in old:
        wire.send(CLIENT_PORT, client_syn(sport))
        got = wire.receive()
        assert got is not None
        first_as[sport] = Ether(got[1])[IP].dst
    assert wait_for(lambda: len(reader.table("flow4")) == len(old))
    # Drain the AS of one flow: from here on only its flow entry keeps it there.
    drained = first_as[old[0]]
    for controller in told:
        controller.run(f"lb as {VIP}/32 {drained} del")
    assert wait_for(lambda: "draining" in b.run("show lb vips verbose"))
    flows_before = set(reader.table("flow4"))

    traffic = Traffic(wire, old, first_new=50000)
    traffic.start()
    time.sleep(0.5)
    killed = time.monotonic()
    a.kill()
    assert wait_for(lambda: ready_as(b, "primary, election id 1"), step=0.01, timeout=30)
    ready = time.monotonic()

    def first_new_flow_written() -> bool:
        after_kill = {s for s, t in traffic.sent_at.items() if t > killed}
        return any(e.key[4] in after_kill for e in reader.table("flow4"))

    assert wait_for(first_new_flow_written, step=0.01, timeout=30)
    written = time.monotonic()
    time.sleep(1.0)
    traffic.halt.set()
    traffic.join(10)
    print(f"\nfailover: backup primary and ready {ready - killed:.3f} s after kill -9, "
          f"first learned flow written {written - killed:.3f} s after it")

    flows_after = set(reader.table("flow4"))
    assert flows_before <= flows_after, "a flow entry was lost or rewritten"
    for sport in old:  # no known flow moved, the drained AS's included
        assert set(traffic.reached.get(sport, [])) <= {first_as[sport]}, sport
    assert drained in traffic.reached[old[0]]
    for sport, reached in traffic.reached.items():  # and no new one either
        assert None not in reached and len(set(reached)) == 1, (sport, reached)
    learned_after = {e.key[4] for e in flows_after} & {
        s for s, t in traffic.sent_at.items() if t > ready}
    assert learned_after, "no flow learned after the take-over"
    # The new primary tracks every flow the switch holds: it adopted the old ones.
    assert wait_for(lambda: f"usage: {len(reader.table('flow4'))} flows" in b.run("show lb"))
