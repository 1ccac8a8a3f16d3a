"""Keeps every switch's tables equal to the configuration, and tracks its flows.

`LbDataPlane.apply(plan)` computes the entries lb.p4 needs for a
`DataPlanePlan` (lb_tables), diffs them against what each switch holds, and
writes only the difference, in an order that never exposes a half-built
VIP: encaps and buckets before the VIP entry that leads to them, the VIP
entry removed before what it led to. When a switch (re)connects, its tables
are read back first, so a controller restart rewrites nothing that is
already right and moves no flow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from controller.flow_learner import FlowLearner
from controller.lb_tables import (
    CONFIG_TABLES,
    DataPlanePlan,
    EntryId,
    VipPlan,
    bucket_owners,
    desired_entries,
    diff_entries,
    entry_id,
)
from controller.p4_schema import DecodedEntry, P4Schema
from controller.p4runtime_wire import (
    DigestBatch,
    IdleTimeoutBatch,
    MalformedStreamMessage,
    StreamMessage,
    WireError,
)
from controller.switch_session import SwitchAddress, SwitchError, SwitchSession

log = logging.getLogger(__name__)

# Write order for inserts/modifies; deletes go in reverse.
TABLE_ORDER = (
    "route4", "route6", "as_encap", "maglev", "reverse_nat4", "reverse_nat6", "vip_port",
    "vip4", "vip6",
)
COUNTERS = (
    "vip_existing_session", "vip_first_session", "vip_untracked", "vip_no_server",
    "as_packets", "drop_counter",
)


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
        is_live_as: Callable[[int, int], bool],
        on_flows_gone: Callable[[list[tuple[int, int]]], None] | None = None,
    ) -> None:
        self.schema = P4Schema(p4info)
        self.p4info = p4info
        self.device_config = device_config
        self.election_id = election_id
        self.learner = FlowLearner(self.schema, timeout_s, is_live_as, on_flows_gone)
        self.codec = self.learner.codec
        self.sessions: dict[str, SwitchSession] = {}
        self._installed: dict[str, dict[EntryId, DecodedEntry]] = {}
        self._plan: DataPlanePlan | None = None
        self._owners: dict[int, tuple[tuple, list[int | None]]] = {}
        self._lock = threading.RLock()

    # --- switches ----------------------------------------------------------------

    def add_switch(self, address: SwitchAddress) -> SwitchSession:
        session = SwitchSession(
            address, self.p4info, self.device_config, self.election_id,
            on_ready=self._on_ready, on_stream_message=self._on_stream_message,
        )
        self.sessions[str(address)] = session
        session.start()
        return session

    def stop(self) -> None:
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
            installed = self._read_back(session, CONFIG_TABLES)
            adopted = self.learner.reconcile(session)
            self.learner.attach(session)
            self._installed[name] = installed
            log.info("switch %s: %d config entries and %d flows read back", name,
                     len(installed), adopted)
            if self._plan is not None:
                self._sync_switch(session, self._desired(self._plan))

    def _read_back(self, session: SwitchSession, tables) -> dict[EntryId, DecodedEntry]:
        installed: dict[EntryId, DecodedEntry] = {}
        for table in tables:
            for te in session.read_table(self.schema.table(table).id):
                try:
                    e = self.codec.decode(te)
                except WireError as err:
                    # Left out of `installed`: the next apply() writes the
                    # entry again, and the switch says what it makes of it.
                    log.warning("switch %s: unreadable %s entry: %s", session.address, table,
                                err)
                    continue
                installed[entry_id(e)] = e
        return installed

    def _on_stream_message(self, session: SwitchSession, msg: StreamMessage) -> None:
        if isinstance(msg, DigestBatch):
            self.learner.handle_digest(session, msg)
        elif isinstance(msg, IdleTimeoutBatch):
            self.learner.handle_idle_timeout(session, msg)
        elif isinstance(msg, MalformedStreamMessage):
            self.learner.bad_messages += 1
            log.warning("switch %s sent a malformed stream message (%d bytes): %s",
                        session.address, msg.size, msg.reason)

    # --- configuration -------------------------------------------------------------

    def _vip_owners(self, vip: VipPlan) -> list[int | None]:
        ident = (vip.new_len, tuple((a.as_id, a.address, a.weight) for a in vip.ases if a.live))
        cached = self._owners.get(vip.vip_id)
        if cached is not None and cached[0] == ident:
            return cached[1]
        owners = bucket_owners(vip)
        self._owners[vip.vip_id] = (ident, owners)
        return owners

    def _desired(self, plan: DataPlanePlan) -> dict[EntryId, DecodedEntry]:
        with self._lock:
            owners = {v.vip_id: self._vip_owners(v) for v in plan.vips}
            for stale in set(self._owners) - set(owners):
                del self._owners[stale]
        return desired_entries(plan, owners)

    def apply(self, plan: DataPlanePlan) -> SyncReport:
        """Makes every connected switch hold `plan`; unconnected ones get it on connect."""
        desired = self._desired(plan)
        with self._lock:
            self._plan = plan
        report = SyncReport()
        for name, session in list(self.sessions.items()):
            if not session.connected.is_set():
                report.errors[name] = "not connected (will be programmed on connect)"
                continue
            try:
                report.written[name] = self._sync_switch(session, desired)
            except SwitchError as e:
                report.errors[name] = str(e)
        return report

    def _sync_switch(
        self, session: SwitchSession, desired: dict[EntryId, DecodedEntry]
    ) -> tuple[int, int, int]:
        name = str(session.address)
        with self._lock:
            installed = self._installed.setdefault(name, {})
            diff = diff_entries(installed, desired)
            rank = {t: i for i, t in enumerate(TABLE_ORDER)}
            forward = sorted(
                [(p4runtime_pb2.Update.INSERT, e) for e in diff.inserts]
                + [(p4runtime_pb2.Update.MODIFY, e) for e in diff.modifies],
                key=lambda ke: rank[ke[1].table],
            )
            backward = sorted(diff.deletes, key=lambda e: -rank[e.table])
            # Each table is a phase of its own: entries of one table never
            # depend on each other, entries of different tables may.
            insert, modify = p4runtime_pb2.Update.INSERT, p4runtime_pb2.Update.MODIFY
            for table in TABLE_ORDER:
                phase = [e for k, e in forward if e.table == table and k == insert]
                phase_mod = [e for k, e in forward if e.table == table and k == modify]
                if phase or phase_mod:
                    self._write_phase(
                        session, installed, table,
                        [self.codec.update(insert, e) for e in phase]
                        + [self.codec.update(modify, e) for e in phase_mod],
                    )  # fmt: skip
                    for e in phase + phase_mod:
                        installed[entry_id(e)] = e
            for table in reversed(TABLE_ORDER):
                phase = [e for e in backward if e.table == table]
                if phase:
                    self._write_phase(
                        session, installed, table,
                        [self.codec.update(p4runtime_pb2.Update.DELETE, e) for e in phase],
                    )  # fmt: skip
                    for e in phase:
                        installed.pop(entry_id(e), None)
        return (len(diff.inserts), len(diff.modifies), len(diff.deletes))

    def _write_phase(
        self,
        session: SwitchSession,
        installed: dict[EntryId, DecodedEntry],
        table: str,
        updates: list[bytes],
    ) -> None:
        """Writes one table's updates; on failure, re-learns that table from the switch
        so the next apply() repairs exactly what is wrong."""
        try:
            session.write(updates)
        except SwitchError:
            try:
                fresh = self._read_back(session, [table])
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
            if not session.connected.is_set():
                continue
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
