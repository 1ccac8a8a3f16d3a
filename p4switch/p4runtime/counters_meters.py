"""Counter and meter entities: indexed (CounterEntry, MeterEntry) and direct
(DirectCounterEntry, DirectMeterEntry), with PI's rules.

Counters and meters always exist, so only MODIFY writes them (DELETE of a
counter zeroes it, as PI does); INSERT is INVALID_ARGUMENT. A read without an
index reads every cell. A counter write with one unit keeps the other unit's
current value (PI's bmv2 backend merges them the same way). A P4Info counter
or meter p4c removed from the JSON (config_agreement) fails as on BMv2 and is
left out of wildcard reads (PI fails those with UNKNOWN).
"""

from __future__ import annotations

from typing import Any

from p4switch.p4runtime import meter_configs
from p4switch.p4runtime.config_agreement import REMOVED_BY_P4C, ConfigAgreement
from p4switch.p4runtime.errors import from_engine, invalid, unimplemented
from p4switch.p4runtime.p4info_index import CounterInfo, P4InfoIndex
from p4switch.p4runtime.proto import p4info_pb2, p4runtime_pb2
from p4switch.p4runtime.read_responses import ReadResponses
from p4switch.p4runtime.table_entries import TableEntries
from p4switch.runtime_api import MatchError, RuntimeApiError, SwitchRuntime

Update = p4runtime_pb2.Update
CounterUnit = p4info_pb2.CounterSpec


def _engine(doing: str, fn, *args):
    try:
        return fn(*args)
    except RuntimeApiError as e:
        raise from_engine(e, doing) from None


def _check_update(update_type: int, what: str) -> None:
    if update_type == Update.INSERT:
        raise invalid(f"{what}: INSERT is not supported for counters and meters; use MODIFY")
    if update_type not in (Update.MODIFY, Update.DELETE):
        raise invalid(f"{what}: update type {update_type} is not INSERT, MODIFY or DELETE")


def _merge_counts(info: CounterInfo, data: Any, current: tuple[int, int]) -> tuple[int, int]:
    byte_count, packet_count = current
    if info.unit in (CounterUnit.BYTES, CounterUnit.BOTH):
        byte_count = data.byte_count
    if info.unit in (CounterUnit.PACKETS, CounterUnit.BOTH):
        packet_count = data.packet_count
    return byte_count, packet_count


class CountersAndMeters:
    def __init__(self, index: P4InfoIndex, runtime: SwitchRuntime,
                 tables: TableEntries, agreement: ConfigAgreement) -> None:
        self.index = index
        self.runtime = runtime
        self.tables = tables
        self.missing_counters = agreement.missing_counters
        self.missing_meters = agreement.missing_meters

    # --- indexed counters ------------------------------------------------------

    def _counter(self, counter_id: int) -> CounterInfo:
        info = self.index.counters.get(counter_id)
        if info is None:
            if counter_id in self.index.direct_counters:
                raise invalid(f"counter id {counter_id} is a direct counter: use "
                              "DirectCounterEntry")
            raise invalid(f"counter id {counter_id} is not a counter of the loaded P4Info")
        if counter_id in self.missing_counters:
            raise from_engine(RuntimeApiError(MatchError.INVALID_COUNTER_NAME, REMOVED_BY_P4C),
                              f"counter '{info.name}'")
        return info

    def _index(self, entry: Any, size: int, what: str) -> int:
        index = entry.index.index
        if index < 0:
            raise invalid(f"{what}: index {index} is negative")
        if index >= size:
            raise invalid(f"{what}: index {index} is out of range (size {size})")
        return index

    def write_counter(self, update_type: int, entry: p4runtime_pb2.CounterEntry) -> None:
        info = self._counter(entry.counter_id)
        what = f"counter '{info.name}'"
        if not entry.HasField("index"):
            raise unimplemented(f"{what}: a write without an index (wildcard) is not supported")
        _check_update(update_type, what)
        index = self._index(entry, info.size, what)
        if update_type == Update.DELETE:
            counts = (0, 0)
        else:
            current = _engine(f"{what}: reading", self.runtime.read_counters, info.name, index)
            counts = _merge_counts(info, entry.data, current)
        _engine(f"{what}: writing", self.runtime.write_counters, info.name, index, *counts)

    def read_counter(self, request: p4runtime_pb2.CounterEntry, response: list) -> None:
        if request.counter_id == 0:
            infos = [c for c in self.index.counters.values() if c.id not in self.missing_counters]
        else:
            infos = [self._counter(request.counter_id)]
        for info in infos:
            what = f"counter '{info.name}'"
            if request.HasField("index"):
                indexes = [self._index(request, info.size, what)]
            else:
                indexes = range(info.size)
            for index in indexes:
                byte_count, packet_count = _engine(
                    f"{what}: reading", self.runtime.read_counters, info.name, index)
                entity = p4runtime_pb2.Entity()
                out = entity.counter_entry
                out.counter_id = info.id
                out.index.index = index
                out.data.byte_count = byte_count
                out.data.packet_count = packet_count
                response.append(entity)

    # --- direct counters -------------------------------------------------------

    def write_direct_counter(self, update_type: int,
                             entry: p4runtime_pb2.DirectCounterEntry) -> None:
        if not entry.HasField("table_entry"):
            raise invalid("DirectCounterEntry: 'table_entry' must be set")
        info = self.tables.table(entry.table_entry.table_id).info
        what = f"direct counter of table '{info.name}'"
        if not info.direct_counter_id:
            raise invalid(f"table '{info.name}' has no direct counter")
        _, handle = self.tables.handle_of(entry.table_entry, "writing a direct counter")
        _check_update(update_type, what)
        counter = self.index.direct_counters[info.direct_counter_id]
        if update_type == Update.DELETE:
            counts = (0, 0)
        else:
            current = _engine(f"{what}: reading", self.runtime.mt_read_counters, info.name,
                              handle)
            counts = _merge_counts(counter, entry.data, current)
        _engine(f"{what}: writing", self.runtime.mt_write_counters, info.name, handle, *counts)

    def read_direct_counter(self, request: p4runtime_pb2.DirectCounterEntry,
                            response: list) -> None:
        if not request.HasField("table_entry"):
            raise invalid("DirectCounterEntry: 'table_entry' must be set")
        table_entry = request.table_entry
        if table_entry.table_id == 0:
            raise unimplemented("reading the direct counters of all tables at once is not "
                                "supported; set table_entry.table_id")
        info = self.tables.table(table_entry.table_id).info
        if not info.direct_counter_id:
            raise invalid(f"table '{info.name}' has no direct counter")
        entries = self._entries_named(table_entry)
        for table_entry_out in entries:
            _, handle = self.tables.handle_of(table_entry_out, "reading a direct counter")
            byte_count, packet_count = _engine(
                f"direct counter of table '{info.name}': reading",
                self.runtime.mt_read_counters, info.name, handle)
            entity = p4runtime_pb2.Entity()
            out = entity.direct_counter_entry
            out.table_entry.CopyFrom(table_entry_out)
            out.data.byte_count = byte_count
            out.data.packet_count = packet_count
            response.append(entity)

    def _entries_named(self, table_entry: Any) -> list:
        """The entries a direct resource read names: one, or all when no match is given."""
        if table_entry.match or table_entry.is_default_action:
            return [table_entry]
        found = ReadResponses()
        self.tables.read(p4runtime_pb2.TableEntry(table_id=table_entry.table_id), found)
        named = []
        for entity in found:
            entry = entity.table_entry
            named.append(p4runtime_pb2.TableEntry(
                table_id=entry.table_id, match=entry.match, priority=entry.priority))
        return named

    # --- indexed meters --------------------------------------------------------

    def _meter(self, meter_id: int):
        info = self.index.meters.get(meter_id)
        if info is None:
            if meter_id in self.index.direct_meters:
                raise invalid(f"meter id {meter_id} is a direct meter: use DirectMeterEntry")
            raise invalid(f"meter id {meter_id} is not a meter of the loaded P4Info")
        if meter_id in self.missing_meters:
            raise from_engine(RuntimeApiError(MatchError.INVALID_METER_NAME, REMOVED_BY_P4C),
                              f"meter '{info.name}'")
        return info

    def write_meter(self, update_type: int, entry: p4runtime_pb2.MeterEntry) -> None:
        info = self._meter(entry.meter_id)
        what = f"meter '{info.name}'"
        if not entry.HasField("index"):
            raise unimplemented(f"{what}: a write without an index (wildcard) is not supported")
        if update_type != Update.MODIFY:
            raise invalid(f"{what}: only MODIFY is supported for meters")
        index = self._index(entry, info.size, what)
        rates = meter_configs.to_rates(entry.config, what) if entry.HasField("config") else []
        if rates:
            _engine(f"{what}: setting rates", self.runtime.meter_set_rates, info.name, index,
                    rates)
        else:
            _engine(f"{what}: resetting", self.runtime.meter_reset_rates, info.name, index)

    def read_meter(self, request: p4runtime_pb2.MeterEntry, response: list) -> None:
        if request.meter_id == 0:
            infos = [m for m in self.index.meters.values() if m.id not in self.missing_meters]
        else:
            infos = [self._meter(request.meter_id)]
        for info in infos:
            what = f"meter '{info.name}'"
            if request.HasField("index"):
                indexes = [self._index(request, info.size, what)]
            else:
                indexes = range(info.size)
            for index in indexes:
                rates = _engine(f"{what}: reading", self.runtime.meter_get_rates, info.name,
                                index)
                entity = p4runtime_pb2.Entity()
                out = entity.meter_entry
                out.meter_id = info.id
                out.index.index = index
                meter_configs.fill_config(rates, out.config)
                response.append(entity)

    # --- direct meters ---------------------------------------------------------

    def write_direct_meter(self, update_type: int,
                           entry: p4runtime_pb2.DirectMeterEntry) -> None:
        if not entry.HasField("table_entry"):
            raise invalid("DirectMeterEntry: 'table_entry' must be set")
        info = self.tables.table(entry.table_entry.table_id).info
        what = f"direct meter of table '{info.name}'"
        if not info.direct_meter_id:
            raise invalid(f"table '{info.name}' has no direct meter")
        _, handle = self.tables.handle_of(entry.table_entry, "writing a direct meter")
        if update_type != Update.MODIFY:
            raise invalid(f"{what}: only MODIFY is supported for meters")
        rates = meter_configs.to_rates(entry.config, what) if entry.HasField("config") else []
        if rates:
            _engine(f"{what}: setting rates", self.runtime.mt_set_meter_rates, info.name,
                    handle, rates)
        else:
            _engine(f"{what}: resetting", self.runtime.mt_reset_meter_rates, info.name, handle)

    def read_direct_meter(self, request: p4runtime_pb2.DirectMeterEntry,
                          response: list) -> None:
        if not request.HasField("table_entry"):
            raise invalid("DirectMeterEntry: 'table_entry' must be set")
        table_entry = request.table_entry
        if table_entry.table_id == 0:
            raise unimplemented("reading the direct meters of all tables at once is not "
                                "supported; set table_entry.table_id")
        info = self.tables.table(table_entry.table_id).info
        if not info.direct_meter_id:
            raise invalid(f"table '{info.name}' has no direct meter")
        for table_entry_out in self._entries_named(table_entry):
            _, handle = self.tables.handle_of(table_entry_out, "reading a direct meter")
            rates = _engine(f"direct meter of table '{info.name}': reading",
                            self.runtime.mt_get_meter_rates, info.name, handle)
            entity = p4runtime_pb2.Entity()
            out = entity.direct_meter_entry
            out.table_entry.CopyFrom(table_entry_out)
            meter_configs.fill_config(rates, out.config)
            response.append(entity)
