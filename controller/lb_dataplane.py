"""Keeps every switch's tables equal to the configuration, and tracks its flows.

`LbDataPlane.apply(plan)` computes the entries lb.p4 needs for a
`DataPlanePlan` (lb_tables), diffs them against what each switch holds, and
writes only the difference, in an order that never exposes a half-built
VIP: encaps and buckets before the VIP entry that leads to them, the VIP
entry removed before what it led to. When a switch (re)connects, its tables
are read back first, so a controller restart rewrites nothing that is
already right and moves no flow.

A command costs what it changes: entries are computed per group (lb_tables)
and cached by the group's source value, and a switch that was brought to the
previous plan is diffed only over the groups whose source changed. After a
reconnect or a failed write the next sync diffs everything again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError

from controller.flow_learner import FLOW_TABLES, FlowLearner
from controller.lb_tables import (
    CONFIG_TABLES,
    DataPlanePlan,
    EntryGroup,
    EntryId,
    GroupKey,
    TableDiff,
    VipPlan,
    add_entries,
    bucket_owners,
    diff_entries,
    entry_groups,
    entry_id,
    group_entries,
    merge_entries,
)
from controller.p4_schema import DecodedEntry, P4Schema
from controller.p4runtime_codec import (
    CodecError,
    DigestBatch,
    IdleTimeoutBatch,
    MalformedStreamMessage,
    StreamMessage,
)
from controller.p4runtime_proto import p4info_pb2, p4runtime_pb2
from controller.switch_session import (
    WRITE_BATCH,
    Role,
    SwitchAddress,
    SwitchError,
    SwitchSession,
    TableRead,
)

log = logging.getLogger(__name__)

# Write order for inserts/modifies; deletes go in reverse.
TABLE_ORDER = (
    "route4", "route6", "as_encap", "maglev", "reverse_nat4", "reverse_nat6", "vip_port",
    "vip4", "vip6",
)
COUNTERS = (
    "vip_existing_session", "vip_first_session", "vip_untracked", "vip_no_server",
    "vip_pending_collision", "as_packets", "drop_counter",
)
# Updates per WriteRequest when a switch already carries traffic: a switch
# applies one Write at a time, and a flow install must not wait behind a
# whole VIP's bucket rewrite (the pending table covers the wait, but its
# lifetime is finite).
LIVE_WRITE_BATCH = 64
PENDING_CONF_TABLE, PENDING_CONF_ACTION = "pending_conf", "set_pending_lifetime"


def packet_out_field(p4info: p4info_pb2.P4Info, name: str) -> int | None:
    """The id of a field of the P4Info's packet_out header (None: the program has none)."""
    for header in p4info.controller_packet_metadata:
        if header.preamble.name == "packet_out":
            for m in header.metadata:
                if m.name == name:
                    return m.id
    return None


@dataclass
class SyncReport:
    """What one apply() wrote, per switch: (inserts, modifies, deletes)."""

    written: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class LbDataPlane:
    """The switches of one load balancer, programmed identically."""

    def __init__(
        self,
        p4info: p4info_pb2.P4Info,
        device_config: bytes,
        election_id: int,
        timeout_s: Callable[[], int],
        is_pinnable_as: Callable[[int, int], bool],
        on_flows_gone: Callable[[list[tuple[int, int]]], None] | None = None,
    ) -> None:
        self.schema = P4Schema(p4info)
        self.p4info = p4info
        self.device_config = device_config
        self.election_id = election_id
        self.learner = FlowLearner(self.schema, timeout_s, is_pinnable_as, on_flows_gone)
        self.codec = self.learner.codec
        self.sessions: dict[str, SwitchSession] = {}
        # Frames the switches send to the CPU port (health-check answers).
        self.on_packet_in: Callable[[bytes], None] | None = None
        self._probe_as_id = packet_out_field(p4info, "probe_as_id")
        self._next_session = 0
        self._installed: dict[str, dict[EntryId, DecodedEntry]] = {}
        self._plan: DataPlanePlan | None = None
        self._owners: dict[int, tuple[tuple, list[int | None]]] = {}
        # Entries of each group of the current plan, with the source they came from.
        self._groups: dict[GroupKey, tuple[EntryGroup, dict[EntryId, DecodedEntry]]] = {}
        # Per switch: the groups it was last brought to in full (absent: diff everything).
        self._synced: dict[str, dict[GroupKey, tuple[EntryGroup, dict[EntryId, DecodedEntry]]]] = {}
        # Per switch: the pending lifetime last written (absent: write it).
        self._pending_lifetime: dict[str, int] = {}
        self._lock = threading.RLock()

    # --- switches ----------------------------------------------------------------

    def add_switch(self, address: SwitchAddress,
                   credentials: grpc.ChannelCredentials | None = None) -> SwitchSession:
        """``credentials``: TLS to that switch; None: plaintext."""
        session = SwitchSession(
            address, self.p4info, self.device_config, self.election_id,
            on_ready=self._on_ready, on_stream_message=self._on_stream_message,
            on_demoted=self._on_demoted,
            credentials=credentials,
        )
        self.sessions[str(address)] = session
        session.start()
        return session

    def stop(self) -> None:
        self.learner.close()
        for s in self.sessions.values():
            s.stop()

    def _on_ready(self, session: SwitchSession, kept_pipeline: bool) -> None:
        """Reads the switch back and brings it to the current plan.

        Runs under the lock, so no apply() interleaves with the read-back; the
        session counts as connected only once this returns.
        """
        name = str(session.address)
        self.learner.configure_digest(session)
        with self._lock:
            # Every table's read goes out at once: the switch builds the answers
            # while this controller works through the ones that came.
            flow_tables = list(FLOW_TABLES.values())
            reads = session.read_tables_bytes(
                [self.schema.table(t).id for t in (*CONFIG_TABLES, *flow_tables)])
            try:
                installed = self._read_back(session, CONFIG_TABLES, self._groups,
                                            reads[:len(CONFIG_TABLES)])
                # and attaches the session
                adopted = self.learner.reconcile(
                    session, dict(zip(flow_tables, reads[len(CONFIG_TABLES):], strict=True)))
            finally:
                for read in reads:
                    read.cancel()
            self._installed[name] = installed
            self._synced.pop(name, None)
            self._pending_lifetime.pop(name, None)
            log.info("switch %s: %d config entries and %d flows read back", name,
                     len(installed), adopted)
            if self._plan is not None:
                self._sync_switch(session, self._groups)

    def _on_demoted(self, session: SwitchSession) -> None:
        """Another controller is primary on the switch: it learns and ages there now,
        and we read the switch back again if we are primary again."""
        self.learner.release(session)
        with self._lock:
            self._synced.pop(str(session.address), None)

    def _read_back(
        self, session: SwitchSession, tables: Sequence[str],
        groups: dict[GroupKey, tuple[EntryGroup, dict[EntryId, DecodedEntry]]],
        reads: Sequence[TableRead] | None = None,
    ) -> dict[EntryId, DecodedEntry]:
        """What the switch holds in `tables` (`reads`: their reads, already sent).
        An entry read back with the very bytes the controller would write for an
        entry of `groups` is that entry; the others (missing from the plan, or
        different) are decoded, so the diff sees exactly what the switch holds
        either way."""
        if reads is None:
            reads = session.read_tables_bytes([self.schema.table(t).id for t in tables])
            try:
                return self._read_back(session, tables, groups, reads)
            finally:
                for read in reads:
                    read.cancel()
        wanted = set(tables)
        known = self.codec.table_entry_bytes(
            e for _group, entries in groups.values() for e in entries.values()
            if e.table in wanted)
        installed: dict[EntryId, DecodedEntry] = {}
        for table, read in zip(tables, reads, strict=True):
            for raw in read:
                e = known.get(raw)
                if e is None:
                    try:
                        e = self.codec.decode(p4runtime_pb2.TableEntry.FromString(raw))
                    except (CodecError, DecodeError) as err:
                        # Left out of `installed`: the next apply() writes the
                        # entry again, and the switch says what it makes of it.
                        log.warning("switch %s: unreadable %s entry: %s", session.address,
                                    table, err)
                        continue
                installed[entry_id(e)] = e
        return installed

    def _on_stream_message(self, session: SwitchSession, msg: StreamMessage) -> None:
        if isinstance(msg, DigestBatch):
            self.learner.handle_digest(session, msg)
        elif isinstance(msg, IdleTimeoutBatch):
            self.learner.handle_idle_timeout(session, msg)
        elif isinstance(msg, p4runtime_pb2.StreamMessageResponse) and msg.HasField("packet"):
            if self.on_packet_in is not None:
                self.on_packet_in(msg.packet.payload)
        elif isinstance(msg, MalformedStreamMessage):
            self.learner.bad_messages += 1
            log.warning("switch %s sent a malformed stream message (%d bytes): %s",
                        session.address, msg.size, msg.reason)

    def send_probe(self, frame: bytes, as_id: int) -> bool:
        """Sends a health probe through one connected switch (round robin), as a
        PacketOut that names its AS; False when no switch can take it."""
        if self._probe_as_id is None:
            return False
        sessions = [s for s in list(self.sessions.values()) if s.connected.is_set()]
        if not sessions:
            return False
        self._next_session = (self._next_session + 1) % len(sessions)
        msg = p4runtime_pb2.StreamMessageRequest()
        msg.packet.payload = frame
        meta = msg.packet.metadata.add()
        meta.metadata_id = self._probe_as_id
        meta.value = as_id.to_bytes(max(1, (as_id.bit_length() + 7) // 8), "big")  # canonical
        sessions[self._next_session].send(msg)
        return True

    # --- configuration -------------------------------------------------------------

    def _vip_owners(self, vip: VipPlan) -> list[int | None]:
        ident = (vip.new_len, tuple((a.as_id, a.address, a.weight) for a in vip.ases if a.live))
        cached = self._owners.get(vip.vip_id)
        if cached is not None and cached[0] == ident:
            return cached[1]
        owners = bucket_owners(vip)
        self._owners[vip.vip_id] = (ident, owners)
        return owners

    def _group_entries(
        self, plan: DataPlanePlan
    ) -> dict[GroupKey, tuple[EntryGroup, dict[EntryId, DecodedEntry]]]:
        """The entries of every group of `plan`, recomputed only where a source changed."""
        with self._lock:
            old = self._groups
            out = {}
            for key, group in entry_groups(plan).items():
                cached = old.get(key)
                if cached is not None and cached[0] == group:
                    out[key] = cached
                else:
                    out[key] = (group, add_entries({}, group_entries(group, self._vip_owners)))
            live = {v.vip_id for v in plan.vips}
            for stale in set(self._owners) - live:
                del self._owners[stale]
        return out

    def apply(self, plan: DataPlanePlan) -> SyncReport:
        """Makes every connected switch hold `plan`; unconnected ones get it on connect."""
        groups = self._group_entries(plan)
        with self._lock:
            self._plan = plan
            self._groups = groups
        report = SyncReport()
        for name, session in list(self.sessions.items()):
            if not session.connected.is_set():
                report.errors[name] = (f"not written now ({session.describe()}); "
                                       "written when this controller is its primary")
                continue
            try:
                report.written[name] = self._sync_switch(session, groups)
            except SwitchError as e:
                report.errors[name] = str(e)
        return report

    def _sync_switch(
        self,
        session: SwitchSession,
        groups: dict[GroupKey, tuple[EntryGroup, dict[EntryId, DecodedEntry]]],
    ) -> tuple[int, int, int]:
        name = str(session.address)
        with self._lock:
            installed = self._installed.setdefault(name, {})
            synced = self._synced.pop(name, None)  # back only if every write succeeds
            desired: dict[EntryId, DecodedEntry] = {}
            if synced is None:
                scope: dict[EntryId, DecodedEntry] = installed
                for _group, entries in groups.values():
                    merge_entries(desired, entries)
            else:
                changed = [k for k, (g, _) in groups.items()
                           if k not in synced or synced[k][0] != g]
                gone = [k for k in synced if k not in groups]
                for k in changed:
                    merge_entries(desired, groups[k][1])
                ids = set(desired)
                for k in changed + gone:
                    ids.update(synced[k][1] if k in synced else {})
                scope = {eid: installed[eid] for eid in ids if eid in installed}
            diff = diff_entries(scope, desired)
            # A full sync (connect, or after a failed write) goes in big batches.
            self._write_diff(session, installed, diff,
                             WRITE_BATCH if synced is None else LIVE_WRITE_BATCH)
            self._write_pending_lifetime(session)
            self._synced[name] = dict(groups)
        return (len(diff.inserts), len(diff.modifies), len(diff.deletes))

    def _write_pending_lifetime(self, session: SwitchSession) -> None:
        """lb.p4's pending_conf is keyless: its default action holds the lifetime."""
        name = str(session.address)
        lifetime = self._plan.pending_lifetime_us if self._plan is not None else None
        if lifetime is None or self._pending_lifetime.get(name) == lifetime:
            return
        table = self.schema.table(PENDING_CONF_TABLE)
        action = self.schema.action(PENDING_CONF_ACTION)
        entry = p4runtime_pb2.TableEntry(table_id=table.id, is_default_action=True)
        entry.action.action.action_id = action.id
        (param,) = action.params
        entry.action.action.params.add(param_id=param.id,
                                       value=lifetime.to_bytes((param.bitwidth + 7) // 8, "big"))
        update = p4runtime_pb2.Update(type=p4runtime_pb2.Update.MODIFY)
        update.entity.table_entry.CopyFrom(entry)
        session.write([update])
        self._pending_lifetime[name] = lifetime

    def _write_diff(
        self, session: SwitchSession, installed: dict[EntryId, DecodedEntry], diff: TableDiff,
        batch: int,
    ) -> None:
        """Inserts and modifies table by table in TABLE_ORDER, then deletes in reverse.

        Each table is a phase of its own: entries of one table never depend on
        each other, entries of different tables may."""
        insert, modify = p4runtime_pb2.Update.INSERT, p4runtime_pb2.Update.MODIFY
        delete = p4runtime_pb2.Update.DELETE
        by_table: dict[str, list[tuple[int, DecodedEntry]]] = {}
        for kind, entries in ((insert, diff.inserts), (modify, diff.modifies),
                              (delete, diff.deletes)):
            for e in entries:
                by_table.setdefault(e.table, []).append((kind, e))
        for table in TABLE_ORDER:
            writes = [(k, e) for k, e in by_table.get(table, ()) if k != delete]
            if writes:
                self._write_phase(session, installed, table,
                                  (self.codec.update_bytes(k, e) for k, e in writes), batch)
                for _k, e in writes:
                    installed[entry_id(e)] = e
        for table in reversed(TABLE_ORDER):
            deletes = [e for k, e in by_table.get(table, ()) if k == delete]
            if deletes:
                self._write_phase(session, installed, table,
                                  (self.codec.update_bytes(delete, e) for e in deletes), batch)
                for e in deletes:
                    installed.pop(entry_id(e), None)

    def _write_phase(
        self,
        session: SwitchSession,
        installed: dict[EntryId, DecodedEntry],
        table: str,
        updates: Iterable[bytes],
        batch: int,
    ) -> None:
        """Writes one table's updates (encoded as they are sent); on failure, re-learns
        that table from the switch so the next apply() repairs exactly what is wrong."""
        try:
            session.write(updates, batch)
        except SwitchError:
            try:
                fresh = self._read_back(session, [table], self._groups)
            except SwitchError:
                fresh = None
            if fresh is not None:
                for eid in [eid for eid in installed if eid[0] == table]:
                    del installed[eid]
                installed.update(fresh)
            raise

    def installed_entries(self, switch: str) -> dict[EntryId, DecodedEntry]:
        with self._lock:
            return dict(self._installed.get(switch, {}))

    def bucket_owners(self, vip_id: int) -> list[int | None] | None:
        with self._lock:
            cached = self._owners.get(vip_id)
            return None if cached is None else list(cached[1])

    # --- counters ------------------------------------------------------------------

    def read_counters(
        self, indices: dict[str, list[int]] | None = None
    ) -> dict[str, dict[int, tuple[int, int]]]:
        """Counters summed over the connected switches: name -> index -> (bytes, pkts).

        `indices` limits the read to the cells of configured VIPs/ASs: reading
        all 65536 AS cells costs a second of protobuf decoding.
        """
        total: dict[str, dict[int, tuple[int, int]]] = {c: {} for c in COUNTERS}
        for session in list(self.sessions.values()):
            if session.role is Role.CONNECTING:
                continue  # a backup may read: its stream is open
            for name in COUNTERS:
                try:
                    cells = session.read_counter(
                        self.schema.counter_id(name),
                        None if indices is None else indices.get(name, []),
                    )
                except SwitchError as e:
                    log.warning("counter %s on %s: %s", name, session.address, e)
                    continue
                acc = total[name]
                for idx, (b, p) in cells.items():
                    if b or p:
                        ob, op = acc.get(idx, (0, 0))
                        acc[idx] = (ob + b, op + p)
        return total
