"""Commands are synced by the groups they change, and the switch still ends up exact.

After every command of a varied sequence, the switch's config tables equal
what a full recomputation of the plan says (lb_tables.desired_entries), and a
command touching one VIP writes only that VIP's entries.
"""

from __future__ import annotations

from controller.lb_service import plan_from_config
from controller.lb_tables import CONFIG_TABLES, bucket_owners, desired_entries, entry_id
from controller.p4_schema import DecodedEntry
from controller.p4runtime_codec import EntryCodec, table_entry_update
from controller.p4runtime_proto import p4runtime_pb2
from controller.switch_session import SwitchAddress, SwitchSession
from tests.integration.lb_fixture import LB_JSON, lb_p4info

SEQUENCE = (
    "lb conf ip4-src-address 192.0.2.1 ip6-src-address 2001:db8::1 timeout 30",
    "ip route add 10.1.0.0/16 via 02:00:00:00:01:01 port 1",
    "lb vip 10.0.0.1/32 encap gre4 new_len 64",
    "lb as 10.0.0.1/32 10.1.0.1 10.1.0.2 10.1.0.3",
    "lb vip 10.0.0.2/32 encap l3dsr dscp 7 new_len 64",
    "lb as 10.0.0.2/32 10.1.1.1 10.1.1.2",
    "lb vip 10.0.0.3/32 protocol tcp port 80 encap nat4 type clusterip target_port 8080 "
    "new_len 64",
    "lb vip 10.0.0.3/32 protocol udp port 53 encap nat4 type clusterip target_port 5353 "
    "new_len 64",
    "lb as 10.0.0.3/32 protocol tcp port 80 10.1.2.1 10.1.2.2",
    "lb as 10.0.0.3/32 protocol udp port 53 10.1.2.1",
    "lb as 10.0.0.1/32 10.1.0.4 weight 50",
    "lb conf ip4-src-address 192.0.2.9",  # every gre4 encap changes
    "lb as 10.0.0.1/32 10.1.0.2 del flush",
    "ip route add 10.2.0.0/16 via 02:00:00:00:02:02 port 2",
    "lb vip 10.0.0.3/32 protocol udp port 53 del",
    "lb vip 10.0.0.2/32 del",
    "ip route del 10.2.0.0/16",
    "lb vip 10.0.0.2/32 encap gre4 new_len 128",
    "lb as 10.0.0.2/32 10.1.1.1",
)


def _expected(rig) -> set:
    plan = plan_from_config(rig.service.config)
    desired = desired_entries(plan, {v.vip_id: bucket_owners(v) for v in plan.vips})
    return {entry_id(e): e for e in desired.values()}


def _on_switch(rig) -> dict:
    return {entry_id(e): e for table in CONFIG_TABLES for e in rig.reader.table(table)}


def test_switch_equals_a_full_recomputation_after_every_command(rig) -> None:
    for line in SEQUENCE:
        rig.run(line)
        assert _on_switch(rig) == _expected(rig), f"after {line!r}"


def test_a_restarted_controller_repairs_what_changed_behind_its_back(rig) -> None:
    """The read-back takes an entry as the one wanted only when its bytes are
    those the controller writes; anything else is decoded and diffed."""
    rig.run(*SEQUENCE[:10])
    wanted = _expected(rig)
    rig.service.close()
    bucket = next(e for e in wanted.values() if e.table == "maglev")
    encap = next(e for e in wanted.values() if e.table == "as_encap")
    route = next(e for e in wanted.values() if e.table == "route4")
    codec = EntryCodec(rig.service.dataplane.schema)
    # Another AS for a bucket, a lost encap, a stray bucket of no VIP, and a
    # route that differs only in what the decoder ignores (it stays as it is).
    moved = DecodedEntry(bucket.table, bucket.key, bucket.action, (bucket.params[0] + 1,))
    stray = DecodedEntry("maglev", (999, 0), "use_bucket_as", (1,))
    annotated = codec.table_entry(route)
    annotated.controller_metadata = 7
    other = SwitchSession(SwitchAddress(rig.switch.grpc_addr), lb_p4info(), LB_JSON.read_bytes(),
                          election_id=1)
    other.start()
    try:
        assert other.wait_ready(30)
        other.write([codec.update(p4runtime_pb2.Update.MODIFY, moved),
                     codec.update(p4runtime_pb2.Update.DELETE, encap),
                     codec.update(p4runtime_pb2.Update.INSERT, stray),
                     table_entry_update(p4runtime_pb2.Update.MODIFY, annotated)])
    finally:
        other.stop()
    assert _on_switch(rig) != wanted
    rig.restart_controller()
    assert _on_switch(rig) == _expected(rig) == wanted
    installed = rig.service.dataplane.installed_entries(str(SwitchAddress(rig.switch.grpc_addr)))
    assert installed == wanted


def test_a_command_on_one_vip_writes_only_that_vips_entries(rig) -> None:
    rig.run(*SEQUENCE[:10])
    session = next(iter(rig.service.dataplane.sessions.values()))
    written: list[int] = []
    write = session.write

    def counting_write(updates, *batch):
        updates = list(updates)
        written.append(len(updates))
        return write(updates, *batch)

    session.write = counting_write
    try:
        before = rig.service.dataplane.bucket_owners(1)
        rig.run("lb as 10.0.0.1/32 10.1.0.9")
        after = rig.service.dataplane.bucket_owners(1)
    finally:
        session.write = write
    moved = sum(a != b for a, b in zip(before, after, strict=True))
    # The moved buckets (one write phase) and the new AS's encap (another);
    # nothing of the other VIPs, the prefixes or the routes.
    assert sorted(written) == sorted([moved, 1])
    assert _on_switch(rig) == _expected(rig)
