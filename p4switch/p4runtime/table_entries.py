"""Table entries: INSERT / MODIFY / DELETE and reads, as PI's device_mgr does them.

The server keeps, per table, the entries it knows by key (PI's TableInfoStore):
the data-plane handle and what only P4Runtime cares about (controller_metadata,
metadata, idle_timeout_ns). Reads take the entries from the data plane, as PI
does, and add those fields back. Entries the program itself installs (``const
entries`` / ``entries``) are taken into the store when the pipeline loads.

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

from dataclasses import dataclass, field
from typing import Any

from p4.v1 import p4runtime_pb2

from p4switch.p4runtime import meter_configs
from p4switch.p4runtime import wire_encoder as wire
from p4switch.p4runtime.action_profiles import ActionProfileState
from p4switch.p4runtime.actions import build_action_call, encode_action
from p4switch.p4runtime.config_agreement import REMOVED_BY_P4C, ConfigAgreement
from p4switch.p4runtime.errors import (
    already_exists,
    from_engine,
    invalid,
    not_found,
    permission_denied,
    unimplemented,
)
from p4switch.p4runtime.match_keys import (
    EntryKey,
    encode_match,
    engine_priority,
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
from p4switch.runtime_api import ActionCall, MatchError, RuntimeApiError, SwitchRuntime
from p4switch.runtime_api import TableEntry as EngineEntry

Update = p4runtime_pb2.Update
NS_PER_MS = 1_000_000


@dataclass(slots=True)
class StoredEntry:
    handle: int
    controller_metadata: int = 0
    metadata: bytes = b""
    idle_timeout_ns: int = 0


@dataclass
class TableState:
    info: TableInfo
    entries: dict[EntryKey, StoredEntry] = field(default_factory=dict)
    keys_by_handle: dict[int, EntryKey] = field(default_factory=dict)
    default_entry: StoredEntry = field(default_factory=lambda: StoredEntry(-1))
    default_modified: bool = False  # the controller changed the program's default
    in_device_config: bool = True  # False: p4c removed the table from the JSON
    key_refusal: str | None = None  # why the data plane takes no key of this table


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

    def load_initial_entries(self) -> None:
        """Take the entries the program installed at load time into the store."""
        for state in self.tables.values():
            if not state.in_device_config:
                continue
            info = state.info
            for entry in self._engine(f"reading table '{info.name}'",
                                      self.runtime.mt_get_entries, info.name):
                key = key_from_engine(info, entry.match_key, _priority_of(info, entry))
                state.entries[key] = StoredEntry(entry.handle)
                state.keys_by_handle[entry.handle] = key

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
        key, params = parse_match(info, entry)
        action = self._resolve_action(info, entry)
        counter = self._direct_counter_data(info, entry)
        rates = self._direct_meter_rates(info, entry)
        ttl_ms = self._ttl_ms(info, entry)
        if key in state.entries:
            raise already_exists(f"table '{info.name}': an entry with this match key and "
                                 "priority exists; use MODIFY to change its action")
        self._require_in_data_plane(state, "adding an entry")
        if state.key_refusal is not None:
            raise from_engine(RuntimeApiError(MatchError.BAD_MATCH_KEY, state.key_refusal),
                              f"table '{info.name}': adding an entry")
        name = info.name
        prio = engine_priority(key[1], info.needs_priority)
        rt = self.runtime
        try:
            if action.call is not None:
                handle = rt.mt_add_entry(name, params, action.call, prio)
            elif action.member is not None:
                handle = rt.mt_indirect_add_entry(name, params, action.member, prio)
            else:
                handle = rt.mt_indirect_ws_add_entry(name, params, action.group, prio)
        except RuntimeApiError as e:
            raise from_engine(e, f"table '{name}': adding an entry") from None
        try:
            if counter is not None or rates is not None:
                self._apply_direct_resources(name, handle, counter, rates)
            if ttl_ms is not None:
                rt.mt_set_entry_ttl(name, handle, ttl_ms)
        except RuntimeApiError as e:
            # Leave no half-written entry behind.
            rt.mt_delete_entry(name, handle)
            raise from_engine(e, f"table '{name}': adding an entry") from None
        state.entries[key] = StoredEntry(handle, entry.controller_metadata, entry.metadata,
                                         entry.idle_timeout_ns)
        state.keys_by_handle[handle] = key

    def _modify(self, state: TableState, entry: Any) -> None:
        info = state.info
        if entry.is_default_action:
            self._modify_default(state, entry)
            return
        key = parse_key(info, entry)
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
        stored = state.entries.get(key)
        if stored is None:
            raise not_found(f"table '{info.name}': no entry with this match key and priority")
        name = info.name
        handle = stored.handle
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
            stored.controller_metadata = entry.controller_metadata
            stored.metadata = entry.metadata
            stored.idle_timeout_ns = entry.idle_timeout_ns

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
        key = parse_key(info, entry)
        stored = state.entries.get(key)
        if stored is None:
            raise not_found(f"table '{info.name}': no entry with this match key and priority")
        self._engine(f"table '{info.name}': deleting an entry",
                     self.runtime.mt_delete_entry, info.name, stored.handle)
        del state.entries[key]
        state.keys_by_handle.pop(stored.handle, None)

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
        # The data plane counts in ms; a TTL under 1 ms must not become "no ageing".
        return max(1, ns // NS_PER_MS) if ns else 0

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
        key = parse_key(info, entry)
        stored = state.entries.get(key)
        if stored is None:
            raise not_found(f"table '{info.name}': no entry with this match key and priority")
        return state, stored.handle

    # --- reads ---------------------------------------------------------------

    def read(self, request: Any, response: list) -> None:
        """Append the entries ``request`` names to ``response``, each as the encoded
        bytes of an Entity (see wire_encoder: building messages would cost more than
        everything else a large read does)."""
        if request.table_id == 0:
            for state in self.tables.values():
                if state.in_device_config:  # PI fails the whole read (UNKNOWN)
                    self._read_table(state, request, response)
        else:
            self._read_table(self.table(request.table_id), request, response)

    def _read_table(self, state: TableState, request: Any, response: list) -> None:
        info = state.info
        if request.is_default_action:
            if request.HasField("time_since_last_hit"):
                raise invalid(f"table '{info.name}': default entries do not age; do not set "
                              "time_since_last_hit")
            self._require_in_data_plane(state, "reading the default entry")
            default = self._engine(f"table '{info.name}': reading the default entry",
                                   self.runtime.mt_get_default_entry, info.name)
            counter, meter = self._direct_resources(info, default.handle, request)
            response.append(wire.table_entry_entity(wire.table_entry(
                info.id, action=self._encode_action(info, default),
                controller_metadata=state.default_entry.controller_metadata,
                meter_config=meter, counter_data=counter, is_default_action=True,
                metadata=state.default_entry.metadata)))
            return
        with_elapsed = request.HasField("time_since_last_hit")
        if with_elapsed and not info.supports_idle_timeout:
            raise invalid(f"table '{info.name}' does not support idle timeout: do not set "
                          "time_since_last_hit, even in wildcard reads")
        if request.match:
            key = parse_key(info, request)
            stored = state.entries.get(key)
            if stored is None:
                return
            entries = [self._engine(f"table '{info.name}': reading an entry",
                                    self.runtime.mt_get_entry, info.name, stored.handle)]
        elif not state.in_device_config:
            return  # it holds no entries (PI: UNKNOWN, BMv2 has no such table)
        else:
            entries = self._engine(f"table '{info.name}': reading entries",
                                   self.runtime.mt_get_entries, info.name)
        want_priority = request.priority if not request.match else 0
        want_action = request.action.action.action_id if request.HasField("action") else 0
        with_resources = request.HasField("counter_data") or request.HasField("meter_config")
        counter = meter = elapsed_ns = None
        no_stored = StoredEntry(-1)
        is_const = info.is_const
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
            stored = state.entries.get(key) or no_stored
            if with_resources:
                counter, meter = self._direct_resources(info, entry.handle, request)
            if with_elapsed:
                elapsed_ns = entry.time_since_last_hit_ms * NS_PER_MS
            response.append(wire.table_entry_entity(wire.table_entry(
                info.id, encode_match(info, key), self._encode_action(info, entry),
                priority=priority, controller_metadata=stored.controller_metadata,
                meter_config=meter, counter_data=counter,
                idle_timeout_ns=stored.idle_timeout_ns, elapsed_ns=elapsed_ns,
                metadata=stored.metadata, is_const=is_const)))

    def _encode_action(self, info: TableInfo, entry: EngineEntry) -> bytes:
        """The entry's encoded ``action`` field; b"" when P4Runtime cannot name it."""
        if entry.action is not None:
            action_info = self.index.actions_by_name.get(entry.action.name)
            return encode_action(action_info, entry.action) if action_info is not None else b""
        if info.action_profile_id:
            profile = self.action_profiles[info.action_profile_id]
            if entry.member is not None and entry.member in profile.member_ids_by_handle:
                return wire.member_action(profile.member_ids_by_handle[entry.member])
            if entry.group is not None and entry.group in profile.group_ids_by_handle:
                return wire.group_action(profile.group_ids_by_handle[entry.group])
        return b""

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

    def timed_out_entries(self, table_name: str, handles: list[int]) -> list[bytes]:
        """The encoded TableEntry messages of an IdleTimeoutNotification (PI's
        parse_match_key)."""
        info = self.index.tables_by_name.get(table_name)
        if info is None:
            return []
        state = self.tables[info.id]
        entries = []
        for handle in handles:
            key = state.keys_by_handle.get(handle)
            stored = state.entries.get(key) if key is not None else None
            if stored is None or not stored.idle_timeout_ns:
                continue  # deleted meanwhile, or an entry that does not age
            entries.append(wire.table_entry(
                info.id, encode_match(info, key), priority=key[1],
                controller_metadata=stored.controller_metadata,
                idle_timeout_ns=stored.idle_timeout_ns, metadata=stored.metadata))
        return entries


def _priority_of(info: TableInfo, entry: EngineEntry) -> int:
    """The P4Runtime priority of an entry the data plane reports."""
    return p4runtime_priority(entry.priority) if info.needs_priority else 0
