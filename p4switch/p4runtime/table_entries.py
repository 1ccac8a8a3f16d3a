"""Table entries: INSERT / MODIFY / DELETE and reads, as PI's device_mgr does them.

Unlike PI (whose TableInfoStore keeps every entry's key a second time), the
server keeps no entry store of its own: the data plane finds entries by key,
and holds each entry's TTL. Only what P4Runtime alone cares about is kept
here, per handle and only for the entries that have it: controller_metadata,
metadata, and an idle_timeout_ns the data plane's millisecond TTL does not
give back exactly. At a million flow entries that is ~500 bytes less per
flow than a store of keys and handles (bench.flow_figures measures the
switch's memory per flow). Reads take the entries from the data plane, as PI
does, and add those fields back.

Keys of tables whose fields are all exact go to the data plane as the tuple
of their values (``mt_add_exact_entry``), the path a million flow entries take.

The checks and their order follow ``table_insert`` / ``table_modify`` /
``table_delete`` in proto/frontend/src/device_mgr.cpp, with the P4Runtime
specification's codes where PI has none (const tables: PERMISSION_DENIED).

A P4Info table p4c removed from the JSON (config_agreement) holds nothing:
writes fail where BMv2 fails them (INVALID_TABLE_NAME, UNKNOWN as on BMv2),
reads find no entries, and wildcard reads leave it out. A table whose keys
BMv2 refuses (a match field PI hands it in another number of bytes) takes no
entry, but its default entry can be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from p4switch.p4runtime import meter_configs
from p4switch.p4runtime.action_profiles import ActionProfileState
from p4switch.p4runtime.actions import build_action_call, fill_action
from p4switch.p4runtime.config_agreement import REMOVED_BY_P4C, ConfigAgreement
from p4switch.p4runtime.errors import (
    already_exists,
    from_engine,
    invalid,
    not_found,
    permission_denied,
    unimplemented,
)
from p4switch.p4runtime.exact_reads import NS_PER_MS, read_exact_entries
from p4switch.p4runtime.exact_writes import exact_writer
from p4switch.p4runtime.match_keys import (
    engine_priority,
    fill_match,
    key_from_engine,
    p4runtime_priority,
    parse_key,
    parse_match,
)
from p4switch.p4runtime.p4info_index import (
    SCOPE_DEFAULT_ONLY,
    SCOPE_TABLE_ONLY,
    P4InfoIndex,
    TableInfo,
)
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.p4runtime.read_responses import ReadResponses
from p4switch.p4runtime.table_state import (
    StoredEntry,
    TableState,
    keep_extras,
    stored_extras,
    ttl_ms_of,
)
from p4switch.runtime_api import ActionCall, MatchError, RuntimeApiError, SwitchRuntime
from p4switch.runtime_api import TableEntry as EngineEntry

Update = p4runtime_pb2.Update


_NOTHING_STORED = StoredEntry()


@dataclass(slots=True)
class ResolvedAction:
    """The data-plane form of a TableAction: an action call, or a member / group handle."""

    call: ActionCall | None = None
    member: int | None = None
    group: int | None = None


class TableEntries:
    """All table entries of one loaded pipeline."""

    def __init__(self, index: P4InfoIndex, runtime: SwitchRuntime,
                 action_profiles: dict[int, ActionProfileState],
                 agreement: ConfigAgreement) -> None:
        self.index = index
        self.runtime = runtime
        self.action_profiles = action_profiles
        self.tables = {
            tid: TableState(info, in_device_config=tid not in agreement.missing_tables,
                            key_refusal=agreement.unwritable_keys.get(tid))
            for tid, info in index.tables.items()
        }
        # TTLs in ms by idle_timeout_ns: flows share a few timeouts, and one int
        # object per value instead of per entry is 32 bytes a flow.
        self._ttls: dict[int, int] = {}
        self._exact_writers = {
            tid: writer for tid, state in self.tables.items()
            if (writer := exact_writer(state, index, runtime, self._ttls)) is not None
        }

    @staticmethod
    def _engine(doing: str, fn, *args):
        try:
            return fn(*args)
        except RuntimeApiError as e:
            raise from_engine(e, doing) from None

    def table(self, table_id: int) -> TableState:
        state = self.tables.get(table_id)
        if state is None:
            raise invalid(f"table id {table_id} is not a table of the loaded P4Info")
        return state

    @staticmethod
    def _require_in_data_plane(state: TableState, doing: str) -> None:
        """Refuse what BMv2 refuses for a table p4c removed: INVALID_TABLE_NAME."""
        if not state.in_device_config:
            raise from_engine(RuntimeApiError(MatchError.INVALID_TABLE_NAME, REMOVED_BY_P4C),
                              f"table '{state.info.name}': {doing}")

    # --- writes --------------------------------------------------------------

    def write(self, update_type: int, entry: Any) -> None:
        writer = self._exact_writers.get(entry.table_id)
        if writer is not None and writer.try_write(update_type, entry):
            return
        state = self.table(entry.table_id)
        if entry.HasField("time_since_last_hit"):
            raise invalid(f"table '{state.info.name}': time_since_last_hit must not be set "
                          "in a WriteRequest")
        if entry.is_const:
            raise invalid(f"table '{state.info.name}': is_const must not be set in a "
                          "WriteRequest")
        if entry.HasField("meter_counter_data"):
            raise unimplemented(f"table '{state.info.name}': meter_counter_data is not "
                                "supported")
        if update_type == Update.INSERT:
            self._insert(state, entry)
        elif update_type == Update.MODIFY:
            self._modify(state, entry)
        elif update_type == Update.DELETE:
            self._delete(state, entry)
        else:
            raise invalid(f"table '{state.info.name}': update type {update_type} is not "
                          "INSERT, MODIFY or DELETE")

    def _insert(self, state: TableState, entry: Any) -> None:
        info = state.info
        if entry.is_default_action:
            raise invalid(f"table '{info.name}': the default entry cannot be INSERTed; "
                          "use MODIFY")
        if info.is_const:
            raise permission_denied(f"table '{info.name}' is const: entries cannot be inserted")
        if not info.match_fields:
            raise invalid(f"table '{info.name}' has no match key: only its default entry "
                          "can be written")
        if not entry.HasField("action"):
            raise invalid(f"table '{info.name}': 'action' must be set")
        exact = info.exact_widths is not None and not info.action_profile_id
        if exact:
            values, params, prio = parse_key(info, entry)[0], None, -1
        else:
            key, params = parse_match(info, entry)
            values, prio = None, engine_priority(key[1], info.needs_priority)
        action = self._resolve_action(info, entry)
        counter = self._direct_counter_data(info, entry)
        rates = self._direct_meter_rates(info, entry)
        ttl_ms = self._ttl_ms(info, entry)
        self._require_in_data_plane(state, "adding an entry")
        if state.key_refusal is not None:
            raise from_engine(RuntimeApiError(MatchError.BAD_MATCH_KEY, state.key_refusal),
                              f"table '{info.name}': adding an entry")
        name = info.name
        rt = self.runtime
        ttl_ms_later = None if values is not None else ttl_ms
        try:
            if values is not None:  # the TTL comes with the entry: one data-plane call
                handle = rt.mt_add_exact_entry(name, values, action.call, ttl_ms)
            elif action.call is not None:
                handle = rt.mt_add_entry(name, params, action.call, prio)
            elif action.member is not None:
                handle = rt.mt_indirect_add_entry(name, params, action.member, prio)
            else:
                handle = rt.mt_indirect_ws_add_entry(name, params, action.group, prio)
        except RuntimeApiError as e:
            if e.code is MatchError.DUPLICATE_ENTRY:
                raise already_exists(f"table '{name}': an entry with this match key and "
                                     "priority exists; use MODIFY to change its action") from None
            raise from_engine(e, f"table '{name}': adding an entry") from None
        try:
            if counter is not None or rates is not None:
                self._apply_direct_resources(name, handle, counter, rates)
            if ttl_ms_later is not None:
                rt.mt_set_entry_ttl(name, handle, ttl_ms_later)
        except RuntimeApiError as e:
            # Leave no half-written entry behind.
            rt.mt_delete_entry(name, handle)
            raise from_engine(e, f"table '{name}': adding an entry") from None
        keep_extras(state, handle, stored_extras(entry, ttl_ms))

    def _find(self, state: TableState, entry: Any, doing: str) -> int | None:
        """The data-plane handle of the (non-default) entry whose key ``entry`` gives."""
        info = state.info
        if not state.in_device_config:
            # Checked like any key, then found nowhere (PI finds none in its store).
            parse_key(info, entry) if info.exact_widths is not None else parse_match(info, entry)
            return None
        if info.exact_widths is not None:
            return self._engine(f"table '{info.name}': {doing}", self.runtime.mt_find_exact_entry,
                                info.name, parse_key(info, entry)[0])
        key, params = parse_match(info, entry)
        return self._engine(f"table '{info.name}': {doing}", self.runtime.mt_find_entry,
                            info.name, params, engine_priority(key[1], info.needs_priority))

    def _modify(self, state: TableState, entry: Any) -> None:
        info = state.info
        if entry.is_default_action:
            self._modify_default(state, entry)
            return
        # The key is parsed (and checked) first, as PI does; NOT_FOUND comes later.
        handle = self._find(state, entry, "modifying an entry")
        has_action = entry.HasField("action")
        if info.is_const and has_action:
            raise permission_denied(f"table '{info.name}' is const: the action of its entries "
                                    "cannot change (only direct counters and meters can)")
        if not has_action and not info.is_const:
            raise invalid(f"table '{info.name}': 'action' must be set for non-default entries")
        action = self._resolve_action(info, entry) if has_action else None
        counter = self._direct_counter_data(info, entry)
        rates = self._direct_meter_rates(info, entry)
        ttl_ms = self._ttl_ms(info, entry)
        if handle is None:
            raise not_found(f"table '{info.name}': no entry with this match key and priority")
        name = info.name
        rt = self.runtime
        try:
            if action is not None:
                if action.call is not None:
                    rt.mt_modify_entry(name, handle, action.call)
                elif action.member is not None:
                    rt.mt_indirect_modify_entry(name, handle, action.member)
                else:
                    rt.mt_indirect_ws_modify_entry(name, handle, action.group)
            if counter is not None or rates is not None:
                self._apply_direct_resources(name, handle, counter, rates)
            if ttl_ms is not None:
                rt.mt_set_entry_ttl(name, handle, ttl_ms)
        except RuntimeApiError as e:
            raise from_engine(e, f"table '{name}': modifying an entry") from None
        if has_action:
            keep_extras(state, handle, stored_extras(entry, ttl_ms))

    def _modify_default(self, state: TableState, entry: Any) -> None:
        info = state.info
        if entry.match or entry.priority:
            raise invalid(f"table '{info.name}': the default entry takes no match key and "
                          "no priority")
        if info.action_profile_id:
            raise invalid(f"table '{info.name}' is indirect: its default entry cannot be "
                          "set or reset")
        if info.const_default_action_id:
            raise permission_denied(f"table '{info.name}' has a const default action")
        action = self._resolve_action(info, entry) if entry.HasField("action") else None
        counter = self._direct_counter_data(info, entry)
        rates = self._direct_meter_rates(info, entry)
        if entry.idle_timeout_ns:
            raise invalid(f"table '{info.name}': the default entry does not age; "
                          "idle_timeout_ns must be 0")
        self._require_in_data_plane(state, "setting the default entry")
        name = info.name
        rt = self.runtime
        try:
            if action is None:
                rt.mt_reset_default_entry(name)
            else:
                rt.mt_set_default_action(name, action.call)
            if counter is not None or rates is not None:
                default = rt.mt_get_default_entry(name)
                self._apply_direct_resources(name, default.handle, counter, rates)
        except RuntimeApiError as e:
            raise from_engine(e, f"table '{name}': setting the default entry") from None
        state.default_entry.controller_metadata = entry.controller_metadata if action else 0
        state.default_entry.metadata = entry.metadata if action else b""
        state.default_modified = action is not None

    def _delete(self, state: TableState, entry: Any) -> None:
        info = state.info
        if entry.is_default_action:
            raise invalid(f"table '{info.name}': the default entry cannot be DELETEd; "
                          "MODIFY it without an action to reset it")
        if info.is_const:
            raise permission_denied(f"table '{info.name}' is const: entries cannot be deleted")
        handle = self._find(state, entry, "deleting an entry")
        if handle is None:
            raise not_found(f"table '{info.name}': no entry with this match key and priority")
        self._engine(f"table '{info.name}': deleting an entry",
                     self.runtime.mt_delete_entry, info.name, handle)
        state.extras.pop(handle, None)

    # --- pieces of a write ---------------------------------------------------

    def _resolve_action(self, info: TableInfo, entry: Any) -> ResolvedAction:
        """PI's validate_action + construct_action_entry."""
        table_action = entry.action
        which = table_action.WhichOneof("type")
        where = f"table '{info.name}'"
        if info.action_profile_id:
            profile = self.action_profiles[info.action_profile_id]
            if which == "action":
                raise invalid(f"{where} is indirect: give an action profile member or group, "
                              "not an action")
            if which == "action_profile_member_id":
                return ResolvedAction(member=profile.member_handle(
                    table_action.action_profile_member_id, where))
            if which == "action_profile_group_id":
                return ResolvedAction(group=profile.group_handle(
                    table_action.action_profile_group_id, where))
            if which == "action_profile_action_set":
                raise unimplemented(f"{where}: one-shot action selector programming is not "
                                    "supported; write members and groups")
            raise invalid(f"{where}: the table action is empty")
        if which != "action":
            raise invalid(f"{where} is direct: give an action, not an action profile "
                          f"{'member or group' if which else 'nothing'}")
        action_id = table_action.action.action_id
        scope = info.action_scopes.get(action_id)
        if scope is None:
            if action_id not in self.index.actions:
                raise invalid(f"{where}: action id {action_id} is not an action of the P4Info")
            raise invalid(f"{where}: action '{self.index.actions[action_id].name}' is not an "
                          "action of this table")
        if scope == SCOPE_TABLE_ONLY and entry.is_default_action:
            raise permission_denied(f"{where}: action '{self.index.actions[action_id].name}' "
                                    "is @tableonly: it cannot be the default action")
        if scope == SCOPE_DEFAULT_ONLY and not entry.is_default_action:
            raise permission_denied(f"{where}: action '{self.index.actions[action_id].name}' "
                                    "is @defaultonly: it cannot be used in an entry")
        return ResolvedAction(call=build_action_call(self.index, table_action.action, where))

    def _direct_counter_data(self, info: TableInfo, entry: Any) -> tuple[int, int] | None:
        if not entry.HasField("counter_data"):
            return None
        if not info.direct_counter_id:
            raise invalid(f"table '{info.name}' has no direct counter: counter_data must "
                          "not be set")
        return entry.counter_data.byte_count, entry.counter_data.packet_count

    def _direct_meter_rates(self, info: TableInfo, entry: Any):
        if not entry.HasField("meter_config"):
            return None
        if not info.direct_meter_id:
            raise invalid(f"table '{info.name}' has no direct meter: meter_config must not "
                          "be set")
        return meter_configs.to_rates(entry.meter_config, f"table '{info.name}' meter_config")

    def _ttl_ms(self, info: TableInfo, entry: Any) -> int | None:
        """PI's validate_entry_ttl; None when the table does not age."""
        ns = entry.idle_timeout_ns
        if ns < 0:
            raise invalid(f"table '{info.name}': idle_timeout_ns must not be negative")
        if not info.supports_idle_timeout:
            if ns:
                raise invalid(f"table '{info.name}' does not support idle timeout: "
                              "idle_timeout_ns must be 0")
            return None
        return ttl_ms_of(ns, self._ttls)

    def _apply_direct_resources(self, name: str, handle: int, counter, rates) -> None:
        rt = self.runtime
        if counter is not None:
            rt.mt_write_counters(name, handle, counter[0], counter[1])
        if rates is not None:
            if rates:
                rt.mt_set_meter_rates(name, handle, rates)
            else:
                rt.mt_reset_meter_rates(name, handle)

    def handle_of(self, entry: Any, doing: str) -> tuple[TableState, int]:
        """The data-plane handle of the entry (or default entry) ``entry`` names."""
        state = self.table(entry.table_id)
        info = state.info
        if entry.is_default_action:
            if entry.match or entry.priority:
                raise invalid(f"table '{info.name}': the default entry takes no match key "
                              "and no priority")
            self._require_in_data_plane(state, doing)
            default = self._engine(f"table '{info.name}': {doing}",
                                   self.runtime.mt_get_default_entry, info.name)
            return state, default.handle
        handle = self._find(state, entry, doing)
        if handle is None:
            raise not_found(f"table '{info.name}': no entry with this match key and priority")
        return state, handle

    # --- reads ---------------------------------------------------------------

    def read(self, request: Any, response: ReadResponses) -> None:
        """Add the entries ``request`` names to ``response``."""
        if request.table_id == 0:
            for state in self.tables.values():
                if state.in_device_config:  # PI fails the whole read (UNKNOWN)
                    self._read_table(state, request, response)
        else:
            self._read_table(self.table(request.table_id), request, response)

    def _read_table(self, state: TableState, request: Any, response: ReadResponses) -> None:
        info = state.info
        if request.is_default_action:
            if request.HasField("time_since_last_hit"):
                raise invalid(f"table '{info.name}': default entries do not age; do not set "
                              "time_since_last_hit")
            self._require_in_data_plane(state, "reading the default entry")
            default = self._engine(f"table '{info.name}': reading the default entry",
                                   self.runtime.mt_get_default_entry, info.name)
            counter, meter = self._direct_resources(info, default.handle, request)
            te = response.add().table_entry
            te.table_id = info.id
            self._fill_action(info, default, te)
            _fill_extras(te, state.default_entry, counter, meter)
            te.is_default_action = True
            return
        with_elapsed = request.HasField("time_since_last_hit")
        if with_elapsed and not info.supports_idle_timeout:
            raise invalid(f"table '{info.name}' does not support idle timeout: do not set "
                          "time_since_last_hit, even in wildcard reads")
        if not state.in_device_config and not request.match:
            return  # it holds no entries (PI: UNKNOWN, BMv2 has no such table)
        if (info.exact_widths is not None and not info.action_profile_id and not request.match
                and not with_elapsed and not request.HasField("counter_data")
                and not request.HasField("meter_config") and not request.priority):
            self._read_exact_table(state, request, response)
            return
        if request.match:
            handle = self._find(state, request, "reading an entry")
            if handle is None:
                return
            entries = [self._engine(f"table '{info.name}': reading an entry",
                                    self.runtime.mt_get_entry, info.name, handle)]
        else:
            entries = self._engine(f"table '{info.name}': reading entries",
                                   self.runtime.mt_get_entries, info.name)
        want_priority = request.priority if not request.match else 0
        want_action = request.action.action.action_id if request.HasField("action") else 0
        with_resources = request.HasField("counter_data") or request.HasField("meter_config")
        counter = meter = None
        extras = state.extras
        is_const = info.is_const
        table_id = info.id
        for entry in entries:
            priority = _priority_of(info, entry)
            if want_priority and priority != want_priority:
                continue
            if want_action and (entry.action is None
                                or self.index.actions_by_name.get(entry.action.name) is None
                                or self.index.actions_by_name[entry.action.name].id
                                != want_action):
                continue
            key = key_from_engine(info, entry.match_key, priority)
            stored = extras.get(entry.handle, _NOTHING_STORED)
            if with_resources:
                counter, meter = self._direct_resources(info, entry.handle, request)
            te = response.add().table_entry
            te.table_id = table_id
            fill_match(info, key, te)
            self._fill_action(info, entry, te)
            if priority:
                te.priority = priority
            _fill_extras(te, stored, counter, meter)
            idle_timeout_ns = stored.idle_timeout_ns or (entry.timeout_ms or 0) * NS_PER_MS
            if idle_timeout_ns:
                te.idle_timeout_ns = idle_timeout_ns
            if with_elapsed:
                te.time_since_last_hit.SetInParent()
                te.time_since_last_hit.elapsed_ns = entry.time_since_last_hit_ms * NS_PER_MS
            if is_const:
                te.is_const = True

    def _read_exact_table(self, state: TableState, request: Any,
                          response: ReadResponses) -> None:
        """``_read_table`` of every entry of a direct all-exact table, as a read of
        lb.p4's maglev and flow tables asks: the same bytes, a sixth of the work
        (exact_reads)."""
        info = state.info
        want_action = request.action.action.action_id if request.HasField("action") else 0
        entries = self._engine(f"table '{info.name}': reading entries",
                               self.runtime.mt_get_exact_entries, info.name)
        read_exact_entries(info, entries, self.index.actions_by_name, state.extras, want_action,
                           response.add_table_entry_bytes)

    def _fill_action(self, info: TableInfo, entry: EngineEntry, te: Any) -> None:
        """The entry's ``action``; left unset when P4Runtime cannot name it."""
        if entry.action is not None:
            action_info = self.index.actions_by_name.get(entry.action.name)
            if action_info is not None:
                fill_action(action_info, entry.action, te.action.action)
            return
        if info.action_profile_id:
            profile = self.action_profiles[info.action_profile_id]
            if entry.member is not None and entry.member in profile.member_ids_by_handle:
                te.action.action_profile_member_id = profile.member_ids_by_handle[entry.member]
            elif entry.group is not None and entry.group in profile.group_ids_by_handle:
                te.action.action_profile_group_id = profile.group_ids_by_handle[entry.group]

    def _direct_resources(self, info: TableInfo, handle: int, request: Any
                          ) -> tuple[tuple[int, int] | None, tuple[int, int, int, int] | None]:
        """The (counter_data, meter_config) values a read asks for and the table has."""
        name = info.name
        counter = meter = None
        if request.HasField("counter_data") and info.direct_counter_id:
            counter = self._engine(f"table '{name}': reading a direct counter",
                                   self.runtime.mt_read_counters, name, handle)
        if request.HasField("meter_config") and info.direct_meter_id:
            rates = self._engine(f"table '{name}': reading a direct meter",
                                 self.runtime.mt_get_meter_rates, name, handle)
            meter = meter_configs.config_values(rates)
        return counter, meter

    # --- idle timeout ----------------------------------------------------------

    def timed_out_entries(self, table_name: str, handles: list[int]) -> list:
        """The TableEntry messages of an IdleTimeoutNotification (PI's parse_match_key)."""
        info = self.index.tables_by_name.get(table_name)
        if info is None:
            return []
        state = self.tables[info.id]
        entries = []
        for handle in handles:
            try:
                entry = self.runtime.mt_get_entry(info.name, handle)
            except RuntimeApiError:
                continue  # deleted meanwhile
            if not entry.timeout_ms:
                continue  # an entry that does not age (any more)
            stored = state.extras.get(handle, _NOTHING_STORED)
            priority = _priority_of(info, entry)
            te = p4runtime_pb2.TableEntry(
                table_id=info.id, priority=priority,
                idle_timeout_ns=stored.idle_timeout_ns or entry.timeout_ms * NS_PER_MS)
            fill_match(info, key_from_engine(info, entry.match_key, priority), te)
            _fill_extras(te, stored, None, None)
            entries.append(te)
        return entries


def _fill_extras(te: Any, stored: StoredEntry, counter: tuple[int, int] | None,
                 meter: tuple[int, int, int, int] | None) -> None:
    """The fields of a TableEntry read back that only some entries have."""
    if stored.controller_metadata:
        te.controller_metadata = stored.controller_metadata
    if stored.metadata:
        te.metadata = stored.metadata
    if counter is not None:
        te.counter_data.byte_count, te.counter_data.packet_count = counter
        te.counter_data.SetInParent()
    if meter is not None:
        config = te.meter_config
        config.SetInParent()
        config.cir, config.cburst, config.pir, config.pburst = meter


def _priority_of(info: TableInfo, entry: EngineEntry) -> int:
    """The P4Runtime priority of an entry the data plane reports."""
    return p4runtime_priority(entry.priority) if info.needs_priority else 0
