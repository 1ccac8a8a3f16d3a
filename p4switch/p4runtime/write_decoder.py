"""A fast decoder for WriteRequest, the one request that carries thousands of entries.

The protobuf runtime that p4runtime-shell pins (3.20, pure Python) takes about
140 us to parse one table-entry update: more than everything else the server
does with it. This module reads the wire format directly and builds small
objects with the attribute names of the generated classes (``entry.table_id``,
``fm.exact.value``, ``entry.HasField("action")``...), so the rest of the server
cannot tell them apart.

Only the common shape of a TableEntry is decoded here: table id, match fields,
a direct action or member / group id, priority, metadata, default flag and
idle timeout. Anything else in an entity (other entity kinds, counter data,
meter configs, one-shot action sets, a singular field given twice, groups)
falls back to the protobuf runtime for that entity, so the result always
equals what ``WriteRequest.FromString`` would give.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError

from p4switch.p4runtime.proto import p4runtime_pb2

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


class _Fallback(Exception):
    """This entity needs the protobuf runtime."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


def _long_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """``_varint`` for a varint of two bytes or more, with the four-byte case
    (every P4Info id: 0xNNxxxxxx) unrolled; ``end``: where the message ends."""
    if pos + 3 < end and data[pos + 3] < 0x80 <= data[pos] & data[pos + 1] & data[pos + 2]:
        return ((data[pos] & 0x7F) | (data[pos + 1] & 0x7F) << 7
                | (data[pos + 2] & 0x7F) << 14 | data[pos + 3] << 21), pos + 4
    return _varint(data, pos)


def _skip(data: bytes, pos: int, wire_type: int) -> int:
    if wire_type == 0:
        return _varint(data, pos)[1]
    if wire_type == 1:
        pos += 8
    elif wire_type == 2:
        length, pos = _varint(data, pos)
        pos += length
    elif wire_type == 5:
        pos += 4
    else:
        raise _Fallback()  # groups
    if pos > len(data):
        raise DecodeError("truncated field")
    return pos


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) triples; value is an int or a bytes slice."""
    out = []
    pos = 0
    end = len(data)
    while pos < end:
        key = data[pos]
        if key < 0x80:  # one-byte keys: every field this module decodes
            pos += 1
        else:
            key, pos = _varint(data, pos)
        wire_type = key & 7
        if wire_type == 0:
            value = data[pos] if pos < end else 0x80
            if value < 0x80:
                pos += 1
            else:
                value, pos = _varint(data, pos)
        elif wire_type == 2:
            length = data[pos] if pos < end else 0x80
            if length < 0x80:
                pos += 1
            else:
                length, pos = _varint(data, pos)
            value = data[pos:pos + length]
            pos += length
            if pos > end:
                raise DecodeError("truncated length-delimited field")
        else:
            pos = _skip(data, pos, wire_type)
            continue
        if key < 8:
            raise DecodeError("field number 0")
        out.append((key >> 3, wire_type, value))
    return out


def _int32(value: int) -> int:
    value &= _MASK32
    return value - (1 << 32) if value >> 31 else value


def _int64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


class _Value:
    """FieldMatch.Exact / .Optional."""

    __slots__ = ("value",)

    def __init__(self, value: bytes = b"") -> None:
        self.value = value


class _Ternary:
    __slots__ = ("value", "mask")

    def __init__(self) -> None:
        self.value = b""
        self.mask = b""


class _Lpm:
    __slots__ = ("value", "prefix_len")

    def __init__(self) -> None:
        self.value = b""
        self.prefix_len = 0


class _Range:
    __slots__ = ("low", "high")

    def __init__(self) -> None:
        self.low = b""
        self.high = b""


class FieldMatch:
    __slots__ = ("field_id", "kind", "exact", "ternary", "lpm", "range", "optional")

    def WhichOneof(self, name: str) -> str | None:  # noqa: N802 (protobuf API)
        return self.kind


class Param:
    __slots__ = ("param_id", "value")

    def __init__(self, param_id: int, value: bytes) -> None:
        self.param_id = param_id
        self.value = value


class Action:
    __slots__ = ("action_id", "params")

    def __init__(self) -> None:
        self.action_id = 0
        self.params: list[Param] = []


class TableAction:
    __slots__ = ("kind", "action", "action_profile_member_id", "action_profile_group_id")

    def __init__(self) -> None:
        self.kind: str | None = None
        self.action = Action()
        self.action_profile_member_id = 0
        self.action_profile_group_id = 0

    def WhichOneof(self, name: str) -> str | None:  # noqa: N802
        return self.kind


class TableEntry:
    __slots__ = ("table_id", "match", "action", "priority", "controller_metadata",
                 "is_default_action", "idle_timeout_ns", "metadata", "is_const", "_has_action")

    def __init__(self) -> None:
        self.table_id = 0
        self.match: list[FieldMatch] = []
        self.action = TableAction()
        self.priority = 0
        self.controller_metadata = 0
        self.is_default_action = False
        self.idle_timeout_ns = 0
        self.metadata = b""
        self.is_const = False
        self._has_action = False

    def HasField(self, name: str) -> bool:  # noqa: N802
        # The decoder falls back for every message field except "action".
        return self._has_action if name == "action" else False


class Entity:
    __slots__ = ("table_entry",)

    def __init__(self, table_entry: TableEntry) -> None:
        self.table_entry = table_entry

    def WhichOneof(self, name: str) -> str:  # noqa: N802
        return "table_entry"


class Update:
    __slots__ = ("type", "entity")

    def __init__(self, update_type: int, entity: Any) -> None:
        self.type = update_type
        self.entity = entity


class WriteRequest:
    __slots__ = ("device_id", "role_id", "role", "election_id", "updates", "atomicity")

    def __init__(self) -> None:
        self.device_id = 0
        self.role_id = 0
        self.role = ""
        self.election_id: p4runtime_pb2.Uint128 | None = None
        self.updates: list[Update] = []
        self.atomicity = 0

    def HasField(self, name: str) -> bool:  # noqa: N802
        if name != "election_id":
            raise ValueError(f"WriteRequest has no message field {name!r}")
        return self.election_id is not None


_MATCH_KINDS = {2: "exact", 3: "ternary", 4: "lpm", 6: "range", 7: "optional"}


def _field_match(data: bytes) -> FieldMatch:
    # The usual exact match, byte for byte: field_id (one byte), exact { value }.
    n = len(data)
    if (n >= 6 and data[0] == 0x08 and data[1] < 0x80 and data[2] == 0x12
            and data[3] == n - 4 and data[4] == 0x0A and data[5] == n - 6):
        fm = FieldMatch()
        fm.field_id = data[1]
        fm.kind = "exact"
        holder = _Value()
        holder.value = data[6:]
        fm.exact = holder
        return fm
    fm = FieldMatch()
    fm.field_id = 0
    fm.kind = None
    for number, wire_type, value in _fields(data):
        if number == 1 and wire_type == 0:
            fm.field_id = value & _MASK32
        elif number in _MATCH_KINDS and wire_type == 2:
            if fm.kind is not None:
                raise _Fallback()  # oneof given twice: protobuf merges / replaces
            kind = _MATCH_KINDS[number]
            fm.kind = kind
            if kind in ("exact", "optional"):
                holder = _Value()
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        holder.value = v
                    else:
                        raise _Fallback()
            elif kind == "ternary":
                holder = _Ternary()
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        holder.value = v
                    elif n == 2 and w == 2:
                        holder.mask = v
                    else:
                        raise _Fallback()
            elif kind == "lpm":
                holder = _Lpm()
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        holder.value = v
                    elif n == 2 and w == 0:
                        holder.prefix_len = _int32(v)
                    else:
                        raise _Fallback()
            else:
                holder = _Range()
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        holder.low = v
                    elif n == 2 and w == 2:
                        holder.high = v
                    else:
                        raise _Fallback()
            setattr(fm, kind, holder)
        else:
            raise _Fallback()
    if fm.kind is None:
        raise _Fallback()
    return fm


def _table_action(data: bytes, out: TableAction) -> None:
    for number, wire_type, value in _fields(data):
        if out.kind is not None:
            raise _Fallback()
        if number == 1 and wire_type == 2:
            out.kind = "action"
            action = out.action
            for n, w, v in _fields(value):
                if n == 1 and w == 0:
                    action.action_id = v & _MASK32
                elif n == 4 and w == 2:
                    # the usual param, byte for byte: param_id (one byte), value
                    if (len(v) >= 4 and v[0] == 0x10 and v[1] < 0x80 and v[2] == 0x1A
                            and v[3] == len(v) - 4):
                        action.params.append(Param(v[1], v[4:]))
                        continue
                    param_id = 0
                    param_value = b""
                    for pn, pw, pv in _fields(v):
                        if pn == 2 and pw == 0:
                            param_id = pv & _MASK32
                        elif pn == 3 and pw == 2:
                            param_value = pv
                        else:
                            raise _Fallback()
                    action.params.append(Param(param_id, param_value))
                else:
                    raise _Fallback()
        elif number == 2 and wire_type == 0:
            out.kind = "action_profile_member_id"
            out.action_profile_member_id = value & _MASK32
        elif number == 3 and wire_type == 0:
            out.kind = "action_profile_group_id"
            out.action_profile_group_id = value & _MASK32
        else:
            raise _Fallback()


def _table_entry(data: bytes) -> TableEntry:
    entry = _usual_table_entry(data)
    return entry if entry is not None else _any_table_entry(data)


# The one-byte field keys of the TableEntry fields _usual_table_entry reads.
_TE_TABLE_ID, _TE_MATCH, _TE_ACTION, _TE_PRIORITY = 0x08, 0x12, 0x1A, 0x20
_TE_CONTROLLER_METADATA, _TE_DEFAULT, _TE_IDLE_TIMEOUT = 0x28, 0x40, 0x48
_TE_METADATA, _TE_CONST = 0x5A, 0x68


def _usual_table_entry(data: bytes) -> TableEntry | None:
    """The TableEntry, read in one pass, when it has the usual shape; else None.

    A write of thousands of entries spends most of its decoding here, so this
    walks the bytes inline instead of through ``_fields``. It gives up (None) on
    anything out of the ordinary, including malformed bytes, and
    ``_any_table_entry`` then decides, errors included: the result never
    depends on which path read the entry.
    """
    entry = TableEntry()
    pos = 0
    end = len(data)
    try:
        while pos < end:
            key = data[pos]
            value = data[pos + 1] if pos + 1 < end else 0x80
            if value < 0x80:
                pos += 2
            else:
                value, pos = _long_varint(data, pos + 1, end)
            if key == _TE_MATCH or key == _TE_ACTION or key == _TE_METADATA:
                start = pos
                pos += value
                if pos > end:
                    return None
                if key == _TE_MATCH:
                    if (value >= 6 and data[start] == 0x08 and data[start + 1] < 0x80
                            and data[start + 2] == 0x12 and data[start + 3] == value - 4
                            and data[start + 4] == 0x0A and data[start + 5] == value - 6):
                        # _field_match's usual exact match, inline
                        fm = FieldMatch()
                        fm.field_id = data[start + 1]
                        fm.kind = "exact"
                        fm.exact = _Value(data[start + 6:pos])
                        entry.match.append(fm)
                    else:
                        entry.match.append(_field_match(data[start:pos]))
                elif key == _TE_ACTION:
                    if entry._has_action:
                        return None
                    entry._has_action = True
                    if not _usual_table_action(data, start, pos, entry.action):
                        return None
                else:
                    entry.metadata = data[start:pos]
            elif key == _TE_TABLE_ID:
                entry.table_id = value & _MASK32
            elif key == _TE_PRIORITY:
                entry.priority = _int32(value)
            elif key == _TE_CONTROLLER_METADATA:
                entry.controller_metadata = value & _MASK64
            elif key == _TE_DEFAULT:
                entry.is_default_action = value != 0
            elif key == _TE_IDLE_TIMEOUT:
                entry.idle_timeout_ns = _int64(value)
            elif key == _TE_CONST:
                entry.is_const = value != 0
            else:
                return None
    except (_Fallback, DecodeError):
        return None
    return entry


def _usual_table_action(data: bytes, pos: int, end: int, out: TableAction) -> bool:
    """Reads a TableAction holding a direct action whose fields all have one-byte
    keys and lengths (data[pos:end]); False when it is anything else."""
    if end - pos < 2 or data[pos] != 0x0A or data[pos + 1] != end - pos - 2:
        return False
    pos += 2
    action = out.action
    params = action.params
    while pos < end:
        key = data[pos]
        if key == 0x08:  # action_id
            value = data[pos + 1] if pos + 1 < end else 0x80
            if value < 0x80:
                pos += 2
            else:
                value, pos = _long_varint(data, pos + 1, end)
            action.action_id = value & _MASK32
        elif key == 0x22 and pos + 6 <= end:  # param: param_id (one byte), value
            length = data[pos + 1]
            if (length >= 0x80 or data[pos + 2] != 0x10 or data[pos + 3] >= 0x80
                    or data[pos + 4] != 0x1A
                    or data[pos + 5] != length - 4 or pos + 2 + length > end):
                return False
            params.append(Param(data[pos + 3], data[pos + 6:pos + 2 + length]))
            pos += 2 + length
        else:
            return False
    if pos != end:
        return False
    out.kind = "action"
    return True


def _any_table_entry(data: bytes) -> TableEntry:
    entry = TableEntry()
    for number, wire_type, value in _fields(data):
        if number == 1 and wire_type == 0:
            entry.table_id = value & _MASK32
        elif number == 2 and wire_type == 2:
            entry.match.append(_field_match(value))
        elif number == 3 and wire_type == 2:
            if entry._has_action:
                raise _Fallback()
            entry._has_action = True
            _table_action(value, entry.action)
        elif number == 4 and wire_type == 0:
            entry.priority = _int32(value)
        elif number == 5 and wire_type == 0:
            entry.controller_metadata = value & _MASK64
        elif number == 8 and wire_type == 0:
            entry.is_default_action = value != 0
        elif number == 9 and wire_type == 0:
            entry.idle_timeout_ns = _int64(value)
        elif number == 11 and wire_type == 2:
            entry.metadata = value
        elif number == 13 and wire_type == 0:
            entry.is_const = value != 0
        else:
            raise _Fallback()
    return entry


def _entity(data: bytes) -> Any:
    fields = list(_fields(data))
    if len(fields) == 1 and fields[0][0] == 2 and fields[0][1] == 2:
        try:
            return Entity(_table_entry(fields[0][2]))
        except _Fallback:
            pass
    return p4runtime_pb2.Entity.FromString(data)


def decode_entity(data: bytes) -> Any:
    """Decode a serialized Entity (a table entry read back, to be written again)."""
    return _entity(data)


def decode_write_request(data: bytes) -> Any:
    """Decode a serialized WriteRequest; raises DecodeError on malformed bytes."""
    try:
        return _write_request(data)
    except _Fallback:
        return p4runtime_pb2.WriteRequest.FromString(data)
    except UnicodeDecodeError as e:
        raise DecodeError(f"invalid UTF-8: {e}") from None


def _write_request(data: bytes) -> WriteRequest:
    request = WriteRequest()
    for number, wire_type, value in _fields(data):
        if number == 1 and wire_type == 0:
            request.device_id = value & _MASK64
        elif number == 2 and wire_type == 0:
            request.role_id = value & _MASK64
        elif number == 6 and wire_type == 2:
            request.role = value.decode("utf-8")
        elif number == 3 and wire_type == 2:
            election = p4runtime_pb2.Uint128.FromString(value)
            if request.election_id is not None:
                request.election_id.MergeFrom(election)
            else:
                request.election_id = election
        elif number == 4 and wire_type == 2:
            update = _usual_update(value)
            request.updates.append(update if update is not None else _any_update(value))
        elif number == 5 and wire_type == 0:
            request.atomicity = _int32(value)
    return request


def _any_update(data: bytes) -> Update:
    update_type = 0
    entity = None
    entity_bytes = b""
    for n, w, v in _fields(data):
        if n == 1 and w == 0:
            update_type = _int32(v)
        elif n == 2 and w == 2:
            entity_bytes += v  # a message given twice is merged: concatenate
            entity = True
    return Update(update_type, _entity(entity_bytes) if entity else p4runtime_pb2.Entity())


def _usual_update(data: bytes) -> Update | None:
    """The Update when it is exactly a one-byte type and an entity holding one
    table entry (what every controller sends); else None, for ``_any_update``."""
    n = len(data)
    if n < 6 or data[0] != 0x08 or data[1] >= 0x80 or data[2] != 0x12:
        return None
    entity_pos = 4
    entry_pos = 6
    if data[3] >= 0x80 or data[5] >= 0x80:  # lengths past 127 bytes
        try:
            entity_len, entity_pos = _varint(data, 3)
            if entity_pos + entity_len != n or entity_pos >= n or data[entity_pos] != 0x12:
                return None
            entry_len, entry_pos = _varint(data, entity_pos + 1)
        except DecodeError:
            return None
        if entry_pos + entry_len != n:
            return None
    elif data[3] != n - 4 or data[4] != 0x12 or data[5] != n - 6:
        return None
    try:
        entity = Entity(_table_entry(data[entry_pos:]))
    except _Fallback:
        entity = p4runtime_pb2.Entity.FromString(data[entity_pos:])
    return Update(data[1], entity)
