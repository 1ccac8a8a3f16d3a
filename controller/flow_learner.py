"""Sticky flows: digests become flow entries, idle notifications delete them.

The data plane sends one digest (flow key, VIP id, AS id) for a flow's first
packet; its pending-flow table (lb.p4 flow_select.p4) keeps the flow's later
packets on that AS until the entry is installed, so the learner installs the
AS the digest names, never one recomputed from the buckets, and pins flows to
draining ASs too. The learner installs the flow on every switch (so a
flow keeps its AS whichever LB carries it, even after the AS set changed),
with idle_timeout_ns = the LB timeout; each switch ages its copy on its own,
and a flow is gone when the last switch reported it idle. Installs and
deletes are batched: a burst of new flows costs a few WriteRequests.

Digests are decoded on the stream thread and queued; one writer thread
installs everything queued in one write, so batches grow with the load (a
digest list per millisecond would otherwise be a Write RPC per millisecond,
which costs the switch more than the entries) while a lone flow is written
at once.

The learner owns the record of tracked flows (per VIP and per AS), which
`show lb flows` lists and which drain/flush use.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from controller.p4_schema import DecodedEntry, P4Schema
from controller.p4runtime_codec import (
    CodecError,
    DigestBatch,
    EntryCodec,
    IdleTimeoutBatch,
    table_entry_update,
)
from controller.p4runtime_proto import p4runtime_pb2
from controller.switch_session import SwitchError, SwitchSession

log = logging.getLogger(__name__)

DIGEST_NAME = "flow_digest_t"
FLOW_TABLES = {4: "flow4", 6: "flow6"}
FLOW_ACTION = "use_flow_as"
STRAY_BATCH = 64
DIGEST_MAX_TIMEOUT_NS = 10_000_000
PROTOCOL_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 0: "any"}


@dataclass(frozen=True, slots=True)
class FlowKey:
    """The key of the flow4/flow6 tables. Addresses are ints of their family."""

    family: int
    vip_id: int
    src: int
    dst: int
    protocol: int
    src_port: int
    dst_port: int

    def table_key(self) -> tuple[int, ...]:
        return (self.vip_id, self.src, self.dst, self.protocol, self.src_port, self.dst_port)

    def describe(self) -> str:
        addr = ipaddress.IPv4Address if self.family == 4 else ipaddress.IPv6Address
        proto = PROTOCOL_NAMES.get(self.protocol, str(self.protocol))
        return (
            f"{proto} {addr(self.src)}:{self.src_port} -> {addr(self.dst)}:{self.dst_port}"
        )


@dataclass(slots=True)
class FlowRecord:
    """Where a tracked flow is pinned and which switches hold its entry.

    `switches` is a frozenset shared by every record with the same switches
    (FlowLearner interns them): a set per flow was a third of the
    controller's memory per flow."""

    as_id: int
    switches: frozenset[str] = frozenset()


def flow_from_digest_struct(members: list[bytes]) -> tuple[FlowKey, int]:
    """Decodes flow_digest_t (family, vip_id, src, dst, protocol, sport, dport, as_id)."""
    if len(members) != 8:
        raise ValueError(f"flow digest has {len(members)} members, expected 8")
    v = [int.from_bytes(m, "big") for m in members]
    family, vip_id, src, dst, proto, sport, dport, as_id = v
    if family not in (4, 6):
        raise ValueError(f"flow digest family {family}, expected 4 or 6")
    return FlowKey(family, vip_id, src, dst, proto, sport, dport), as_id


def flow_from_entry(entry: DecodedEntry) -> tuple[FlowKey, int]:
    family = 4 if entry.table == FLOW_TABLES[4] else 6
    vip_id, src, dst, proto, sport, dport = entry.key  # type: ignore[misc]
    as_id = entry.params[0] if entry.params else 0
    return FlowKey(family, vip_id, src, dst, proto, sport, dport), as_id


class FlowLearner:
    """Tracks flows across switches; thread-safe (digests arrive on stream threads)."""

    def __init__(
        self,
        schema: P4Schema,
        timeout_s: Callable[[], int],
        is_pinnable_as: Callable[[int, int], bool],
        on_flows_gone: Callable[[list[tuple[int, int]]], None] | None = None,
    ) -> None:
        self.schema = schema
        self.codec = EntryCodec(schema)
        self._timeout_s = timeout_s
        self._is_pinnable_as = is_pinnable_as  # (vip_id, as_id) -> may a flow be pinned there?
        self._on_flows_gone = on_flows_gone  # [(vip_id, as_id)] whose flows went away
        self._lock = threading.Lock()
        # Serialises flow writes: an install racing a flush must not leave an
        # entry on a switch that the learner no longer tracks.
        self._io = threading.Lock()
        self._flows: dict[FlowKey, FlowRecord] = {}
        self._by_as: dict[int, set[FlowKey]] = defaultdict(set)
        self._sessions: dict[str, SwitchSession] = {}
        self.learned = 0
        self.aged = 0
        self.install_failures = 0
        self.bad_messages = 0  # digests / notifications that could not be decoded
        self._switch_sets: dict[frozenset[str], frozenset[str]] = {}
        self._queued: dict[FlowKey, int] = {}  # learned, not yet written (under _lock)
        self._queue_ready = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None
        self._closing = False

    # --- switches --------------------------------------------------------------

    def _with(self, switches: frozenset[str], name: str) -> frozenset[str]:
        return switches if name in switches else self._interned(switches | {name})

    def _without(self, switches: frozenset[str], name: str) -> frozenset[str]:
        return self._interned(switches - {name}) if name in switches else switches

    def _interned(self, switches: frozenset[str]) -> frozenset[str]:
        return self._switch_sets.setdefault(switches, switches)

    def attach(self, session: SwitchSession) -> None:
        with self._lock:
            self._sessions[str(session.address)] = session

    def detach(self, session: SwitchSession) -> None:
        with self._lock:
            self._sessions.pop(str(session.address), None)

    def release(self, session: SwitchSession) -> None:
        """Another controller owns the switch now: stop writing to it and forget
        what we knew of its flows (it ages and learns them without us). Flows
        tracked only there are dropped without collecting their ASs: whoever
        owns the switch now still has them."""
        name = str(session.address)
        with self._io:
            with self._lock:
                self._sessions.pop(name, None)
                for key in [k for k, r in self._flows.items() if name in r.switches]:
                    rec = self._flows[key]
                    rec.switches = self._without(rec.switches, name)
                    if not rec.switches:
                        del self._flows[key]
                        self._by_as[rec.as_id].discard(key)
                        if not self._by_as[rec.as_id]:
                            del self._by_as[rec.as_id]

    def configure_digest(self, session: SwitchSession) -> None:
        """Asks the switch to stream flow digests (BMv2 drops them otherwise)."""
        entry = p4runtime_pb2.DigestEntry(digest_id=self.schema.digest_id(DIGEST_NAME))
        # 10 ms bounds the learning latency. A flow's packets keep their AS
        # meanwhile (the pending-flow table holds it for the pending lifetime,
        # 2 s by default), so the bound only sizes the lists: each list costs
        # the switch a stream message and us a Write, and at 1 ms a burst of
        # thousands of new flows/s came in lists of ~3, whose per-message cost
        # held learning to ~2k flows/s (bench flows: 10 ms gave >2.5x).
        entry.config.max_timeout_ns = DIGEST_MAX_TIMEOUT_NS
        entry.config.max_list_size = 256
        entry.config.ack_timeout_ns = 1_000_000_000
        update = p4runtime_pb2.Update(type=p4runtime_pb2.Update.INSERT)
        update.entity.digest_entry.CopyFrom(entry)
        try:
            session.write([update])
        except SwitchError:
            update.type = p4runtime_pb2.Update.MODIFY
            session.write([update])

    def reconcile(self, session: SwitchSession,
                  reads: Mapping[str, Iterable[bytes]] | None = None) -> int:
        """Makes the learner and a (re)connected switch agree on its flows.

        Flows the switch holds are adopted (a controller restart moves none);
        flows the learner tracks but the switch lost (it restarted) are
        installed again, so they keep their AS even if the AS set changed.
        Returns the number of flows adopted from the switch. `reads`: the flow
        tables' TableEntries as bytes, by table, if the caller already asked.
        """
        name = str(session.address)
        if reads is None:
            tables = list(FLOW_TABLES.values())
            reads = dict(zip(tables, session.read_tables_bytes(
                [self.schema.table(t).id for t in tables]), strict=True))
        on_switch: dict[FlowKey, int] = {}
        parse = p4runtime_pb2.TableEntry.FromString
        for table in FLOW_TABLES.values():
            for raw in reads[table]:
                try:
                    key, as_id = flow_from_entry(self.codec.decode(parse(raw)))
                except (CodecError, DecodeError, ValueError) as e:
                    self.bad_messages += 1
                    log.warning("switch %s holds an unreadable flow entry: %s", name, e)
                    continue
                on_switch[key] = as_id
        with self._io:
            with self._lock:
                # Attached under the write lock: a flow learned from another
                # switch from here on is installed on this one too.
                self._sessions[name] = session
                for rec in self._flows.values():
                    rec.switches = self._without(rec.switches, name)
                for key, as_id in on_switch.items():
                    rec = self._flows.get(key)
                    if rec is None:
                        rec = self._flows[key] = FlowRecord(as_id)
                        self._by_as[as_id].add(key)
                    rec.switches = self._with(rec.switches, name)
                missing = {k: r.as_id for k, r in self._flows.items() if name not in r.switches}
            if missing:
                timeout_ns = self._timeout_s() * 1_000_000_000
                updates = [self._flow_update(k, a, timeout_ns) for k, a in missing.items()]
                try:
                    session.write(updates)
                    failed: set[int] = set()
                except SwitchError as e:
                    failed = {i for i, code, _ in e.errors if code != 6}
                with self._lock:
                    for i, key in enumerate(missing):
                        if i not in failed and key in self._flows:
                            rec = self._flows[key]
                            rec.switches = self._with(rec.switches, name)
        return len(on_switch)

    # --- stream events -----------------------------------------------------------

    def handle_digest(self, session: SwitchSession, digest: DigestBatch) -> None:
        ack = p4runtime_pb2.StreamMessageRequest()
        ack.digest_ack.digest_id = digest.digest_id
        ack.digest_ack.list_id = digest.list_id
        session.send(ack)
        new: dict[FlowKey, int] = {}
        for members in digest.structs:
            try:
                key, as_id = flow_from_digest_struct(members)
            except ValueError as e:
                self.bad_messages += 1
                log.warning("switch %s sent a bad digest: %s", session.address, e)
                continue
            if self._is_pinnable_as(key.vip_id, as_id):
                new[key] = as_id
        if not new:
            return
        with self._lock:
            if self._closing:
                return
            for key, as_id in new.items():
                if key not in self._flows and key not in self._queued:
                    self._queued[key] = as_id
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_queued, daemon=True,
                                                name="flow-learner-writer")
                self._writer.start()
            self._queue_ready.notify()

    def _write_queued(self) -> None:
        while True:
            with self._lock:
                while not self._queued and not self._closing:
                    self._queue_ready.wait()
                if self._closing:
                    return
                batch, self._queued = self._queued, {}
            try:
                self.install(batch)
            except Exception:  # noqa: BLE001 - the writer must outlive one bad batch
                log.exception("installing %d learned flows failed", len(batch))

    def close(self) -> None:
        """Stops the writer thread; flows still queued are dropped (they will miss again)."""
        with self._lock:
            self._closing = True
            self._queue_ready.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join(timeout=5)

    def install(self, flows: dict[FlowKey, int]) -> None:
        with self._io:
            # Checked again under the write lock: a flush that removed the AS
            # may have run since the digest was first looked at.
            pinnable = {k: a for k, a in flows.items() if self._is_pinnable_as(k.vip_id, a)}
            if pinnable:
                self._install(pinnable)

    def _install(self, flows: dict[FlowKey, int]) -> None:
        timeout_ns = self._timeout_s() * 1_000_000_000
        updates = [self._flow_update(k, a, timeout_ns) for k, a in flows.items()]
        with self._lock:
            sessions = list(self._sessions.items())
            for key, as_id in flows.items():
                self._flows[key] = FlowRecord(as_id)
                self._by_as[as_id].add(key)
        for name, session in sessions:
            failed: set[int] = set()
            try:
                session.write(updates)
            except SwitchError as e:
                # ALREADY_EXISTS: another digest of the same flow won the race.
                failed = {i for i, code, _ in e.errors if code != 6}
                self.install_failures += len(failed)
                if not e.errors:
                    log.warning("flow install on %s failed: %s", name, e)
                    continue
            with self._lock:
                for i, key in enumerate(flows):
                    if i not in failed and key in self._flows:
                        rec = self._flows[key]
                        rec.switches = self._with(rec.switches, name)
        self.learned += len(flows)

    def _flow_update(self, key: FlowKey, as_id: int, timeout_ns: int) -> bytes:
        entry = DecodedEntry(FLOW_TABLES[key.family], key.table_key(), FLOW_ACTION, (as_id,))
        return self.codec.update_bytes(p4runtime_pb2.Update.INSERT, entry, timeout_ns)

    def handle_idle_timeout(self, session: SwitchSession, note: IdleTimeoutBatch) -> None:
        keys = []
        strays = []
        name = str(session.address)
        for te in note.table_entries:
            try:
                entry = self.codec.decode(te)
                if entry.table not in FLOW_TABLES.values():
                    raise ValueError(f"idle notification for table {entry.table}")
                key, _ = flow_from_entry(entry)
            except ValueError as e:  # CodecError included
                self.bad_messages += 1
                log.warning("switch %s: bad idle notification: %s", name, e)
                continue
            with self._lock:
                rec = self._flows.get(key)
                tracked = rec is not None and name in rec.switches
            if tracked:
                keys.append(key)
            else:
                # Not ours (e.g. written by an earlier controller that crashed
                # mid-install): the switch says it is idle, so it goes.
                strays.append(table_entry_update(p4runtime_pb2.Update.DELETE, te))
        # Small batches: most strays are re-notifications of entries already
        # deleted (NOT_FOUND), and one failed batch of thousands carries more
        # per-update errors than gRPC's 16 KB metadata limit lets through.
        for start in range(0, len(strays), STRAY_BATCH):
            try:
                session.write(strays[start : start + STRAY_BATCH])
            except SwitchError as e:
                if any(code != 5 for _, code, _ in e.errors) or not e.errors:
                    log.warning("deleting idle untracked flows on %s: %s", name, e)
        self._remove(keys, [session], aged=True)

    # --- drain and flush ---------------------------------------------------------

    def flush(self, predicate: Callable[[FlowKey, int], bool]) -> int:
        """Deletes, on every switch, the flows `predicate(key, as_id)` selects."""
        with self._lock:
            keys = [k for k, r in self._flows.items() if predicate(k, r.as_id)]
            sessions = list(self._sessions.values())
        self._remove(keys, sessions, aged=False)
        return len(keys)

    def _remove(self, keys: list[FlowKey], sessions: list[SwitchSession], aged: bool) -> None:
        if not keys:
            return
        with self._io:
            gone = self._remove_locked(keys, sessions, aged)
        if gone and self._on_flows_gone is not None:
            self._on_flows_gone(gone)

    def _remove_locked(
        self, keys: list[FlowKey], sessions: list[SwitchSession], aged: bool
    ) -> list[tuple[int, int]]:
        gone: list[tuple[int, int]] = []
        for session in sessions:
            name = str(session.address)
            deletes = []
            with self._lock:
                for key in keys:
                    rec = self._flows.get(key)
                    if rec is not None and name in rec.switches:
                        entry = DecodedEntry(FLOW_TABLES[key.family], key.table_key(), FLOW_ACTION,
                                             (rec.as_id,))
                        deletes.append(self.codec.update_bytes(p4runtime_pb2.Update.DELETE, entry))
                        rec.switches = self._without(rec.switches, name)
            try:
                session.write(deletes)
            except SwitchError as e:
                # NOT_FOUND: the entry is already gone, which is what we wanted.
                if any(code != 5 for _, code, _ in e.errors) or not e.errors:
                    log.warning("flow delete on %s: %s", name, e)
        with self._lock:
            for key in keys:
                rec = self._flows.get(key)
                if rec is not None and not rec.switches:
                    del self._flows[key]
                    self._by_as[rec.as_id].discard(key)
                    if not self._by_as[rec.as_id]:
                        del self._by_as[rec.as_id]
                    gone.append((key.vip_id, rec.as_id))
                    if aged:
                        self.aged += 1
        return gone

    # --- queries -------------------------------------------------------------------

    def flow_count(self, as_id: int) -> int:
        with self._lock:
            return len(self._by_as.get(as_id, ()))

    def flows(self, vip_ids: Iterable[int] | None = None) -> list[tuple[FlowKey, int]]:
        wanted = set(vip_ids) if vip_ids is not None else None
        with self._lock:
            return [
                (k, r.as_id)
                for k, r in self._flows.items()
                if wanted is None or k.vip_id in wanted
            ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._flows)
