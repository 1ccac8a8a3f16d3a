"""P4Info by name, and table entries to and from P4Runtime messages.

The controller names tables, fields, actions and params as the P4 program
does (P4Info names); this module is the only place that turns those names
into P4Info ids and Python ints into canonical P4Runtime byte strings. Name
lookup is p4runtime-shell's `Context`, so short unique suffixes work as in
the shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2
from p4runtime_sh.bytes_utils import to_canonical_bytes
from p4runtime_sh.context import Context, P4Type

# A match value: an int (exact), or (value, prefix_len) for lpm, or
# (value, mask) for ternary; which one is set by the field's match type.
MatchValue = int | tuple[int, int]


class SchemaError(ValueError):
    """A name or value that the loaded P4Info does not have room for."""


@dataclass(frozen=True)
class FieldSchema:
    id: int
    name: str
    bitwidth: int
    match_type: int  # p4info_pb2.MatchField.MatchType


@dataclass(frozen=True)
class TableSchema:
    id: int
    name: str
    fields: tuple[FieldSchema, ...]
    action_ids: frozenset[int]


@dataclass(frozen=True)
class ActionSchema:
    id: int
    name: str
    params: tuple[FieldSchema, ...]


@dataclass(frozen=True)
class DecodedEntry:
    """A table entry in controller terms: what `encode_entry` takes."""

    table: str
    key: tuple[MatchValue, ...]
    action: str
    params: tuple[int, ...]
    priority: int = 0


def encode_int(value: int, bitwidth: int, what: str) -> bytes:
    if value < 0 or value >= 1 << bitwidth:
        raise SchemaError(f"{what}: {value} does not fit in {bitwidth} bits")
    return to_canonical_bytes(value.to_bytes((bitwidth + 7) // 8 or 1, "big"))


class P4Schema:
    """Ids and widths of one P4Info, looked up by name once and cached."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        self.p4info = p4info
        self._context = Context()
        self._context.set_p4info(p4info)
        self._tables: dict[str, TableSchema] = {}
        self._tables_by_id: dict[int, TableSchema] = {}
        self._actions: dict[str, ActionSchema] = {}
        self._actions_by_id: dict[int, ActionSchema] = {}
        for t in p4info.tables:
            ts = TableSchema(
                id=t.preamble.id,
                name=t.preamble.name,
                fields=tuple(
                    FieldSchema(m.id, m.name, m.bitwidth, m.match_type) for m in t.match_fields
                ),
                action_ids=frozenset(a.id for a in t.action_refs),
            )
            self._tables[ts.name] = ts
            self._tables_by_id[ts.id] = ts
        for a in p4info.actions:
            acs = ActionSchema(
                id=a.preamble.id,
                name=a.preamble.name,
                params=tuple(FieldSchema(p.id, p.name, p.bitwidth, 0) for p in a.params),
            )
            self._actions[acs.name] = acs
            self._actions_by_id[acs.id] = acs

    def _lookup(self, p4type: P4Type, name: str):
        obj = self._context.get_obj(p4type, name)
        if obj is None:
            raise SchemaError(f"the P4 program has no {p4type.pretty_name} named {name!r}")
        return obj

    def table(self, name: str) -> TableSchema:
        ts = self._tables.get(name)
        if ts is None:
            ts = self._tables[self._lookup(P4Type.table, name).preamble.name]
            self._tables[name] = ts
        return ts

    def action(self, name: str) -> ActionSchema:
        acs = self._actions.get(name)
        if acs is None:
            acs = self._actions[self._lookup(P4Type.action, name).preamble.name]
            self._actions[name] = acs
        return acs

    def counter_id(self, name: str) -> int:
        return self._lookup(P4Type.counter, name).preamble.id

    def counter_size(self, name: str) -> int:
        return self._lookup(P4Type.counter, name).size

    def digest_id(self, name: str) -> int:
        return self._lookup(P4Type.digest, name).preamble.id

    def table_name(self, table_id: int) -> str:
        return self._tables_by_id[table_id].name

    # --- table entries -------------------------------------------------------

    def encode_entry(
        self,
        entry: DecodedEntry,
        idle_timeout_ns: int = 0,
    ) -> p4runtime_pb2.TableEntry:
        ts = self.table(entry.table)
        if len(entry.key) != len(ts.fields):
            raise SchemaError(
                f"{ts.name}: {len(entry.key)} key values for {len(ts.fields)} match fields"
            )
        te = p4runtime_pb2.TableEntry(table_id=ts.id, priority=entry.priority)
        for f, value in zip(ts.fields, entry.key, strict=True):
            self._encode_match(te, ts.name, f, value)
        self._encode_action(te.action.action, ts, entry.action, entry.params)
        if idle_timeout_ns:
            te.idle_timeout_ns = idle_timeout_ns
        return te

    def table_key(self, entry: DecodedEntry) -> p4runtime_pb2.TableEntry:
        """The entry with its match only: what a DELETE needs."""
        ts = self.table(entry.table)
        te = p4runtime_pb2.TableEntry(table_id=ts.id, priority=entry.priority)
        for f, value in zip(ts.fields, entry.key, strict=True):
            self._encode_match(te, ts.name, f, value)
        return te

    def _encode_match(
        self, te: p4runtime_pb2.TableEntry, table: str, f: FieldSchema, value: MatchValue
    ) -> None:
        what = f"{table}.{f.name}"
        mt = p4info_pb2.MatchField
        if f.match_type == mt.EXACT:
            assert isinstance(value, int)
            te.match.add(field_id=f.id).exact.value = encode_int(value, f.bitwidth, what)
        elif f.match_type == mt.LPM:
            v, plen = value  # type: ignore[misc]
            if plen == 0:
                return  # a /0 is expressed by omitting the field (P4Runtime spec)
            fm = te.match.add(field_id=f.id)
            fm.lpm.value = encode_int(v, f.bitwidth, what)
            fm.lpm.prefix_len = plen
        elif f.match_type == mt.TERNARY:
            v, mask = value  # type: ignore[misc]
            if mask == 0:
                return
            fm = te.match.add(field_id=f.id)
            fm.ternary.value = encode_int(v, f.bitwidth, what)
            fm.ternary.mask = encode_int(mask, f.bitwidth, what)
        else:
            raise SchemaError(f"{what}: match type {f.match_type} is not used by p4lb")

    def _encode_action(
        self, action: p4runtime_pb2.Action, ts: TableSchema, name: str, params: tuple[int, ...]
    ) -> None:
        acs = self.action(name)
        if acs.id not in ts.action_ids:
            raise SchemaError(f"table {ts.name} has no action {acs.name}")
        if len(params) != len(acs.params):
            raise SchemaError(f"{acs.name}: {len(params)} params for {len(acs.params)}")
        action.action_id = acs.id
        for p, v in zip(acs.params, params, strict=True):
            value = encode_int(v, p.bitwidth, f"{acs.name}.{p.name}")
            action.params.add(param_id=p.id, value=value)

    def decode_entry(self, te: p4runtime_pb2.TableEntry) -> DecodedEntry:
        ts = self._tables_by_id[te.table_id]
        by_id = {m.field_id: m for m in te.match}
        key: list[MatchValue] = []
        mt = p4info_pb2.MatchField
        for f in ts.fields:
            m = by_id.get(f.id)
            if f.match_type == mt.EXACT:
                key.append(int.from_bytes(m.exact.value, "big") if m else 0)
            elif f.match_type == mt.LPM:
                key.append(
                    (int.from_bytes(m.lpm.value, "big"), m.lpm.prefix_len) if m else (0, 0)
                )
            else:
                key.append(
                    (int.from_bytes(m.ternary.value, "big"), int.from_bytes(m.ternary.mask, "big"))
                    if m
                    else (0, 0)
                )
        if not te.HasField("action"):
            # Idle-timeout notifications and DELETE echoes carry the key only.
            return DecodedEntry(ts.name, tuple(key), "", (), te.priority)
        acs = self._actions_by_id[te.action.action.action_id]
        pv = {p.param_id: int.from_bytes(p.value, "big") for p in te.action.action.params}
        return DecodedEntry(
            table=ts.name,
            key=tuple(key),
            action=acs.name,
            params=tuple(pv.get(p.id, 0) for p in acs.params),
            priority=te.priority,
        )
