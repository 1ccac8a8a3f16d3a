"""Multicast groups and clone sessions (PacketReplicationEngineEntry)."""

from frames import MAC_B, ethernet
from p4rt_client import Update, update

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Entity = p4runtime_pb2.Entity
PRE = p4runtime_pb2.PacketReplicationEngineEntry


def mc_group(group_id, ports, instance=0):
    entry = PRE()
    entry.multicast_group_entry.multicast_group_id = group_id
    for port in ports:
        entry.multicast_group_entry.replicas.add(egress_port=port, instance=instance)
    return entry


def clone_session(session_id, ports, **extra):
    entry = PRE()
    entry.clone_session_entry.session_id = session_id
    for port in ports:
        entry.clone_session_entry.replicas.add(egress_port=port, instance=1)
    for key, value in extra.items():
        setattr(entry.clone_session_entry, key, value)
    return entry


def test_multicast_group_replicates_and_reads_back(loaded):
    switch, c, names = loaded
    c.write(update(Update.INSERT, packet_replication_engine_entry=mc_group(5, [1, 2, 3])),
            update(Update.INSERT, table_entry=names.entry(
                "dmac", {"hdr.ethernet.dst": MAC_B}, "multicast", group=5)))
    switch.send(9, ethernet(MAC_B))
    assert sorted(p for p, _ in [switch.next_frame() for _ in range(3)]) == [1, 2, 3]
    [read] = c.read(Entity(packet_replication_engine_entry=mc_group(5, [])))
    replicas = read.packet_replication_engine_entry.multicast_group_entry.replicas
    assert sorted(r.egress_port for r in replicas) == [1, 2, 3]
    c.write(update(Update.MODIFY, packet_replication_engine_entry=mc_group(5, [7])))
    switch.send(9, ethernet(MAC_B))
    assert switch.next_frame()[0] == 7
    c.write(update(Update.DELETE, packet_replication_engine_entry=mc_group(5, [])))
    assert c.read(Entity(packet_replication_engine_entry=mc_group(0, []))) == []


def test_multicast_group_errors(loaded):
    _, c, _ = loaded
    c.write(update(Update.INSERT, packet_replication_engine_entry=mc_group(5, [1])))
    duplicate_replica = mc_group(6, [1, 1])
    errors = c.write_errors(
        update(Update.INSERT, packet_replication_engine_entry=mc_group(0, [1])),
        update(Update.INSERT, packet_replication_engine_entry=mc_group(40000, [1])),
        update(Update.INSERT, packet_replication_engine_entry=mc_group(5, [1])),
        update(Update.MODIFY, packet_replication_engine_entry=mc_group(8, [1])),
        update(Update.INSERT, packet_replication_engine_entry=duplicate_replica))
    assert [code for code, _ in errors] == [
        code_pb2.INVALID_ARGUMENT, code_pb2.OUT_OF_RANGE, code_pb2.ALREADY_EXISTS,
        code_pb2.NOT_FOUND, code_pb2.INVALID_ARGUMENT]


def test_clone_session_copies_the_packet(loaded):
    switch, c, names = loaded
    c.write(update(Update.INSERT, packet_replication_engine_entry=clone_session(7, [9])),
            update(Update.INSERT, table_entry=names.entry(
                "dmac", {"hdr.ethernet.dst": MAC_B}, "forward_and_clone", port=1, session=7)))
    switch.send(2, ethernet(MAC_B))
    assert sorted(p for p, _ in [switch.next_frame() for _ in range(2)]) == [1, 9]
    [read] = c.read(Entity(packet_replication_engine_entry=clone_session(0, [])))
    assert read.packet_replication_engine_entry.clone_session_entry.session_id == 7
    errors = c.write_errors(
        update(Update.INSERT, packet_replication_engine_entry=clone_session(0, [1])),
        update(Update.INSERT, packet_replication_engine_entry=clone_session(7, [1])),
        update(Update.INSERT, packet_replication_engine_entry=clone_session(
            8, [1], class_of_service=2)),
        update(Update.DELETE, packet_replication_engine_entry=clone_session(9, [])))
    assert [code for code, _ in errors] == [
        code_pb2.INVALID_ARGUMENT, code_pb2.ALREADY_EXISTS, code_pb2.UNIMPLEMENTED,
        code_pb2.NOT_FOUND]
