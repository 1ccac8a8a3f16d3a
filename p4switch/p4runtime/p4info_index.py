"""The P4Info of the loaded pipeline, indexed by id once, at pipeline load.

Every Write and Read looks objects up by P4Runtime id; doing it here, once, keeps
the per-update path to dictionary lookups. Building the index also checks the
P4Info on its own (duplicate ids, references to unknown ids, match kinds this
server does not know) and raises ``INVALID_ARGUMENT`` naming the bad element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p4switch.p4runtime.errors import invalid
from p4switch.p4runtime.proto import p4info_pb2
from p4switch.runtime_api import MatchKind

MatchField = p4info_pb2.MatchField

_MATCH_KINDS = {
    MatchField.EXACT: MatchKind.EXACT,
    MatchField.LPM: MatchKind.LPM,
    MatchField.TERNARY: MatchKind.TERNARY,
    MatchField.RANGE: MatchKind.RANGE,
    MatchField.OPTIONAL: MatchKind.OPTIONAL,
}

SCOPE_TABLE_AND_DEFAULT = p4info_pb2.ActionRef.TABLE_AND_DEFAULT
SCOPE_TABLE_ONLY = p4info_pb2.ActionRef.TABLE_ONLY
SCOPE_DEFAULT_ONLY = p4info_pb2.ActionRef.DEFAULT_ONLY


@dataclass(frozen=True, slots=True)
class MatchFieldInfo:
    id: int
    name: str
    bitwidth: int
    kind: MatchKind
    type_name: str = ""  # a P4Info type_info.new_types name (user-defined type), or ""


@dataclass(frozen=True, slots=True)
class ParamInfo:
    id: int
    name: str
    bitwidth: int
    position: int  # index in the JSON action's runtime_data


@dataclass(slots=True)
class ActionInfo:
    id: int
    name: str
    params: list[ParamInfo]
    params_by_id: dict[int, ParamInfo]


@dataclass(slots=True)
class TableInfo:
    id: int
    name: str
    match_fields: list[MatchFieldInfo]
    fields_by_id: dict[int, MatchFieldInfo]
    field_positions: dict[int, int]  # match field id -> position in the key
    needs_priority: bool
    action_scopes: dict[int, int]  # action id -> ActionRef scope
    const_default_action_id: int
    action_profile_id: int  # 0 for a direct table
    direct_counter_id: int
    direct_meter_id: int
    supports_idle_timeout: bool
    is_const: bool
    size: int
    # the fields' bitwidths when every match field is exact (the fast path of
    # match_keys.parse_match), else None
    exact_widths: tuple[int, ...] | None = None


@dataclass(slots=True)
class CounterInfo:
    id: int
    name: str
    unit: int  # CounterSpec.Unit
    size: int
    direct_table_id: int = 0


@dataclass(slots=True)
class MeterInfo:
    id: int
    name: str
    unit: int  # MeterSpec.Unit
    size: int
    direct_table_id: int = 0


@dataclass(slots=True)
class ActionProfileInfo:
    id: int
    name: str
    table_ids: list[int]
    with_selector: bool
    size: int
    max_group_size: int
    action_ids: set[int] = field(default_factory=set)


@dataclass(slots=True)
class DigestInfo:
    id: int
    name: str
    kind: str  # "bitstring", "struct" or "tuple": the shape of P4Data to send
    bitwidths: list[int]


@dataclass(slots=True)
class ControllerHeaderInfo:
    """The packet_in / packet_out header: (id, name, bitwidth) in wire order."""

    name: str
    fields: list[tuple[int, str, int]]

    @property
    def total_bits(self) -> int:
        return sum(width for _, _, width in self.fields)


class P4InfoIndex:
    """Lookups by id (and by name where the data plane speaks names)."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        self.p4info = p4info
        self.actions: dict[int, ActionInfo] = {}
        self.actions_by_name: dict[str, ActionInfo] = {}
        self.tables: dict[int, TableInfo] = {}
        self.tables_by_name: dict[str, TableInfo] = {}
        self.action_profiles: dict[int, ActionProfileInfo] = {}
        self.counters: dict[int, CounterInfo] = {}
        self.direct_counters: dict[int, CounterInfo] = {}
        self.meters: dict[int, MeterInfo] = {}
        self.direct_meters: dict[int, MeterInfo] = {}
        self.digests: dict[int, DigestInfo] = {}
        self.digests_by_name: dict[str, DigestInfo] = {}
        self.packet_in: ControllerHeaderInfo | None = None
        self.packet_out: ControllerHeaderInfo | None = None
        self._seen_ids: dict[int, str] = {}
        self._index_actions()
        self._index_resources()
        self._index_tables()
        self._index_action_profiles()
        self._index_digests()
        self._index_controller_headers()

    # --- building ----------------------------------------------------------

    def _claim(self, p4_id: int, name: str, kind: str) -> None:
        # Id prefixes are not checked: older p4c releases used other values (digests
        # were 0x17), and PI accepts their P4Info.
        if p4_id == 0:
            raise invalid(f"P4Info: {kind} '{name}' has id 0")
        if p4_id in self._seen_ids:
            raise invalid(f"P4Info: id {p4_id:#x} of {kind} '{name}' is also used by "
                          f"'{self._seen_ids[p4_id]}'")
        self._seen_ids[p4_id] = name

    def _index_actions(self) -> None:
        for action in self.p4info.actions:
            pre = action.preamble
            self._claim(pre.id, pre.name, "action")
            params = [
                ParamInfo(p.id, p.name, p.bitwidth, position)
                for position, p in enumerate(action.params)
            ]
            by_id = {p.id: p for p in params}
            if len(by_id) != len(params):
                raise invalid(f"P4Info: action '{pre.name}' has duplicate param ids")
            self.actions[pre.id] = ActionInfo(pre.id, pre.name, params, by_id)
            self.actions_by_name[pre.name] = self.actions[pre.id]

    def _index_resources(self) -> None:
        for c in self.p4info.counters:
            self._claim(c.preamble.id, c.preamble.name, "counter")
            self.counters[c.preamble.id] = CounterInfo(
                c.preamble.id, c.preamble.name, c.spec.unit, c.size)
        for c in self.p4info.direct_counters:
            self._claim(c.preamble.id, c.preamble.name, "direct counter")
            self.direct_counters[c.preamble.id] = CounterInfo(
                c.preamble.id, c.preamble.name, c.spec.unit, 0, c.direct_table_id)
        for m in self.p4info.meters:
            self._claim(m.preamble.id, m.preamble.name, "meter")
            self.meters[m.preamble.id] = MeterInfo(
                m.preamble.id, m.preamble.name, m.spec.unit, m.size)
        for m in self.p4info.direct_meters:
            self._claim(m.preamble.id, m.preamble.name, "direct meter")
            self.direct_meters[m.preamble.id] = MeterInfo(
                m.preamble.id, m.preamble.name, m.spec.unit, 0, m.direct_table_id)

    def _index_tables(self) -> None:
        for table in self.p4info.tables:
            pre = table.preamble
            self._claim(pre.id, pre.name, "table")
            fields = []
            for mf in table.match_fields:
                kind = _MATCH_KINDS.get(mf.match_type)
                if kind is None:
                    raise invalid(f"P4Info: table '{pre.name}' match field '{mf.name}' has "
                                  "a match kind this switch does not support")
                fields.append(MatchFieldInfo(mf.id, mf.name, mf.bitwidth, kind, mf.type_name.name))
            scopes = {}
            for ref in table.action_refs:
                if ref.id not in self.actions:
                    raise invalid(f"P4Info: table '{pre.name}' refers to unknown action "
                                  f"id {ref.id:#x}")
                scopes[ref.id] = ref.scope
            direct_counter = direct_meter = 0
            for res_id in table.direct_resource_ids:
                if res_id in self.direct_counters:
                    direct_counter = res_id
                elif res_id in self.direct_meters:
                    direct_meter = res_id
                else:
                    raise invalid(f"P4Info: table '{pre.name}' refers to unknown direct "
                                  f"resource id {res_id:#x}")
            info = TableInfo(
                id=pre.id,
                name=pre.name,
                match_fields=fields,
                fields_by_id={f.id: f for f in fields},
                field_positions={f.id: i for i, f in enumerate(fields)},
                needs_priority=any(
                    f.kind in (MatchKind.TERNARY, MatchKind.RANGE, MatchKind.OPTIONAL)
                    for f in fields
                ),
                action_scopes=scopes,
                const_default_action_id=table.const_default_action_id,
                action_profile_id=table.implementation_id,
                direct_counter_id=direct_counter,
                direct_meter_id=direct_meter,
                supports_idle_timeout=(
                    table.idle_timeout_behavior == p4info_pb2.Table.NOTIFY_CONTROL),
                is_const=table.is_const_table,
                size=table.size,
                exact_widths=tuple(f.bitwidth for f in fields)
                if fields and all(f.kind is MatchKind.EXACT for f in fields) else None,
            )
            self.tables[pre.id] = info
            self.tables_by_name[pre.name] = info

    def _index_action_profiles(self) -> None:
        for prof in self.p4info.action_profiles:
            pre = prof.preamble
            self._claim(pre.id, pre.name, "action profile")
            info = ActionProfileInfo(pre.id, pre.name, list(prof.table_ids),
                                     prof.with_selector, prof.size, prof.max_group_size)
            for table_id in prof.table_ids:
                table = self.tables.get(table_id)
                if table is None:
                    raise invalid(f"P4Info: action profile '{pre.name}' refers to unknown "
                                  f"table id {table_id:#x}")
                info.action_ids.update(table.action_scopes)
            self.action_profiles[pre.id] = info
        for table in self.tables.values():
            if table.action_profile_id and table.action_profile_id not in self.action_profiles:
                raise invalid(f"P4Info: table '{table.name}' uses unknown implementation id "
                              f"{table.action_profile_id:#x}")

    def _index_digests(self) -> None:
        for digest in self.p4info.digests:
            pre = digest.preamble
            self._claim(pre.id, pre.name, "digest")
            kind, widths = self._digest_shape(pre.name, digest.type_spec)
            info = DigestInfo(pre.id, pre.name, kind, widths)
            self.digests[pre.id] = info
            self.digests_by_name[pre.name] = info

    def _digest_shape(self, name: str, spec) -> tuple[str, list[int]]:
        # As PI's digest_mgr: a digest is a bitstring, or a struct / tuple of them.
        which = spec.WhichOneof("type_spec")
        if which == "bitstring":
            return "bitstring", [_bitstring_width(name, spec.bitstring)]
        if which == "tuple":
            return "tuple", [_member_width(name, m) for m in spec.tuple.members]
        if which == "struct":
            struct = self.p4info.type_info.structs.get(spec.struct.name)
            if struct is None:
                raise invalid(f"P4Info: digest '{name}' uses struct '{spec.struct.name}', "
                              "which type_info does not define")
            return "struct", [_member_width(name, m.type_spec) for m in struct.members]
        raise invalid(f"P4Info: digest '{name}' must be a bitstring, struct or tuple")

    def _index_controller_headers(self) -> None:
        for header in self.p4info.controller_packet_metadata:
            info = ControllerHeaderInfo(
                header.preamble.name,
                [(m.id, m.name, m.bitwidth) for m in header.metadata],
            )
            if header.preamble.name == "packet_in":
                self.packet_in = info
            elif header.preamble.name == "packet_out":
                self.packet_out = info


def _bitstring_width(name: str, bitstring) -> int:
    which = bitstring.WhichOneof("type_spec")
    if which == "bit":
        return bitstring.bit.bitwidth
    if which == "int":
        return bitstring.int.bitwidth
    raise invalid(f"P4Info: digest '{name}' has a varbit member; digests cannot carry varbits")


def _member_width(name: str, spec) -> int:
    if spec.WhichOneof("type_spec") != "bitstring":
        raise invalid(f"P4Info: digest '{name}' members must be bitstrings")
    return _bitstring_width(name, spec.bitstring)
