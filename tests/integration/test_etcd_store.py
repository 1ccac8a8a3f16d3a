"""Two controller processes sharing their configuration in etcd, one switch.

The configuration is written by either controller with a compare-and-swap on
the store's revision and followed by both (controller/config_store.py,
shared_config.py); the primary (higher election id) programs the switch.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether

from controller.config_store import EtcdConfigStore, parse_store_url
from controller.management_api import CommandError
from tests.integration.controller_daemons import primary_and_backup
from tests.integration.lb_fixture import wait_for
from tests.integration.test_controller_on_switch import CLIENT_PORT, SETUP, VIP, client_syn
from topo.etcd_cluster import ETCD, SKIP_REASON, EtcdCluster

pytestmark = pytest.mark.skipif(ETCD is None, reason=SKIP_REASON)


@contextlib.contextmanager
def shared_rig(tmp_path, members: int = 1):
    """Controllers a (primary) and b (backup) on one switch, sharing an etcd cluster."""
    cluster = EtcdCluster(tmp_path, members).start()
    try:
        with primary_and_backup(tmp_path, "--store", cluster.store_url) as (
                switch, a, b, wire, reader):
            yield cluster, switch, a, b, wire, reader
    finally:
        cluster.stop()


def stored_document(cluster: EtcdCluster) -> dict:
    store = EtcdConfigStore(parse_store_url(cluster.store_url))
    try:
        return store.load().document
    finally:
        store.close()


def running_config(daemon) -> str:
    return daemon.run("show running-config")


def test_a_command_on_the_backup_shows_on_the_primary_and_its_switch_within_a_second(
        tmp_path) -> None:
    with shared_rig(tmp_path) as (cluster, switch, a, b, wire, reader):
        b.run(*SETUP)
        assert wait_for(lambda: running_config(a) == running_config(b), timeout=5)
        sent = time.monotonic()
        b.run("lb vip 10.0.0.9/32 encap gre4")
        assert wait_for(lambda: "10.0.0.9/32" in running_config(a), step=0.005, timeout=10)
        on_a = time.monotonic() - sent
        assert wait_for(lambda: len(reader.table("vip4")) == 2, step=0.005, timeout=10)
        on_switch = time.monotonic() - sent
        print(f"\npropagation B -> A: {on_a * 1000:.0f} ms to A's configuration, "
              f"{on_switch * 1000:.0f} ms to the switch (A is primary)")
        # Traffic follows what B was told: A programmed it.
        wire.send(CLIENT_PORT, client_syn(46000))
        got = wire.receive()
        assert got is not None and Ether(got[1])[IP].dst in SETUP[-1]
        assert "configuration store: etcd://" in a.run("show lb")
        assert "healthy" in b.run("show lb")


def test_200_concurrent_commands_on_both_controllers_are_applied_exactly_once(
        tmp_path) -> None:
    with shared_rig(tmp_path) as (cluster, switch, a, b, wire, reader):
        a.run("lb conf ip4-src-address 192.0.2.1", f"lb vip {VIP}/32 encap gre4")
        commands = []
        for i in range(100):
            commands.append(f"lb vip 10.2.{i // 200}.{i % 200 + 1}/32 encap gre4")
            commands.append(f"lb as {VIP}/32 10.1.{i // 200}.{i % 200 + 1}")
        errors = []

        def send(index: int) -> None:
            daemon = (a, b)[index % 2]
            try:
                daemon.run(commands[index])
            except CommandError as e:
                errors.append((commands[index], str(e)))

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(send, range(len(commands))))
        took = time.monotonic() - started
        print(f"\n200 concurrent commands on two controllers: {took:.2f} s")
        assert errors == []
        stored = stored_document(cluster)
        # Each VIP and AS once, with one id each: no command lost or applied twice.
        assert len(stored["vips"]) == 101
        (lb_vip,) = [v for v in stored["vips"] if v["prefix"] == f"{VIP}/32"]
        assert len(lb_vip["ases"]) == 100
        assert stored["last_vip_id"] == 101 and stored["last_as_id"] == 100
        assert wait_for(lambda: running_config(a) == running_config(b), timeout=10)
        assert running_config(a).count("lb vip ") == 101
        assert wait_for(lambda: len(reader.table("vip4")) == 101, timeout=20)
        assert len(reader.table("as_encap")) == 100


def test_flushes_and_drains_typed_on_the_backup_are_carried_out_by_the_primary(
        tmp_path) -> None:
    with shared_rig(tmp_path) as (cluster, switch, a, b, wire, reader):
        b.run(*SETUP, "lb conf timeout 60")
        assert wait_for(lambda: len(reader.table("as_encap")) == 3 and reader.table("vip4")
                        and running_config(a) == running_config(b), timeout=10)
        reached = {}
        for sport in range(47000, 47030):
            wire.send(CLIENT_PORT, client_syn(sport))
            got = wire.receive()
            assert got is not None
            reached[sport] = Ether(got[1])[IP].dst
        assert wait_for(lambda: len(reader.table("flow4")) == 30)
        victim = reached[47000]
        cut = sum(1 for d in reached.values() if d == victim)
        # del flush, typed on the backup: the primary deletes that AS's flows.
        b.run(f"lb as {VIP}/32 {victim} del flush")
        assert wait_for(lambda: len(reader.table("flow4")) == 30 - cut, timeout=10)
        assert wait_for(lambda: len(reader.table("as_encap")) == 2, timeout=10)
        # A drain typed on the backup keeps the AS (the backup does not know its
        # flows; the primary does).
        drained = next(d for d in reached.values() if d != victim)
        b.run(f"lb as {VIP}/32 {drained} del")
        time.sleep(1.5)  # housekeeping runs every second
        assert f"{drained}" in running_config(a) or "draining" in a.run("show lb vips verbose")
        assert drained in a.run("show lb vips verbose")
        assert len(reader.table("as_encap")) == 2
        # lb flush vip on the backup: every flow of the VIP goes.
        b.run(f"lb flush vip {VIP}/32")
        assert wait_for(lambda: reader.table("flow4") == [], timeout=10)
        # With no flows left, the primary collects the drained AS, for everyone.
        assert wait_for(lambda: drained not in b.run("show lb vips verbose"), timeout=10)
        assert len(reader.table("as_encap")) == 1


def test_three_members_one_killed_all_killed_and_back(tmp_path) -> None:
    with shared_rig(tmp_path, members=3) as (cluster, switch, a, b, wire, reader):
        a.run(*SETUP)
        assert wait_for(lambda: reader.table("vip4"), timeout=10)
        cluster.kill(cluster.members[0])
        # One member down: commands still work on both controllers.
        assert wait_for(lambda: a.try_run("lb vip 10.0.0.21/32 encap gre4")[0], timeout=10)
        assert wait_for(lambda: b.try_run("lb vip 10.0.0.22/32 encap gre4")[0], timeout=10)
        assert wait_for(lambda: running_config(a) == running_config(b), timeout=5)

        for m in cluster.members:
            cluster.kill(m)
        traffic_ok = []
        for sport in range(48000, 48010):
            wire.send(CLIENT_PORT, client_syn(sport))
            traffic_ok.append(wire.receive() is not None)
        started = time.monotonic()
        ok, error = b.try_run("lb vip 10.0.0.23/32 encap gre4")
        print(f"\nall etcd members down: the command failed after "
              f"{time.monotonic() - started:.1f} s with: {error}")
        assert not ok and error.startswith("configuration store unavailable: ")
        assert all(traffic_ok), "the data plane stopped forwarding without the store"
        assert wait_for(lambda: "unavailable" in a.run("show lb"), timeout=5)
        assert "10.0.0.23" not in running_config(b)
        # The last configuration is kept and shown.
        assert "10.0.0.22/32" in running_config(a)

        for m in cluster.members:
            cluster.start_member(m, wait=False)
        cluster.wait_healthy()
        assert wait_for(lambda: b.try_run("lb vip 10.0.0.23/32 encap gre4")[0], timeout=20)
        assert wait_for(lambda: "10.0.0.23/32" in running_config(a), timeout=10)
        assert wait_for(lambda: "healthy" in a.run("show lb"), timeout=5)
        assert wait_for(lambda: len(reader.table("vip4")) == 4, timeout=10)
