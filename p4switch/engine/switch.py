"""The runtime object the P4Runtime server drives (p4switch.runtime_api.SwitchRuntime).

One lock serialises packets and runtime calls. The ageing monitor is a thread
that sweeps every second, as BMv2's AgeingMonitor: an entry whose TTL passed
without a hit is reported, then skipped by the next sweep, then reported
again, i.e. every 2 s while it stays idle and is not deleted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from p4switch.runtime_api import (
    ActionCall,
    Digest,
    MatchError,
    MatchKeyParam,
    MeterRate,
    RuntimeApiError,
    TableEntry,
    TableInfo,
)

from .action_profiles import ActionProfile
from .externs import CounterArray, MeterArray, RegisterArray
from .pipeline import Switching
from .program import Program
from .replication import Replication
from .tables import Table

log = logging.getLogger("p4switch.engine")

SWEEP_INTERVAL_S = 1.0


class EmbeddedSwitch:
    """A loaded program and its state; implements SwitchRuntime."""

    def __init__(
        self,
        bmv2_json: dict,
        cpu_port: int | None,
        clock: Callable[[], float] = time.monotonic,
        ageing_thread: bool = True,
    ) -> None:
        """``clock`` and ``ageing_thread=False`` let tests drive ageing with sweep()."""
        if cpu_port is not None and (not isinstance(cpu_port, int) or cpu_port < 0):
            raise ValueError(f"bad cpu_port {cpu_port!r}")
        self.clock = clock
        self.program = Program(bmv2_json, clock)
        self.pre = Replication()
        self.switching = Switching(self.program, self.pre, cpu_port)
        self.switching.listener = self
        self.lock = threading.RLock()
        self.on_digest: Callable[[Digest], None] | None = None
        self.on_idle_timeout: Callable[[str, list[int]], None] | None = None
        self.on_packet_to_cpu: Callable[[bytes], None] | None = None
        self._stop = threading.Event()
        self._reported: dict[str, set[int]] = {}
        self._ageing_tables = [t for t in self.program.tables.values() if t.support_timeout]
        self._sweeper: threading.Thread | None = None
        if self._ageing_tables and ageing_thread:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="ageing", daemon=True)
            self._sweeper.start()

    # --- packets ----------
    def process_packet(self, ingress_port: int, frame: bytes) -> list[tuple[int, bytes]]:
        with self.lock:
            sw = self.switching
            if (
                not isinstance(ingress_port, int)
                or isinstance(ingress_port, bool)
                or ingress_port < 0
            ):
                sw.stats["dropped"] += 1
                return []
            try:
                return sw.process(ingress_port, bytes(frame))
            except Exception:  # never let a packet stop the caller's loop
                log.exception("packet dropped by an internal error")
                sw.stats["faults"] += 1
                return []

    def stats(self) -> dict[str, int]:
        """Packet counters: received, transmitted, dropped, faults, parser_errors."""
        with self.lock:
            return dict(self.switching.stats)

    # --- lifetime ----------
    def close(self) -> None:
        self._stop.set()
        if self._sweeper is not None and self._sweeper is not threading.current_thread():
            self._sweeper.join(timeout=5)

    def _sweep_loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("ageing sweep failed")
            next_at += SWEEP_INTERVAL_S
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sweep(self) -> None:
        """One ageing sweep (AgeingMonitor::do_sweep); public so tests need no clock."""
        notes: list[tuple[str, list[int]]] = []
        with self.lock:
            now = self.clock()
            for t in self._ageing_tables:
                prev = self._reported.get(t.name, set())
                expired = t.expired(now)
                fresh = [h for h in expired if h not in prev]
                self._reported[t.name] = set(fresh)
                if fresh:
                    notes.append((t.name, fresh))
        callback = self.on_idle_timeout
        if callback is not None:
            for name, handles in notes:
                try:
                    callback(name, handles)
                except Exception:
                    log.exception("on_idle_timeout callback failed")

    # --- lookups ----------
    def _table(self, name: str) -> Table:
        t = self.program.tables.get(name) if isinstance(name, str) else None
        if t is None:
            raise RuntimeApiError(MatchError.INVALID_TABLE_NAME, f"no table {name!r}")
        return t

    def _profile(self, name: str) -> ActionProfile:
        p = self.program.profiles.get(name) if isinstance(name, str) else None
        if p is None:
            raise RuntimeApiError(
                MatchError.INVALID_ACTION_PROFILE_NAME, f"no action profile {name!r}"
            )
        return p

    def _counter(self, name: str) -> CounterArray:
        c = self.program.externs.counters.get(name) if isinstance(name, str) else None
        if c is None or c.binding is not None:
            raise RuntimeApiError(MatchError.INVALID_COUNTER_NAME, f"no indirect counter {name!r}")
        return c

    def _meter(self, name: str) -> MeterArray:
        m = self.program.externs.meters.get(name) if isinstance(name, str) else None
        if m is None or m.binding is not None:
            raise RuntimeApiError(MatchError.INVALID_METER_NAME, f"no indirect meter {name!r}")
        return m

    def _register(self, name: str) -> RegisterArray:
        r = self.program.externs.registers.get(name) if isinstance(name, str) else None
        if r is None:
            raise RuntimeApiError(MatchError.INVALID_REGISTER_NAME, f"no register {name!r}")
        return r

    # --- introspection ----------
    def table_info(self, table: str) -> TableInfo:
        with self.lock:
            return self._table(table).info()

    def table_names(self) -> list[str]:
        return list(self.program.tables)

    # --- direct tables ----------
    def mt_add_entry(
        self, table: str, key: list[MatchKeyParam], action: ActionCall, priority: int = -1
    ) -> int:
        with self.lock:
            return self._table(table).add_entry(key, action, priority)

    def mt_add_exact_entry(self, table: str, values: tuple[int, ...], action: ActionCall,
                           ttl_ms: int | None = None) -> int:
        with self.lock:
            return self._table(table).add_exact_entry(values, action, ttl_ms)

    def mt_find_exact_entry(self, table: str, values: tuple[int, ...]) -> int | None:
        with self.lock:
            return self._table(table).find_exact_entry(values)

    def mt_modify_exact_entry(self, table: str, values: tuple[int, ...], action: ActionCall,
                              ttl_ms: int | None = None) -> int | None:
        with self.lock:
            handle = self._table(table).modify_exact_entry(values, action, ttl_ms)
            if handle is not None and ttl_ms is not None:
                self._reported.get(table, set()).discard(handle)
            return handle

    def mt_delete_exact_entry(self, table: str, values: tuple[int, ...]) -> int | None:
        with self.lock:
            handle = self._table(table).delete_exact_entry(values)
            if handle is not None:
                self._reported.get(table, set()).discard(handle)
            return handle

    def mt_find_entry(self, table: str, key: list[MatchKeyParam], priority: int = 1
                      ) -> int | None:
        with self.lock:
            return self._table(table).find_entry(key, priority)

    def mt_modify_entry(self, table: str, handle: int, action: ActionCall) -> None:
        with self.lock:
            self._table(table).modify_entry(handle, action)

    def mt_delete_entry(self, table: str, handle: int) -> None:
        with self.lock:
            self._table(table).delete_entry(handle)
            self._reported.get(table, set()).discard(handle)

    def mt_set_default_action(self, table: str, action: ActionCall) -> None:
        with self.lock:
            self._table(table).set_default(action)

    def mt_reset_default_entry(self, table: str) -> None:
        with self.lock:
            self._table(table).reset_default()

    def mt_clear_entries(self, table: str, reset_default_entry: bool) -> None:
        with self.lock:
            self._table(table).clear(reset_default_entry)

    def mt_get_entries(self, table: str) -> list[TableEntry]:
        with self.lock:
            t = self._table(table)
            return [t.to_table_entry(e) for e in t.entries.values()]

    def mt_get_exact_entries(
        self, table: str
    ) -> list[tuple[int, tuple[int, ...], str | None, tuple, int | None]]:
        with self.lock:
            return self._table(table).exact_entries()

    def mt_get_entry(self, table: str, handle: int) -> TableEntry:
        with self.lock:
            t = self._table(table)
            return t.to_table_entry(t.entry(handle))

    def mt_get_default_entry(self, table: str) -> TableEntry:
        with self.lock:
            return self._table(table).default_entry()

    def mt_get_entry_from_key(
        self, table: str, key: list[MatchKeyParam], priority: int = 1
    ) -> TableEntry:
        with self.lock:
            return self._table(table).entry_from_key(key, priority)

    def mt_get_num_entries(self, table: str) -> int:
        with self.lock:
            return len(self._table(table).entries)

    def mt_set_entry_ttl(self, table: str, handle: int, ttl_ms: int) -> None:
        with self.lock:
            self._table(table).set_ttl(handle, ttl_ms)
            self._reported.get(table, set()).discard(handle)

    # --- action profiles ----------
    def mt_act_prof_add_member(self, act_prof: str, action: ActionCall) -> int:
        with self.lock:
            name, args = _action_parts(action)
            return self._profile(act_prof).add_member(name, args)

    def mt_act_prof_modify_member(self, act_prof: str, member: int, action: ActionCall) -> None:
        with self.lock:
            name, args = _action_parts(action)
            self._profile(act_prof).modify_member(member, name, args)

    def mt_act_prof_delete_member(self, act_prof: str, member: int) -> None:
        with self.lock:
            self._profile(act_prof).delete_member(member)

    def mt_act_prof_create_group(self, act_prof: str) -> int:
        with self.lock:
            return self._profile(act_prof).create_group()

    def mt_act_prof_delete_group(self, act_prof: str, group: int) -> None:
        with self.lock:
            self._profile(act_prof).delete_group(group)

    def mt_act_prof_add_member_to_group(self, act_prof: str, member: int, group: int) -> None:
        with self.lock:
            self._profile(act_prof).add_to_group(member, group)

    def mt_act_prof_remove_member_from_group(self, act_prof: str, member: int, group: int) -> None:
        with self.lock:
            self._profile(act_prof).remove_from_group(member, group)

    def mt_act_prof_get_members(self, act_prof: str) -> dict[int, ActionCall]:
        with self.lock:
            p = self._profile(act_prof)
            return {h: ActionCall(m.action.name, list(m.data)) for h, m in p.members.items()}

    def mt_act_prof_get_groups(self, act_prof: str) -> dict[int, list[int]]:
        with self.lock:
            return {g: list(m) for g, m in self._profile(act_prof).groups.items()}

    def mt_indirect_add_entry(
        self, table: str, key: list[MatchKeyParam], member: int, priority: int = 1
    ) -> int:
        with self.lock:
            return self._table(table).add_indirect(key, member, None, priority)

    def mt_indirect_modify_entry(self, table: str, handle: int, member: int) -> None:
        with self.lock:
            self._table(table).modify_indirect(handle, member, None)

    def mt_indirect_ws_add_entry(
        self, table: str, key: list[MatchKeyParam], group: int, priority: int = 1
    ) -> int:
        with self.lock:
            return self._table(table).add_indirect(key, None, group, priority)

    def mt_indirect_ws_modify_entry(self, table: str, handle: int, group: int) -> None:
        with self.lock:
            self._table(table).modify_indirect(handle, None, group)

    def mt_indirect_set_default_member(self, table: str, member: int) -> None:
        with self.lock:
            self._table(table).set_default_indirect(member, None)

    def mt_indirect_ws_set_default_group(self, table: str, group: int) -> None:
        with self.lock:
            self._table(table).set_default_indirect(None, group)

    # --- direct counters and meters ----------
    def _with_counters(self, table: str) -> Table:
        t = self._table(table)
        if t.direct_counter is None:
            raise RuntimeApiError(MatchError.COUNTERS_DISABLED, f"table {table!r} has no counters")
        return t

    def _with_meters(self, table: str) -> Table:
        t = self._table(table)
        if t.direct_meter is None:
            raise RuntimeApiError(MatchError.METERS_DISABLED, f"table {table!r} has no meters")
        return t

    def mt_read_counters(self, table: str, handle: int) -> tuple[int, int]:
        with self.lock:
            e = self._with_counters(table).entry(handle)
            return e.bytes, e.packets

    def mt_write_counters(self, table: str, handle: int, bytes_: int, packets: int) -> None:
        with self.lock:
            e = self._with_counters(table).entry(handle)
            _check_counts(bytes_, packets)
            e.bytes, e.packets = bytes_, packets

    def mt_reset_counters(self, table: str) -> None:
        with self.lock:
            for e in self._with_counters(table).entries.values():
                e.bytes = e.packets = 0

    def mt_set_meter_rates(self, table: str, handle: int, rates: list[MeterRate]) -> None:
        with self.lock:
            t = self._with_meters(table)
            e = t.entry(handle)
            t.direct_meter.check_rates(rates)  # type: ignore[union-attr]
            e.meter.set_rates(rates)  # type: ignore[union-attr]

    def mt_get_meter_rates(self, table: str, handle: int) -> list[MeterRate]:
        with self.lock:
            e = self._with_meters(table).entry(handle)
            return list(e.meter.rates)  # type: ignore[union-attr]

    def mt_reset_meter_rates(self, table: str, handle: int) -> None:
        with self.lock:
            self._with_meters(table).entry(handle).meter.reset()  # type: ignore[union-attr]

    # --- indirect counters, meters, registers ----------
    def counter_size(self, counter: str) -> int:
        return self._counter(counter).size

    def read_counters(self, counter: str, index: int) -> tuple[int, int]:
        with self.lock:
            c = self._counter(counter)
            c.check_index(index)
            return c.bytes[index], c.packets[index]

    def write_counters(self, counter: str, index: int, bytes_: int, packets: int) -> None:
        with self.lock:
            c = self._counter(counter)
            c.check_index(index)
            _check_counts(bytes_, packets)
            c.bytes[index], c.packets[index] = bytes_, packets

    def reset_counters(self, counter: str) -> None:
        with self.lock:
            c = self._counter(counter)
            for i in range(c.size):
                c.bytes[i] = c.packets[i] = 0

    def meter_size(self, meter: str) -> int:
        return self._meter(meter).size

    def meter_set_rates(self, meter: str, index: int, rates: list[MeterRate]) -> None:
        with self.lock:
            m = self._meter(meter)
            m.check_index(index)
            m.check_rates(rates)
            m.meters[index].set_rates(rates)

    def meter_get_rates(self, meter: str, index: int) -> list[MeterRate]:
        with self.lock:
            m = self._meter(meter)
            m.check_index(index)
            return list(m.meters[index].rates)

    def meter_reset_rates(self, meter: str, index: int) -> None:
        with self.lock:
            m = self._meter(meter)
            m.check_index(index)
            m.meters[index].reset()

    def register_size(self, register: str) -> int:
        return self._register(register).size

    def register_read(self, register: str, index: int) -> int:
        with self.lock:
            r = self._register(register)
            r.check_index(index)
            return r.values[index]

    def register_write(self, register: str, index: int, value: int) -> None:
        with self.lock:
            r = self._register(register)
            r.check_index(index)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= r.mask:
                raise RuntimeApiError(
                    MatchError.ERROR,
                    f"register {register!r} value {value!r} does not fit {r.width} bits",
                )
            r.values[index] = value

    # --- parser value sets (P4Runtime ValueSetEntry; BMv2 pvs_add/pvs_remove) ----------
    def _vset(self, name: str):
        vs = self.program.vsets.get(name) if isinstance(name, str) else None
        if vs is None:
            raise RuntimeApiError(MatchError.ERROR, f"no parser value set {name!r}")
        return vs

    def parse_vset_add(self, name: str, value: int) -> None:
        """Add ``value``: the select key's fields concatenated, ``compressed_bitwidth`` wide."""
        with self.lock:
            vs = self._vset(name)
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < 0
                or value >> vs.width
            ):
                raise RuntimeApiError(
                    MatchError.ERROR, f"value set {name!r}: {value!r} does not fit {vs.width} bits"
                )
            vs.values.add(vs.pad(value))
            vs.members.add(value)

    def parse_vset_remove(self, name: str, value: int) -> None:
        with self.lock:
            vs = self._vset(name)
            if value not in vs.members:
                raise RuntimeApiError(
                    MatchError.NO_SUCH_ENTRY, f"value set {name!r} has no {value!r}"
                )
            vs.members.discard(value)
            vs.values.discard(vs.pad(value))

    def parse_vset_get(self, name: str) -> list[int]:
        with self.lock:
            return sorted(self._vset(name).members)

    def parse_vset_clear(self, name: str) -> None:
        with self.lock:
            vs = self._vset(name)
            vs.members.clear()
            vs.values.clear()

    # --- packet replication engine ----------
    def mc_set_group(self, group: int, replicas: list[tuple[int, int]]) -> None:
        with self.lock:
            self.pre.set_group(group, replicas)

    def mc_get_groups(self) -> dict[int, list[tuple[int, int]]]:
        with self.lock:
            return {g: list(r) for g, r in self.pre.groups.items()}

    def mirroring_session_set(
        self, session: int, egress_port: int | None, mc_group: int | None, truncate: int = 0
    ) -> None:
        with self.lock:
            self.pre.set_session(session, egress_port, mc_group, truncate)

    def mirroring_session_delete(self, session: int) -> None:
        with self.lock:
            self.pre.delete_session(session)

    def mirroring_sessions(self) -> dict[int, tuple[int | None, int | None, int]]:
        with self.lock:
            return {
                s: (c.egress_port, c.mc_group, c.truncate) for s, c in self.pre.sessions.items()
            }


def _action_parts(action: ActionCall) -> tuple[str, list[int]]:
    if not isinstance(action, ActionCall) or not isinstance(action.args, list | tuple):
        raise RuntimeApiError(MatchError.BAD_ACTION_DATA, f"{action!r} is not an ActionCall")
    return action.name, list(action.args)


def _check_counts(bytes_: int, packets: int) -> None:
    for label, v in (("bytes", bytes_), ("packets", packets)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << 64:
            raise RuntimeApiError(MatchError.ERROR, f"bad counter {label} value {v!r}")
