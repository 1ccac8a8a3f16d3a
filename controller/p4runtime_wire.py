"""The P4Runtime messages the controller sends and receives most, as wire bytes.

Table entries (written and read back), WriteRequests, digest lists and
idle-timeout notifications are encoded and decoded here directly in the
protobuf wire format instead of through protobuf message objects. Why: the
protobuf that p4runtime-shell pins (<3.21) has no compiled extension for
this Python, and its pure-Python messages cost ~700 us to build and
serialize one flow entry and ~470 us to parse one read back (measured with
lb.p4's flow4; 13 us and ~15 us here). That made flow learning, ageing and
a controller restart with 100k entries minutes of CPU.

Everything rarer (arbitration, pipeline config, counters, digest config)
still uses the generated messages. Field numbers are read from the
generated descriptors, so a renumbered proto fails loudly at import, and
tests/controller/test_p4runtime_wire.py checks every encoder and decoder
against protobuf itself. Malformed bytes raise WireError, never IndexError.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from controller.p4_schema import DecodedEntry, MatchValue, P4Schema, SchemaError
from controller.p4runtime_proto import p4data_pb2, p4info_pb2, p4runtime_pb2

P = p4runtime_pb2
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not the protobuf message they were said to be."""


def _number(message, name: str) -> int:
    return message.DESCRIPTOR.fields_by_name[name].number


# --- encoding -------------------------------------------------------------------

_SMALL = tuple(bytes((n,)) for n in range(0x80))


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | _LEN) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    """A varint field; proto3 leaves a zero out."""
    return _varint((number << 3) | _VARINT) + _varint(value) if value else b""


def canonical_bytes(value: int, bitwidth: int, what: str) -> bytes:
    """A P4Runtime bytestring: the shortest big-endian form, one zero byte for 0."""
    if value < 0 or value >> bitwidth:
        raise SchemaError(f"{what}: {value} does not fit in {bitwidth} bits")
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


TE_TABLE_ID = _number(P.TableEntry, "table_id")
TE_MATCH = _number(P.TableEntry, "match")
TE_ACTION = _number(P.TableEntry, "action")
TE_PRIORITY = _number(P.TableEntry, "priority")
TE_IDLE_TIMEOUT = _number(P.TableEntry, "idle_timeout_ns")
FM_FIELD_ID = _number(P.FieldMatch, "field_id")
FM_EXACT = _number(P.FieldMatch, "exact")
FM_LPM = _number(P.FieldMatch, "lpm")
FM_TERNARY = _number(P.FieldMatch, "ternary")
EXACT_VALUE = _number(P.FieldMatch.Exact, "value")
LPM_VALUE = _number(P.FieldMatch.LPM, "value")
LPM_PREFIX_LEN = _number(P.FieldMatch.LPM, "prefix_len")
TERNARY_VALUE = _number(P.FieldMatch.Ternary, "value")
TERNARY_MASK = _number(P.FieldMatch.Ternary, "mask")
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
RR_ENTITIES = _number(P.ReadResponse, "entities")
SM_ARBITRATION = _number(P.StreamMessageResponse, "arbitration")
SM_DIGEST = _number(P.StreamMessageResponse, "digest")
SM_IDLE = _number(P.StreamMessageResponse, "idle_timeout_notification")
DL_DIGEST_ID = _number(P.DigestList, "digest_id")
DL_LIST_ID = _number(P.DigestList, "list_id")
DL_DATA = _number(P.DigestList, "data")
DATA_BITSTRING = _number(p4data_pb2.P4Data, "bitstring")
DATA_STRUCT = _number(p4data_pb2.P4Data, "struct")
STRUCT_MEMBERS = _number(p4data_pb2.P4StructLike, "members")
IDLE_TABLE_ENTRY = _number(P.IdleTimeoutNotification, "table_entry")

_MT = p4info_pb2.MatchField
_EXACT_VALUE_TAG = (EXACT_VALUE << 3) | _LEN
_FIELD_ID_TAG = (FM_FIELD_ID << 3) | _VARINT
_MATCH_KIND_TAGS = {(kind << 3) | _LEN: kind for kind in (FM_EXACT, FM_LPM, FM_TERNARY)}
_MATCH_KINDS = {_MT.EXACT: FM_EXACT, _MT.LPM: FM_LPM, _MT.TERNARY: FM_TERNARY}


# --- decoding -------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("message ends inside a varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of each field: an int for a varint, bytes for a
    length-delimited field; fixed-width fields are skipped (none are used).

    A list, not a generator, and one-byte keys and lengths read inline: this
    runs ~40 times per flow entry read back, and those are most of them."""
    out: list[tuple[int, int | bytes]] = []
    pos, end = 0, len(buf)
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == _LEN:
            if pos < end and buf[pos] < 0x80:
                size = buf[pos]
                pos += 1
            else:
                size, pos = _read_varint(buf, pos)
            if pos + size > end:
                raise WireError(f"field {number} runs past the end of the message")
            out.append((number, buf[pos : pos + size]))
            pos += size
        elif wire_type == _VARINT:
            value, pos = _read_varint(buf, pos)
            out.append((number, value))
        elif wire_type == _I64:
            pos += 8
        elif wire_type == _I32:
            pos += 4
        else:
            raise WireError(f"field {number} has wire type {wire_type}")
        if pos > end:
            raise WireError(f"field {number} runs past the end of the message")
    return out


def _message(value: int | bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise WireError(f"{what} is a varint, expected a message")
    return value


def _scalar(value: int | bytes, what: str) -> int:
    if not isinstance(value, int):
        raise WireError(f"{what} is length-delimited, expected a varint")
    return value


# --- table entries ---------------------------------------------------------------


class EntryCodec:
    """Table entries of one P4Info to and from TableEntry / Update wire bytes."""

    def __init__(self, schema: P4Schema) -> None:
        self.schema = schema
        # Per-table and per-action pieces that do not depend on the values.
        self._tables: dict[str, tuple[bytes, list[tuple[int, bytes, int, str]]]] = {}
        self._actions: dict[tuple[str, str], tuple[bytes, list[tuple[bytes, int, str]]]] = {}

    def _table(self, name: str) -> tuple[bytes, list[tuple[int, bytes, int, str]]]:
        layout = self._tables.get(name)
        if layout is None:
            ts = self.schema.table(name)
            match = []
            for f in ts.fields:
                if f.match_type not in _MATCH_KINDS:
                    raise SchemaError(f"{ts.name}.{f.name}: match type {f.match_type} "
                                      "is not used by p4lb")
                match.append((f.match_type, _int_field(FM_FIELD_ID, f.id), f.bitwidth,
                              f"{ts.name}.{f.name}"))
            layout = self._tables[name] = (_int_field(TE_TABLE_ID, ts.id), match)
        return layout

    def _action(self, table: str, name: str) -> tuple[bytes, list[tuple[bytes, int, str]]]:
        found = self._actions.get((table, name))
        if found is None:
            ts, acs = self.schema.table(table), self.schema.action(name)
            if acs.id not in ts.action_ids:
                raise SchemaError(f"table {ts.name} has no action {acs.name}")
            params = [(_int_field(PARAM_ID, p.id), p.bitwidth, f"{acs.name}.{p.name}")
                      for p in acs.params]
            found = self._actions[(table, name)] = (_int_field(ACTION_ID, acs.id), params)
        return found

    def table_entry(self, entry: DecodedEntry, idle_timeout_ns: int = 0,
                    key_only: bool = False) -> bytes:
        """A serialized TableEntry; `key_only` leaves the action out (what a DELETE needs)."""
        head, match = self._table(entry.table)
        if len(entry.key) != len(match):
            raise SchemaError(f"{entry.table}: {len(entry.key)} key values for "
                              f"{len(match)} match fields")
        out = [head]
        for (kind, field_id, bitwidth, what), value in zip(match, entry.key, strict=True):
            if kind == _MT.EXACT:
                body = _len_field(EXACT_VALUE, canonical_bytes(value, bitwidth, what))
            elif kind == _MT.LPM:
                v, plen = value  # type: ignore[misc]
                if plen == 0:
                    continue  # a /0 is expressed by omitting the field (P4Runtime spec)
                body = (_len_field(LPM_VALUE, canonical_bytes(v, bitwidth, what))
                        + _int_field(LPM_PREFIX_LEN, plen))
            else:
                v, mask = value  # type: ignore[misc]
                if mask == 0:
                    continue
                body = (_len_field(TERNARY_VALUE, canonical_bytes(v, bitwidth, what))
                        + _len_field(TERNARY_MASK, canonical_bytes(mask, bitwidth, what)))
            out.append(_len_field(TE_MATCH, field_id + _len_field(_MATCH_KINDS[kind], body)))
        if not key_only:
            action_id, params = self._action(entry.table, entry.action)
            if len(entry.params) != len(params):
                raise SchemaError(f"{entry.action}: {len(entry.params)} params for "
                                  f"{len(params)}")
            action = [action_id]
            for (param_id, bitwidth, what), v in zip(params, entry.params, strict=True):
                action.append(_len_field(ACTION_PARAMS, param_id + _len_field(
                    PARAM_VALUE, canonical_bytes(v, bitwidth, what))))
            out.append(_len_field(TE_ACTION, _len_field(TA_ACTION, b"".join(action))))
        out.append(_int_field(TE_PRIORITY, entry.priority))
        if not key_only:
            out.append(_int_field(TE_IDLE_TIMEOUT, idle_timeout_ns))
        return b"".join(out)

    def update(self, kind: int, entry: DecodedEntry, idle_timeout_ns: int = 0) -> bytes:
        """A serialized Update (INSERT / MODIFY / DELETE; a DELETE carries the key only)."""
        te = self.table_entry(entry, idle_timeout_ns, key_only=kind == P.Update.DELETE)
        return table_entry_update(kind, te)

    def decode(self, te: bytes) -> DecodedEntry:
        """A serialized TableEntry in controller terms (a key-only entry has action '')."""
        table_id = priority = 0
        matches: dict[int, tuple[int, bytes]] = {}
        action = None
        for number, value in fields(te):
            if number == TE_TABLE_ID:
                table_id = _scalar(value, "table_id")
            elif number == TE_MATCH:
                field_id, kind, body = _field_match(_message(value, "match"))
                matches[field_id] = (kind, body)
            elif number == TE_ACTION:
                for n, v in fields(_message(value, "action")):
                    if n == TA_ACTION:
                        action = _message(v, "action.action")
            elif number == TE_PRIORITY:
                priority = _scalar(value, "priority")
        try:
            ts = self.schema.table_by_id(table_id)
        except KeyError:
            raise WireError(f"table entry of unknown table id {table_id}") from None
        key: list[MatchValue] = []
        for f in ts.fields:
            got = matches.get(f.id)
            if got is None:
                key.append(0 if f.match_type == _MT.EXACT else (0, 0))
                continue
            kind, body = got
            if kind != _MATCH_KINDS.get(f.match_type):
                raise WireError(f"{ts.name}.{f.name}: match of kind {kind}, "
                                f"expected {_MATCH_KINDS.get(f.match_type)}")
            if kind == FM_EXACT and len(body) >= 2 and body[0] == _EXACT_VALUE_TAG \
                    and body[1] == len(body) - 2:
                key.append(int.from_bytes(body[2:], "big"))  # the usual one-field Exact
                continue
            a = b = 0
            for n, v in fields(body):
                if n == 1:
                    a = int.from_bytes(_message(v, f.name), "big")
                elif n == 2:
                    b = int.from_bytes(v, "big") if isinstance(v, bytes) else v
            key.append(a if kind == FM_EXACT else (a, b))
        if action is None:
            # Idle-timeout notifications and DELETE echoes carry the key only.
            return DecodedEntry(ts.name, tuple(key), "", (), priority)
        action_id = 0
        values: dict[int, int] = {}
        for n, v in fields(action):
            if n == ACTION_ID:
                action_id = _scalar(v, "action_id")
            elif n == ACTION_PARAMS:
                param_id, pv = 0, b""
                for pn, x in fields(_message(v, "param")):
                    if pn == PARAM_ID:
                        param_id = _scalar(x, "param_id")
                    elif pn == PARAM_VALUE:
                        pv = _message(x, "param value")
                values[param_id] = int.from_bytes(pv, "big")
        try:
            acs = self.schema.action_by_id(action_id)
        except KeyError:
            raise WireError(f"table entry of {ts.name} with unknown action id {action_id}") \
                from None
        return DecodedEntry(ts.name, tuple(key), acs.name,
                            tuple(values.get(p.id, 0) for p in acs.params), priority)


def _field_match(buf: bytes) -> tuple[int, int, bytes]:
    if (len(buf) >= 4 and buf[0] == _FIELD_ID_TAG and buf[1] < 0x80
            and buf[2] in _MATCH_KIND_TAGS and buf[3] == len(buf) - 4):
        return buf[1], _MATCH_KIND_TAGS[buf[2]], buf[4:]  # the usual shape, in one step
    field_id, kind, body = 0, 0, b""
    for number, value in fields(buf):
        if number == FM_FIELD_ID:
            field_id = _scalar(value, "field_id")
        elif number in (FM_EXACT, FM_LPM, FM_TERNARY):
            kind, body = number, _message(value, "field match")
        else:
            raise WireError(f"field match of kind {number}, which p4lb does not use")
    return field_id, kind, body


def table_entry_update(kind: int, table_entry: bytes) -> bytes:
    """An Update of `kind` carrying an already serialized TableEntry."""
    return _int_field(UPDATE_TYPE, kind) + _len_field(
        UPDATE_ENTITY, _len_field(ENTITY_TABLE_ENTRY, table_entry))


def write_request(updates: list[bytes], election_id: int, device_id: int = 0) -> bytes:
    """A serialized WriteRequest of serialized Updates."""
    election = _int_field(U128_HIGH, election_id >> 64) + _int_field(
        U128_LOW, election_id & ((1 << 64) - 1))
    return (_int_field(WR_DEVICE_ID, device_id) + _len_field(WR_ELECTION_ID, election)
            + b"".join([_len_field(WR_UPDATES, u) for u in updates]))


def read_response_table_entries(data: bytes) -> list[bytes]:
    """The serialized TableEntries of a serialized ReadResponse."""
    out = []
    for number, value in fields(data):
        if number == RR_ENTITIES:
            for n, v in fields(_message(value, "entity")):
                if n == ENTITY_TABLE_ENTRY:
                    out.append(_message(v, "table_entry"))
    return out


# --- stream messages --------------------------------------------------------------


@dataclass(frozen=True)
class DigestBatch:
    """A DigestList whose data are structs of bitstrings (what v1model digests are)."""

    digest_id: int
    list_id: int
    structs: list[list[bytes]]


@dataclass(frozen=True)
class IdleTimeoutBatch:
    """An IdleTimeoutNotification: the serialized TableEntries that went idle."""

    table_entries: list[bytes]


@dataclass(frozen=True)
class MalformedStreamMessage:
    """Bytes on the stream that are no StreamMessageResponse p4lb can use."""

    reason: str
    size: int


StreamMessage = (
    DigestBatch | IdleTimeoutBatch | MalformedStreamMessage | p4runtime_pb2.StreamMessageResponse
)


def parse_stream_message(data: bytes) -> StreamMessage:
    """A StreamMessageResponse: digests and idle notifications by hand, the rest
    (arbitration, packets, errors) as the generated message. Never raises: gRPC
    would end the stream on an exception, and one bad message is no reason to."""
    try:
        top = fields(data)
        if len(top) == 1 and top[0][0] == SM_DIGEST:
            return _digest_batch(_message(top[0][1], "digest"))
        if len(top) == 1 and top[0][0] == SM_IDLE:
            entries = [_message(v, "table_entry")
                       for n, v in fields(_message(top[0][1], "notification"))
                       if n == IDLE_TABLE_ENTRY]
            return IdleTimeoutBatch(entries)
        return p4runtime_pb2.StreamMessageResponse.FromString(data)
    except (WireError, DecodeError) as e:
        return MalformedStreamMessage(str(e), len(data))


def _digest_batch(buf: bytes) -> DigestBatch:
    digest_id = list_id = 0
    structs: list[list[bytes]] = []
    for number, value in fields(buf):
        if number == DL_DIGEST_ID:
            digest_id = _scalar(value, "digest_id")
        elif number == DL_LIST_ID:
            list_id = _scalar(value, "list_id")
        elif number == DL_DATA:
            members: list[bytes] = []
            for n, v in fields(_message(value, "digest data")):
                if n != DATA_STRUCT:
                    raise WireError(f"digest data of kind {n}, expected a struct")
                for mn, member in fields(_message(v, "struct")):
                    if mn == STRUCT_MEMBERS:
                        for k, bits in fields(_message(member, "member")):
                            if k != DATA_BITSTRING:
                                raise WireError(f"struct member of kind {k}, expected bits")
                            members.append(_message(bits, "bitstring"))
            structs.append(members)
    return DigestBatch(digest_id, list_id, structs)
