"""P4Info by name: ids, widths and match kinds of tables, actions, counters, digests.

The controller names tables, fields, actions and params as the P4 program
does (P4Info names); this module is the only place that turns those names
into P4Info ids (p4runtime_codec turns entries into messages with them).
Names are resolved by finsy's P4Schema (a P4Info object's name, its alias,
or the last part of a dotted name), whose errors suggest the nearest name;
the results are kept here as small frozen records, since encoding and
decoding look them up for every entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import finsy

from controller.p4runtime_proto import p4info_pb2

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


class DecodedEntry(NamedTuple):
    """A table entry in controller terms (p4runtime_codec encodes and decodes it).

    A named tuple rather than a frozen dataclass: as immutable, and a third of
    the cost to make and compare, which a restart does for 10^5 entries."""

    table: str
    key: tuple[MatchValue, ...]
    action: str
    params: tuple[int, ...]
    priority: int = 0


class P4Schema:
    """Ids and widths of one P4Info, looked up by name once and cached."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        self.p4info = p4info
        self._names = finsy.P4Schema(p4info)
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

    @staticmethod
    def _lookup(objects: finsy.p4schema.P4EntityMap, name: str):
        try:
            return objects[name]
        except ValueError as e:  # "no P4Table named 'x'. Did you mean 'y'?"
            raise SchemaError(f"the P4 program has {e}") from None

    def table(self, name: str) -> TableSchema:
        ts = self._tables.get(name)
        if ts is None:
            ts = self._tables[self._lookup(self._names.tables, name).name]
            self._tables[name] = ts
        return ts

    def action(self, name: str) -> ActionSchema:
        acs = self._actions.get(name)
        if acs is None:
            acs = self._actions[self._lookup(self._names.actions, name).name]
            self._actions[name] = acs
        return acs

    def counter_id(self, name: str) -> int:
        return self._lookup(self._names.counters, name).id

    def counter_size(self, name: str) -> int:
        return self._lookup(self._names.counters, name).size

    def digest_id(self, name: str) -> int:
        return self._lookup(self._names.digests, name).id

    def table_by_id(self, table_id: int) -> TableSchema:
        return self._tables_by_id[table_id]

    def action_by_id(self, action_id: int) -> ActionSchema:
        return self._actions_by_id[action_id]
