"""Table entries straight to P4Runtime wire bytes, for loading big states quickly.

The bench installs 10^5-10^6 entries to set up its measurements. Building
them as protobuf objects costs about 0.5 ms each with the pure-Python
protobuf that p4runtime-shell pins (measured here), far more than the
switch's own cost, and would make setting up the state most of the run. So
the setup encodes entries by hand: the same messages, field numbers read
from the protobuf descriptors, values as the controller's ``encode_int``
encodes them (canonical P4Runtime byte strings, range-checked).
tests/bench checks that the bytes equal what P4Schema.encode_entry builds.
Measurements of the controller itself never use this module.
"""

from __future__ import annotations

import grpc
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from controller.p4_schema import DecodedEntry, P4Schema, SchemaError


def _number(message, name: str) -> int:
    return message.DESCRIPTOR.fields_by_name[name].number


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = tuple(bytes((n,)) for n in range(0x80))
_LEN, _VARINT = 2, 0


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _LEN_TAGS[number] + _varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _VARINT_TAGS[number] + _varint(value) if value else b""


# Tags of the field numbers used below (all < 16, so one byte each).
_LEN_TAGS = {n: _varint((n << 3) | _LEN) for n in range(1, 16)}
_VARINT_TAGS = {n: _varint((n << 3) | _VARINT) for n in range(1, 16)}


P = p4runtime_pb2
TE_TABLE_ID = _number(P.TableEntry, "table_id")
TE_MATCH = _number(P.TableEntry, "match")
TE_ACTION = _number(P.TableEntry, "action")
TE_PRIORITY = _number(P.TableEntry, "priority")
TE_IDLE_TIMEOUT = _number(P.TableEntry, "idle_timeout_ns")
FM_FIELD_ID = _number(P.FieldMatch, "field_id")
FM_EXACT = _number(P.FieldMatch, "exact")
FM_LPM = _number(P.FieldMatch, "lpm")
EXACT_VALUE = _number(P.FieldMatch.Exact, "value")
LPM_VALUE = _number(P.FieldMatch.LPM, "value")
LPM_PREFIX_LEN = _number(P.FieldMatch.LPM, "prefix_len")
TA_ACTION = _number(P.TableAction, "action")
ACTION_ID = _number(P.Action, "action_id")
ACTION_PARAMS = _number(P.Action, "params")
PARAM_ID = _number(P.Action.Param, "param_id")
PARAM_VALUE = _number(P.Action.Param, "value")
UPDATE_TYPE = _number(P.Update, "type")
UPDATE_ENTITY = _number(P.Update, "entity")
ENTITY_TABLE_ENTRY = _number(P.Entity, "table_entry")
WR_DEVICE_ID = _number(P.WriteRequest, "device_id")
WR_ELECTION_ID = _number(P.WriteRequest, "election_id")
WR_UPDATES = _number(P.WriteRequest, "updates")
U128_HIGH = _number(P.Uint128, "high")
U128_LOW = _number(P.Uint128, "low")


def canonical_bytes(value: int, bitwidth: int, what: str) -> bytes:
    """What controller.p4_schema.encode_int returns (tests/bench checks it), faster:
    the shortest big-endian string, one zero byte for 0."""
    if value < 0 or value >> bitwidth:
        raise SchemaError(f"{what}: {value} does not fit in {bitwidth} bits")
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


class _TableLayout:
    """Per-table pieces of an entry that do not depend on the values."""

    def __init__(self, schema: P4Schema, table: str) -> None:
        ts = schema.table(table)
        self.table = ts
        self.head = _varint_field(TE_TABLE_ID, ts.id)
        mt = p4info_pb2.MatchField
        self.fields = []
        for f in ts.fields:
            if f.match_type not in (mt.EXACT, mt.LPM):
                raise SchemaError(f"{ts.name}.{f.name}: match type {f.match_type} is not "
                                  "encoded here")
            self.fields.append((f.match_type == mt.LPM, _varint_field(FM_FIELD_ID, f.id),
                                f.bitwidth, f"{ts.name}.{f.name}"))


class EntryEncoder:
    """Serialized ``Update`` messages for the entries of one P4Info."""

    def __init__(self, schema: P4Schema) -> None:
        self.schema = schema
        self._tables: dict[str, _TableLayout] = {}
        self._actions: dict[tuple[str, str], tuple[bytes, list[tuple[bytes, int, str]]]] = {}

    def _layout(self, table: str) -> _TableLayout:
        layout = self._tables.get(table)
        if layout is None:
            layout = self._tables[table] = _TableLayout(self.schema, table)
        return layout

    def _action(self, layout: _TableLayout, name: str) -> tuple[bytes, list]:
        found = self._actions.get((layout.table.name, name))
        if found is None:
            acs = self.schema.action(name)
            if acs.id not in layout.table.action_ids:
                raise SchemaError(f"table {layout.table.name} has no action {acs.name}")
            params = [(_varint_field(PARAM_ID, p.id), p.bitwidth, f"{acs.name}.{p.name}")
                      for p in acs.params]
            found = self._actions[(layout.table.name, name)] = (
                _varint_field(ACTION_ID, acs.id), params)
        return found

    def table_entry(self, entry: DecodedEntry, idle_timeout_ns: int = 0,
                    key_only: bool = False) -> bytes:
        layout = self._layout(entry.table)
        if len(entry.key) != len(layout.fields):
            raise SchemaError(f"{layout.table.name}: {len(entry.key)} key values for "
                              f"{len(layout.fields)} match fields")
        out = [layout.head]
        for (is_lpm, field_id, bitwidth, what), value in zip(layout.fields, entry.key,
                                                             strict=True):
            if is_lpm:
                v, plen = value
                if plen == 0:
                    continue  # a /0 is expressed by omitting the field
                lpm = (_bytes_field(LPM_VALUE, canonical_bytes(v, bitwidth, what))
                       + _varint_field(LPM_PREFIX_LEN, plen))
                out.append(_bytes_field(TE_MATCH, field_id + _bytes_field(FM_LPM, lpm)))
            else:
                match = _bytes_field(EXACT_VALUE, canonical_bytes(value, bitwidth, what))
                out.append(_bytes_field(TE_MATCH, field_id + _bytes_field(FM_EXACT, match)))
        if not key_only:
            action_id, params = self._action(layout, entry.action)
            if len(entry.params) != len(params):
                raise SchemaError(f"{entry.action}: {len(entry.params)} params for "
                                  f"{len(params)}")
            action = [action_id]
            for (param_id, bitwidth, what), v in zip(params, entry.params, strict=True):
                action.append(_bytes_field(
                    ACTION_PARAMS, param_id + _bytes_field(PARAM_VALUE,
                                                           canonical_bytes(v, bitwidth, what))))
            out.append(_bytes_field(TE_ACTION, _bytes_field(TA_ACTION, b"".join(action))))
        if entry.priority:
            out.append(_varint_field(TE_PRIORITY, entry.priority))
        if idle_timeout_ns and not key_only:
            out.append(_varint_field(TE_IDLE_TIMEOUT, idle_timeout_ns))
        return b"".join(out)

    def update(self, kind: int, entry: DecodedEntry, idle_timeout_ns: int = 0) -> bytes:
        """One serialized Update (INSERT / MODIFY / DELETE; DELETE carries the key only)."""
        te = self.table_entry(entry, idle_timeout_ns, key_only=kind == P.Update.DELETE)
        return _varint_field(UPDATE_TYPE, kind) + _bytes_field(
            UPDATE_ENTITY, _bytes_field(ENTITY_TABLE_ENTRY, te))


def write_requests(updates: list[bytes], election_id: int, device_id: int = 0,
                   batch: int = 2000) -> list[bytes]:
    """Serialized WriteRequests of at most `batch` updates each."""
    election = _varint_field(U128_HIGH, election_id >> 64) + _varint_field(
        U128_LOW, election_id & ((1 << 64) - 1))
    head = _varint_field(WR_DEVICE_ID, device_id) + _bytes_field(WR_ELECTION_ID, election)
    return [
        head + b"".join(_bytes_field(WR_UPDATES, u) for u in updates[i : i + batch])
        for i in range(0, len(updates), batch)
    ]


class RawWriter:
    """Sends pre-serialized WriteRequests; the election id must be the primary's."""

    def __init__(self, grpc_addr: str) -> None:
        self.channel = grpc.insecure_channel(grpc_addr)
        # No serializers: the request is sent as the bytes given.
        self._write = self.channel.unary_unary("/p4.v1.P4Runtime/Write")

    def write(self, requests: list[bytes], timeout: float = 120.0) -> None:
        for request in requests:
            self._write(request, timeout=timeout)

    def close(self) -> None:
        self.channel.close()
