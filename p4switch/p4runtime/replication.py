"""The packet replication engine: multicast groups and clone sessions, as PI does them.

PI (pre_mc_mgr.cpp, pre_clone_mgr.cpp) keeps multicast group ids below 32768
for clients and builds each clone session N from a hidden multicast group
32768 + N holding the session's replicas, pointed to by the mirroring session.
Codes: group or session id 0 is INVALID_ARGUMENT, a group id from 32768 up is
OUT_OF_RANGE, a session id outside [1, 32768) INVALID_ARGUMENT, duplicates
ALREADY_EXISTS, unknown ids NOT_FOUND, class_of_service UNIMPLEMENTED.
"""

from __future__ import annotations

from dataclasses import dataclass

from p4switch.p4runtime.bytestrings import to_port
from p4switch.p4runtime.errors import (
    already_exists,
    from_engine,
    invalid,
    not_found,
    out_of_range,
    unimplemented,
)
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.runtime_api import RuntimeApiError, SwitchRuntime

Update = p4runtime_pb2.Update

FIRST_RESERVED_GROUP = 1 << 15
MAX_SESSION = 32768


@dataclass
class StoredGroup:
    replicas: list[p4runtime_pb2.Replica]
    metadata: bytes = b""


@dataclass
class StoredSession:
    replicas: list[p4runtime_pb2.Replica]
    class_of_service: int
    packet_length_bytes: int


def _engine(doing: str, fn, *args):
    try:
        return fn(*args)
    except RuntimeApiError as e:
        raise from_engine(e, doing) from None


def _replica_pairs(replicas, where: str) -> list[tuple[int, int]]:
    """(egress port, instance) pairs of ``replicas``; duplicates and missing ports refused."""
    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for i, replica in enumerate(replicas):
        which = replica.WhichOneof("port_kind")
        if which == "egress_port":
            port = replica.egress_port
        elif which == "port":
            port = to_port(replica.port, f"{where} replica {i}")
        else:
            raise invalid(f"{where}: replica {i} has no port")
        pair = (port, replica.instance)
        if pair in seen:
            raise invalid(f"{where}: replica (port {port}, instance {replica.instance}) is "
                          "listed twice")
        seen.add(pair)
        pairs.append(pair)
    return pairs


class ReplicationEngine:
    def __init__(self, runtime: SwitchRuntime) -> None:
        self.runtime = runtime
        self.groups: dict[int, StoredGroup] = {}
        self.sessions: dict[int, StoredSession] = {}

    def write(self, update_type: int, entry: p4runtime_pb2.PacketReplicationEngineEntry) -> None:
        which = entry.WhichOneof("type")
        if which == "multicast_group_entry":
            self._write_group(update_type, entry.multicast_group_entry)
        elif which == "clone_session_entry":
            self._write_session(update_type, entry.clone_session_entry)
        else:
            raise invalid("PacketReplicationEngineEntry: set multicast_group_entry or "
                          "clone_session_entry")

    def read(self, request: p4runtime_pb2.PacketReplicationEngineEntry, response: list) -> None:
        which = request.WhichOneof("type")
        if which == "multicast_group_entry":
            self._read_groups(request.multicast_group_entry.multicast_group_id, response)
        elif which == "clone_session_entry":
            self._read_sessions(request.clone_session_entry.session_id, response)
        else:
            raise invalid("PacketReplicationEngineEntry: set multicast_group_entry or "
                          "clone_session_entry")

    # --- multicast groups --------------------------------------------------------

    def _write_group(self, update_type: int, entry: p4runtime_pb2.MulticastGroupEntry) -> None:
        group_id = entry.multicast_group_id
        where = f"multicast group {group_id}"
        if group_id == 0:
            raise invalid("multicast group id 0 is not valid")
        if group_id >= FIRST_RESERVED_GROUP:
            raise out_of_range(f"{where}: ids from {FIRST_RESERVED_GROUP} up are reserved")
        if update_type == Update.INSERT:
            if group_id in self.groups:
                raise already_exists(f"{where} already exists")
        elif update_type in (Update.MODIFY, Update.DELETE):
            if group_id not in self.groups:
                raise not_found(f"{where} does not exist")
        else:
            raise invalid(f"{where}: update type {update_type} is not INSERT, MODIFY or DELETE")
        if update_type == Update.DELETE:
            _engine(f"{where}: deleting", self.runtime.mc_set_group, group_id, [])
            del self.groups[group_id]
            return
        pairs = _replica_pairs(entry.replicas, where)
        _engine(f"{where}: setting replicas", self.runtime.mc_set_group, group_id, pairs)
        self.groups[group_id] = StoredGroup(list(entry.replicas), entry.metadata)

    def _read_groups(self, group_id: int, response: list) -> None:
        if group_id >= FIRST_RESERVED_GROUP:
            raise out_of_range(f"multicast group {group_id}: ids from {FIRST_RESERVED_GROUP} "
                               "up are reserved")
        if group_id == 0:
            ids = sorted(self.groups)
        elif group_id in self.groups:
            ids = [group_id]
        else:
            raise not_found(f"multicast group {group_id} does not exist")
        for gid in ids:
            stored = self.groups[gid]
            entity = p4runtime_pb2.Entity()
            out = entity.packet_replication_engine_entry.multicast_group_entry
            out.multicast_group_id = gid
            out.replicas.extend(stored.replicas)
            out.metadata = stored.metadata
            response.append(entity)

    # --- clone sessions ----------------------------------------------------------

    def _write_session(self, update_type: int, entry: p4runtime_pb2.CloneSessionEntry) -> None:
        session_id = entry.session_id
        where = f"clone session {session_id}"
        if session_id == 0:
            raise invalid("clone session id 0 is not valid")
        if session_id >= MAX_SESSION:
            raise invalid(f"{where}: session ids must be below {MAX_SESSION}")
        if update_type == Update.INSERT:
            if session_id in self.sessions:
                raise already_exists(f"{where} already exists")
        elif update_type in (Update.MODIFY, Update.DELETE):
            if session_id not in self.sessions:
                raise not_found(f"{where} does not exist")
        else:
            raise invalid(f"{where}: update type {update_type} is not INSERT, MODIFY or DELETE")
        group_id = FIRST_RESERVED_GROUP + session_id
        rt = self.runtime
        if update_type == Update.DELETE:
            _engine(f"{where}: deleting", rt.mirroring_session_delete, session_id)
            _engine(f"{where}: deleting its replicas", rt.mc_set_group, group_id, [])
            del self.sessions[session_id]
            return
        if entry.class_of_service != 0:
            raise unimplemented(f"{where}: class_of_service is not supported")
        pairs = _replica_pairs(entry.replicas, where)
        _engine(f"{where}: setting replicas", rt.mc_set_group, group_id, pairs)
        _engine(f"{where}: configuring", rt.mirroring_session_set, session_id, None, group_id,
                entry.packet_length_bytes)
        self.sessions[session_id] = StoredSession(
            list(entry.replicas), entry.class_of_service, entry.packet_length_bytes)

    def _read_sessions(self, session_id: int, response: list) -> None:
        if session_id == 0:
            ids = sorted(self.sessions)
        elif session_id in self.sessions:
            ids = [session_id]
        else:
            raise not_found(f"clone session {session_id} does not exist")
        for sid in ids:
            stored = self.sessions[sid]
            entity = p4runtime_pb2.Entity()
            out = entity.packet_replication_engine_entry.clone_session_entry
            out.session_id = sid
            out.replicas.extend(stored.replicas)
            out.class_of_service = stored.class_of_service
            out.packet_length_bytes = stored.packet_length_bytes
            response.append(entity)
