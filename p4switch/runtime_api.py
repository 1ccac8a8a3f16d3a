"""The contract between the embedded switch's data plane and its P4Runtime server.

It mirrors BMv2's ``bm::RuntimeInterface`` (include/bm/bm_sim/runtime_interface.h),
the API that PI's bmv2 backend calls to implement P4Runtime on simple_switch_grpc,
so the P4Runtime server here can follow PI's translation step by step.

Names are BMv2 JSON names (``"MyIngress.vip4"``), which p4c makes equal to the
P4Info names. Values are Python ``int`` (big-endian meaning, unsigned, already
masked to the field width) except where ``bytes`` is stated. Errors are raised as
:class:`RuntimeApiError` carrying a :class:`MatchError` code, as BMv2 returns a
``MatchErrorCode``; nothing here knows about gRPC.

The data plane provides ``p4switch.engine.load_switch(bmv2_json: dict, cpu_port:
int | None) -> SwitchRuntime``; it raises ``ValueError`` naming the offending
JSON element when the program cannot be loaded. Ageing (``support_timeout``
tables) runs in the switch's own thread as in BMv2: a sweep every second, an
entry whose TTL passed without a hit is reported through ``on_idle_timeout``,
and re-reported every 2 s while it stays idle and is not deleted.

Threads: packet processing and runtime calls may come from different threads;
the implementation serialises them (one lock is enough for v1model semantics).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class MatchError(enum.Enum):
    """BMv2's MatchErrorCode values that a caller must tell apart."""

    TABLE_FULL = "table full"
    INVALID_HANDLE = "invalid entry handle"
    EXPIRED_HANDLE = "expired entry handle"
    COUNTERS_DISABLED = "counters disabled"
    METERS_DISABLED = "meters disabled"
    AGEING_DISABLED = "ageing disabled"
    INVALID_TABLE_NAME = "invalid table name"
    INVALID_ACTION_NAME = "invalid action name"
    WRONG_TABLE_TYPE = "wrong table type"
    INVALID_MBR_HANDLE = "invalid member handle"
    MBR_STILL_USED = "member still used"
    MBR_ALREADY_IN_GRP = "member already in group"
    MBR_NOT_IN_GRP = "member not in group"
    INVALID_GRP_HANDLE = "invalid group handle"
    GRP_STILL_USED = "group still used"
    EMPTY_GRP = "empty group"
    DUPLICATE_ENTRY = "duplicate entry"
    BAD_MATCH_KEY = "bad match key"
    INVALID_METER_OPERATION = "invalid meter operation"
    DEFAULT_ACTION_IS_CONST = "default action is const"
    DEFAULT_ENTRY_IS_CONST = "default entry is const"
    NO_DEFAULT_ENTRY = "no default entry"
    INVALID_ACTION_PROFILE_NAME = "invalid action profile name"
    NO_ACTION_PROFILE_SELECTION = "no action profile selection"
    IMMUTABLE_TABLE_ENTRIES = "immutable table entries"
    BAD_ACTION_DATA = "bad action data"
    NO_SUCH_ENTRY = "no such entry"  # lookup by key found nothing
    INVALID_COUNTER_NAME = "invalid counter name"
    INVALID_INDEX = "index out of range"
    INVALID_METER_NAME = "invalid meter name"
    INVALID_REGISTER_NAME = "invalid register name"
    INVALID_SESSION = "invalid clone/multicast session"
    ERROR = "error"


class RuntimeApiError(Exception):
    def __init__(self, code: MatchError, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail


class MatchKind(enum.Enum):
    EXACT = "exact"
    LPM = "lpm"
    TERNARY = "ternary"
    RANGE = "range"
    OPTIONAL = "optional"
    VALID = "valid"


@dataclass(frozen=True, init=False)
class MatchKeyParam:
    """One field of a match key, in the order of the JSON table's ``key`` list.

    exact/valid: ``value``; lpm: ``value`` + ``prefix_len``; ternary and
    optional: ``value`` + ``mask`` (optional uses an all-ones mask, or 0 for
    don't-care); range: ``value`` = low, ``high`` = high (inclusive).
    """

    kind: MatchKind
    value: int
    mask: int | None = None
    prefix_len: int | None = None
    high: int | None = None

    def __init__(self, kind: MatchKind, value: int, mask: int | None = None,
                 prefix_len: int | None = None, high: int | None = None) -> None:
        # A frozen dataclass's generated __init__ sets each field through
        # object.__setattr__ (1 us a param, two params per entry of a write);
        # filling the instance dict costs a third of that and stays frozen.
        d = self.__dict__
        d["kind"] = kind
        d["value"] = value
        d["mask"] = mask
        d["prefix_len"] = prefix_len
        d["high"] = high


@dataclass
class ActionCall:
    """An action and its runtime data, in the order of the JSON ``runtime_data``."""

    name: str
    args: list[int] = field(default_factory=list)


@dataclass
class MeterRate:
    """BMv2 ``Meter::rate_config_t``: info units per microsecond and burst size."""

    info_rate: float
    burst_size: int


@dataclass
class TableEntry:
    """An entry as read back (``mt_get_entries`` / ``mt_get_default_entry``).

    For an indirect table, ``action`` is None and exactly one of
    ``member``/``group`` is set.
    """

    handle: int
    match_key: list[MatchKeyParam]
    priority: int
    action: ActionCall | None
    member: int | None = None
    group: int | None = None
    timeout_ms: int | None = None  # the TTL set with mt_set_entry_ttl
    time_since_last_hit_ms: int = 0


@dataclass(frozen=True)
class TableInfo:
    """What the P4Runtime server needs to know about a table to validate requests."""

    name: str
    key: list[tuple[str, MatchKind, int]]  # (field name, match kind, bit width)
    actions: list[str]
    is_indirect: bool  # uses an action profile
    action_profile: str | None
    with_selector: bool
    support_timeout: bool
    direct_counter: str | None
    direct_meter: str | None
    max_size: int
    const_default_action: bool
    has_const_entries: bool


@dataclass
class Digest:
    """One learn-list sample: the JSON ``learn_lists`` entry name, field values in order."""

    name: str
    values: list[int]


class SwitchRuntime(Protocol):
    """Runtime calls the P4Runtime server makes; one object per loaded pipeline.

    Any method may raise :class:`RuntimeApiError`.
    """

    # --- introspection (from the loaded JSON) --------------------------------
    def table_info(self, table: str) -> TableInfo: ...
    def table_names(self) -> list[str]: ...

    # --- direct tables -------------------------------------------------------
    def mt_add_entry(
        self, table: str, key: list[MatchKeyParam], action: ActionCall, priority: int = -1
    ) -> int: ...
    def mt_modify_entry(self, table: str, handle: int, action: ActionCall) -> None: ...
    def mt_delete_entry(self, table: str, handle: int) -> None: ...
    def mt_set_default_action(self, table: str, action: ActionCall) -> None: ...
    def mt_reset_default_entry(self, table: str) -> None: ...
    def mt_clear_entries(self, table: str, reset_default_entry: bool) -> None: ...
    def mt_get_entries(self, table: str) -> list[TableEntry]: ...
    def mt_get_entry(self, table: str, handle: int) -> TableEntry: ...
    def mt_get_default_entry(self, table: str) -> TableEntry: ...
    def mt_get_entry_from_key(
        self, table: str, key: list[MatchKeyParam], priority: int = 1
    ) -> TableEntry: ...
    def mt_get_num_entries(self, table: str) -> int: ...

    # Not in BMv2's interface: what a P4Runtime server with no entry store of its
    # own needs, fast enough for tables of a million flows. The key of an
    # all-exact table is the tuple of its field values (ints).
    def mt_add_exact_entry(self, table: str, values: tuple[int, ...], action: ActionCall,
                           ttl_ms: int | None = None) -> int: ...  # ttl_ms: mt_set_entry_ttl
    def mt_find_exact_entry(self, table: str, values: tuple[int, ...]) -> int | None: ...
    # MODIFY (and the TTL unless None) / DELETE by key in one call: the handle, or
    # None when no entry has the key (nothing changed).
    def mt_modify_exact_entry(self, table: str, values: tuple[int, ...], action: ActionCall,
                              ttl_ms: int | None = None) -> int | None: ...
    def mt_delete_exact_entry(self, table: str, values: tuple[int, ...]) -> int | None: ...
    def mt_find_entry(
        self, table: str, key: list[MatchKeyParam], priority: int = 1
    ) -> int | None: ...
    # (handle, key values, action name or None, action data, TTL ms or None) per entry
    def mt_get_exact_entries(
        self, table: str
    ) -> list[tuple[int, tuple[int, ...], str | None, tuple, int | None]]: ...

    def mt_set_entry_ttl(self, table: str, handle: int, ttl_ms: int) -> None: ...

    # --- action profiles and indirect tables ---------------------------------
    def mt_act_prof_add_member(self, act_prof: str, action: ActionCall) -> int: ...
    def mt_act_prof_modify_member(self, act_prof: str, member: int, action: ActionCall) -> None: ...
    def mt_act_prof_delete_member(self, act_prof: str, member: int) -> None: ...
    def mt_act_prof_create_group(self, act_prof: str) -> int: ...
    def mt_act_prof_delete_group(self, act_prof: str, group: int) -> None: ...
    def mt_act_prof_add_member_to_group(self, act_prof: str, member: int, group: int) -> None: ...
    def mt_act_prof_remove_member_from_group(
        self, act_prof: str, member: int, group: int
    ) -> None: ...
    def mt_act_prof_get_members(self, act_prof: str) -> dict[int, ActionCall]: ...
    def mt_act_prof_get_groups(self, act_prof: str) -> dict[int, list[int]]: ...
    def mt_indirect_add_entry(
        self, table: str, key: list[MatchKeyParam], member: int, priority: int = 1
    ) -> int: ...
    def mt_indirect_modify_entry(self, table: str, handle: int, member: int) -> None: ...
    def mt_indirect_ws_add_entry(
        self, table: str, key: list[MatchKeyParam], group: int, priority: int = 1
    ) -> int: ...
    def mt_indirect_ws_modify_entry(self, table: str, handle: int, group: int) -> None: ...
    def mt_indirect_set_default_member(self, table: str, member: int) -> None: ...
    def mt_indirect_ws_set_default_group(self, table: str, group: int) -> None: ...

    # --- direct counters and meters ------------------------------------------
    def mt_read_counters(self, table: str, handle: int) -> tuple[int, int]: ...  # (bytes, packets)
    def mt_write_counters(self, table: str, handle: int, bytes_: int, packets: int) -> None: ...
    def mt_reset_counters(self, table: str) -> None: ...
    def mt_set_meter_rates(self, table: str, handle: int, rates: list[MeterRate]) -> None: ...
    def mt_get_meter_rates(self, table: str, handle: int) -> list[MeterRate]: ...
    def mt_reset_meter_rates(self, table: str, handle: int) -> None: ...

    # --- indirect counters, meters, registers --------------------------------
    def counter_size(self, counter: str) -> int: ...
    def read_counters(self, counter: str, index: int) -> tuple[int, int]: ...  # (bytes, packets)
    def write_counters(self, counter: str, index: int, bytes_: int, packets: int) -> None: ...
    def reset_counters(self, counter: str) -> None: ...
    def meter_size(self, meter: str) -> int: ...
    def meter_set_rates(self, meter: str, index: int, rates: list[MeterRate]) -> None: ...
    def meter_get_rates(self, meter: str, index: int) -> list[MeterRate]: ...
    def meter_reset_rates(self, meter: str, index: int) -> None: ...
    def register_size(self, register: str) -> int: ...
    def register_read(self, register: str, index: int) -> int: ...
    def register_write(self, register: str, index: int, value: int) -> None: ...

    # --- parser value sets (BMv2 pvs_*; P4Runtime ValueSetEntry) ---------------
    # value: the select key's fields concatenated (the JSON compressed_bitwidth).
    def parse_vset_add(self, name: str, value: int) -> None: ...
    def parse_vset_remove(self, name: str, value: int) -> None: ...
    def parse_vset_get(self, name: str) -> list[int]: ...
    def parse_vset_clear(self, name: str) -> None: ...

    # --- packet replication engine (simple_switch's mc_* and mirroring_*) -----
    def mc_set_group(self, group: int, replicas: list[tuple[int, int]]) -> None: ...
    # replicas: (egress_port, instance/rid); replaces the group, [] deletes it
    def mc_get_groups(self) -> dict[int, list[tuple[int, int]]]: ...
    def mirroring_session_set(
        self, session: int, egress_port: int | None, mc_group: int | None, truncate: int = 0
    ) -> None: ...
    def mirroring_session_delete(self, session: int) -> None: ...
    def mirroring_sessions(self) -> dict[int, tuple[int | None, int | None, int]]: ...

    # --- events the switch raises (set by the P4Runtime server) ---------------
    # Called from the packet/ageing thread; must not block.
    on_digest: Callable[[Digest], None] | None
    on_idle_timeout: Callable[[str, list[int]], None] | None  # table, handles
    on_packet_to_cpu: Callable[[bytes], None] | None  # frame sent to --cpu-port

    # --- lifetime ------------------------------------------------------------
    def close(self) -> None: ...
    # Stops the ageing sweep thread; the object is not used afterwards.

    # --- packets ---------------------------------------------------------------
    def process_packet(self, ingress_port: int, frame: bytes) -> list[tuple[int, bytes]]: ...
    # Runs the whole pipeline; returns (egress_port, frame) pairs; packets to the
    # CPU port are delivered through on_packet_to_cpu instead, and a PacketOut is
    # injected by the server with process_packet(cpu_port, frame).
