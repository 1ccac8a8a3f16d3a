"""Table entries in controller terms <-> P4Runtime messages, and the stream's messages.

The controller writes entries as `DecodedEntry` (names and ints, p4_schema)
and reads them back the same way; `EntryCodec` turns one into the other with
the generated messages of the compiled (upb) protobuf runtime, with ids and
widths looked up once per table and action. Digest lists and idle-timeout
notifications reach the flow learner as `DigestBatch` / `IdleTimeoutBatch`.

Malformed input never raises past this module's `CodecError` (a ValueError):
a switch that sends an entry of an unknown table, a match of the wrong kind,
or bytes that are no StreamMessageResponse costs that message, not the
stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from controller.p4_schema import DecodedEntry, MatchValue, P4Schema, SchemaError
from controller.p4runtime_proto import p4info_pb2, p4runtime_pb2

P = p4runtime_pb2
_MT = p4info_pb2.MatchField
_KIND_NAMES = {_MT.EXACT: "exact", _MT.LPM: "lpm", _MT.TERNARY: "ternary"}
DELETE = P.Update.DELETE
_KIND_PIECES = {k: P.Update(type=k).SerializeToString()
                for k in (P.Update.INSERT, P.Update.MODIFY, P.Update.DELETE)}


class CodecError(ValueError):
    """A message that is not what p4lb wrote or can use."""


def canonical_bytes(value: int, bitwidth: int, what: str) -> bytes:
    """A P4Runtime bytestring: the shortest big-endian form, one zero byte for 0."""
    if value < 0 or value >> bitwidth:
        raise SchemaError(f"{what}: {value} does not fit in {bitwidth} bits")
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


# (match type, field id, bitwidth, "table.field") per match field of a table
_MatchLayout = list[tuple[int, int, int, str]]
# (param id, bitwidth, "action.param") per param of an action
_ParamLayout = list[tuple[int, int, str]]


def varint(n: int) -> bytes:
    """A protobuf varint (n >= 0): what frames the length of a nested message."""
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# Distinct values whose serialized piece update_bytes remembers, per match
# field: every VIP, AS, protocol and port of lb.p4. Fields with more values
# (buckets, a flow's client address and port) are past it and made each time.
# 1 << 16 cost the controller ~100 B per flow at 100k flows (make bench,
# controller memory per flow: 525 against 424 B) for ~10% faster installs of
# 10k flows at once (68k against 62k flows/s).
PIECE_MEMO = 1 << 12
TAIL_MEMO = 1 << 12
_UNBOUNDED = 1 << 62  # table_entry_bytes: its memos live for one call
_ENTITY_TABLE_ENTRY = b"\x12"  # Entity.table_entry: field 2, length-delimited
_UPDATE_ENTITY = b"\x12"  # Update.entity: field 2, length-delimited


class EntryCodec:
    """Table entries of one P4Info to and from TableEntry / Update messages."""

    def __init__(self, schema: P4Schema) -> None:
        self.schema = schema
        self._tables: dict[str, tuple[int, _MatchLayout]] = {}
        self._actions: dict[tuple[str, str], tuple[int, _ParamLayout]] = {}
        self._decoders: dict[int, tuple] = {}
        # update_bytes: per table, _entry_pieces' layout, kept across calls
        self._pieces: dict[str, tuple] = {}

    def _table(self, name: str) -> tuple[int, _MatchLayout]:
        layout = self._tables.get(name)
        if layout is None:
            ts = self.schema.table(name)
            match = []
            for f in ts.fields:
                if f.match_type not in _KIND_NAMES:
                    raise SchemaError(f"{ts.name}.{f.name}: match type {f.match_type} "
                                      "is not used by p4lb")
                match.append((f.match_type, f.id, f.bitwidth, f"{ts.name}.{f.name}"))
            layout = self._tables[name] = (ts.id, match)
        return layout

    def _action(self, table: str, name: str) -> tuple[int, _ParamLayout]:
        found = self._actions.get((table, name))
        if found is None:
            ts, acs = self.schema.table(table), self.schema.action(name)
            if acs.id not in ts.action_ids:
                raise SchemaError(f"table {ts.name} has no action {acs.name}")
            params = [(p.id, p.bitwidth, f"{acs.name}.{p.name}") for p in acs.params]
            found = self._actions[(table, name)] = (acs.id, params)
        return found

    def fill_table_entry(self, entry: DecodedEntry, te: P.TableEntry, idle_timeout_ns: int = 0,
                         key_only: bool = False) -> None:
        """Fills the empty TableEntry `te`; `key_only` leaves the action out (what a
        DELETE needs)."""
        table_id, match = self._table(entry.table)
        if len(entry.key) != len(match):
            raise SchemaError(f"{entry.table}: {len(entry.key)} key values for "
                              f"{len(match)} match fields")
        te.table_id = table_id
        add = te.match.add
        for (kind, field_id, bitwidth, what), value in zip(match, entry.key, strict=True):
            if kind == _MT.EXACT:
                fm = add()
                fm.field_id = field_id
                fm.exact.value = canonical_bytes(value, bitwidth, what)  # type: ignore[arg-type]
            elif kind == _MT.LPM:
                v, plen = value  # type: ignore[misc]
                if plen == 0:
                    continue  # a /0 is expressed by omitting the field (P4Runtime spec)
                fm = add()
                fm.field_id = field_id
                fm.lpm.value = canonical_bytes(v, bitwidth, what)
                fm.lpm.prefix_len = plen
            else:
                v, mask = value  # type: ignore[misc]
                if mask == 0:
                    continue
                fm = add()
                fm.field_id = field_id
                fm.ternary.value = canonical_bytes(v, bitwidth, what)
                fm.ternary.mask = canonical_bytes(mask, bitwidth, what)
        if not key_only:
            self._fill_action(entry, te, idle_timeout_ns)
        if entry.priority:
            te.priority = entry.priority

    def _fill_action(self, entry: DecodedEntry, te: P.TableEntry, idle_timeout_ns: int) -> None:
        action_id, params = self._action(entry.table, entry.action)
        if len(entry.params) != len(params):
            raise SchemaError(f"{entry.action}: {len(entry.params)} params for {len(params)}")
        action = te.action.action
        action.action_id = action_id
        add_param = action.params.add
        for (param_id, bitwidth, what), v in zip(params, entry.params, strict=True):
            param = add_param()
            param.param_id = param_id
            param.value = canonical_bytes(v, bitwidth, what)
        if idle_timeout_ns:
            te.idle_timeout_ns = idle_timeout_ns

    def table_entry(self, entry: DecodedEntry, idle_timeout_ns: int = 0,
                    key_only: bool = False) -> P.TableEntry:
        te = P.TableEntry()
        self.fill_table_entry(entry, te, idle_timeout_ns, key_only)
        return te

    def update(self, kind: int, entry: DecodedEntry, idle_timeout_ns: int = 0) -> P.Update:
        """An Update (INSERT / MODIFY / DELETE; a DELETE carries the key only)."""
        update = P.Update()
        update.type = kind
        self.fill_table_entry(entry, update.entity.table_entry, idle_timeout_ns,
                              key_only=kind == DELETE)
        return update

    def update_bytes(self, kind: int, entry: DecodedEntry, idle_timeout_ns: int = 0) -> bytes:
        """``update(kind, entry, idle_timeout_ns).SerializeToString()``, 2-4x faster
        (a maglev bucket here: 5.3 -> 2.7 us, 1.3 us when its values are remembered).

        The TableEntry's bytes are put together as table_entry_bytes puts them,
        from pieces protobuf serialized, remembered here across calls (at most
        PIECE_MEMO per field, TAIL_MEMO tails); only the two enclosing length
        prefixes (Entity, Update) are written here. The result is byte for byte
        what protobuf serializes (tests/controller/test_p4runtime_codec.py)."""
        layout = self._pieces.get(entry.table)
        if layout is None:
            layout = self._pieces[entry.table] = self._entry_pieces(entry.table)
        if len(entry.key) != len(layout[1]):
            return self.update(kind, entry, idle_timeout_ns).SerializeToString()
        te_bytes = self._entry_bytes(entry, layout, PIECE_MEMO, TAIL_MEMO, idle_timeout_ns,
                                     key_only=kind == DELETE)
        entity = _ENTITY_TABLE_ENTRY + varint(len(te_bytes)) + te_bytes
        kind_piece = _KIND_PIECES.get(kind)
        if kind_piece is None:
            kind_piece = P.Update(type=kind).SerializeToString()
        return kind_piece + _UPDATE_ENTITY + varint(len(entity)) + entity

    def _decoder(self, table_id: int):
        """(table, its field ids when every field is exact, else None), by table id."""
        found = self._decoders.get(table_id)
        if found is None:
            try:
                ts = self.schema.table_by_id(table_id)
            except KeyError:
                raise CodecError(f"table entry of unknown table id {table_id}") from None
            exact = all(f.match_type == _MT.EXACT for f in ts.fields)
            found = self._decoders[table_id] = (ts, [f.id for f in ts.fields] if exact else None)
        return found

    def decode(self, te: P.TableEntry) -> DecodedEntry:
        """A TableEntry in controller terms (a key-only entry has action '')."""
        ts, exact_ids = self._decoder(te.table_id)
        match = te.match
        values: list[MatchValue] = []
        if exact_ids is not None and len(match) == len(exact_ids):
            # What a switch answers for an all-exact table: every field, in order.
            for field_id, fm in zip(exact_ids, match, strict=True):
                if fm.field_id != field_id or fm.WhichOneof("field_match_type") != "exact":
                    values = []
                    break
                values.append(int.from_bytes(fm.exact.value, "big"))
        if len(values) != len(ts.fields):
            values = self._any_key(ts, match)
        priority = te.priority
        if not te.HasField("action"):
            # Idle-timeout notifications and DELETE echoes carry the key only.
            return DecodedEntry(ts.name, tuple(values), "", (), priority)
        if te.action.WhichOneof("type") != "action":
            raise CodecError(f"table entry of {ts.name} without a direct action")
        action = te.action.action
        try:
            acs = self.schema.action_by_id(action.action_id)
        except KeyError:
            raise CodecError(f"table entry of {ts.name} with unknown action id "
                             f"{action.action_id}") from None
        given = {p.param_id: int.from_bytes(p.value, "big") for p in action.params}
        return DecodedEntry(ts.name, tuple(values), acs.name,
                            tuple(given.get(p.id, 0) for p in acs.params), priority)

    @staticmethod
    def _any_key(ts, match) -> list[MatchValue]:
        by_id = {fm.field_id: fm for fm in match}
        out: list[MatchValue] = []
        for f in ts.fields:
            fm = by_id.get(f.id)
            if fm is None:  # omitted: "don't care" (or an exact field the switch left out)
                out.append(0 if f.match_type == _MT.EXACT else (0, 0))
                continue
            kind = fm.WhichOneof("field_match_type")
            if kind != _KIND_NAMES.get(f.match_type):
                raise CodecError(f"{ts.name}.{f.name}: match of kind {kind}, expected "
                                 f"{_KIND_NAMES.get(f.match_type)}")
            if kind == "exact":
                out.append(int.from_bytes(fm.exact.value, "big"))
            elif kind == "lpm":
                out.append((int.from_bytes(fm.lpm.value, "big"), fm.lpm.prefix_len))
            else:
                out.append((int.from_bytes(fm.ternary.value, "big"),
                            int.from_bytes(fm.ternary.mask, "big")))
        return out


    def table_entry_bytes(self, entries: Iterable[DecodedEntry]) -> dict[bytes, DecodedEntry]:
        """Each entry by the bytes of the TableEntry that writes it, serialized.

        For a read-back that mostly finds what it wants: a TableEntry the switch
        answers with exactly these bytes holds that entry, and costs a dict
        lookup instead of a decode (a fifth of a microsecond against seven on
        lb.p4's maglev table); any other answer is decoded as before.

        Building a TableEntry per entry would cost as much as decoding one, so
        the bytes are put together from serialized one-field TableEntries
        (table id, each match, the action, the priority), each made by
        protobuf once per distinct value: serialized messages concatenate to
        their merge, and with the fields in field-number order, as protobuf
        serializes them, to the very bytes of the whole entry
        (tests/controller/test_p4runtime_codec.py holds the two equal). The
        memos live for one call, so flows never pile up in them.
        """
        out: dict[bytes, DecodedEntry] = {}
        layouts: dict[str, tuple] = {}
        for e in entries:
            layout = layouts.get(e.table)
            if layout is None:
                layout = layouts[e.table] = self._entry_pieces(e.table)
            out[self._entry_bytes(e, layout, _UNBOUNDED, _UNBOUNDED)] = e
        return out

    def _entry_bytes(self, e: DecodedEntry, layout: tuple, piece_memo: int, tail_memo: int,
                     idle_timeout_ns: int = 0, key_only: bool = False) -> bytes:
        """The serialized TableEntry fill_table_entry makes of ``e``: the table's
        piece, one per match field, then the tail (action, priority, TTL), each
        taken from the layout's memos or made by protobuf and remembered there
        (up to ``piece_memo`` per field and ``tail_memo`` tails). Only int
        values are remembered: True and 1.0 hash as 1 does."""
        table_piece, fields, tails = layout
        parts = [table_piece]
        for (memo, kind, field_id, bitwidth, what), value in zip(fields, e.key, strict=True):
            remember = type(value) is int
            piece = memo.get(value) if remember else None
            if piece is None:
                piece = _match_piece(kind, field_id, bitwidth, what, value)
                if remember and len(memo) < piece_memo:
                    memo[value] = piece
            parts.append(piece)
        tail_key = ((None, (), e.priority, 0) if key_only
                    else (e.action, e.params, e.priority, idle_timeout_ns))
        remember = type(e.priority) is int
        for v in tail_key[1]:
            if type(v) is not int:
                remember = False
        tail = tails.get(tail_key) if remember else None
        if tail is None:
            te = P.TableEntry()
            if not key_only:
                self._fill_action(e, te, idle_timeout_ns)
            if e.priority:
                te.priority = e.priority
            tail = te.SerializeToString()
            if remember and len(tails) < tail_memo:
                tails[tail_key] = tail
        parts.append(tail)
        return b"".join(parts)

    def _entry_pieces(self, table: str) -> tuple:
        table_id, match = self._table(table)
        fields = [({}, kind, field_id, bitwidth, what) for kind, field_id, bitwidth, what in match]
        return P.TableEntry(table_id=table_id).SerializeToString(), fields, {}



def _match_piece(kind: int, field_id: int, bitwidth: int, what: str, value: MatchValue) -> bytes:
    """A TableEntry holding one match field of fill_table_entry's, serialized."""
    te = P.TableEntry()
    if kind == _MT.EXACT:
        exact = te.match.add(field_id=field_id).exact
        exact.value = canonical_bytes(value, bitwidth, what)  # type: ignore[arg-type]
    elif kind == _MT.LPM:
        v, plen = value  # type: ignore[misc]
        if plen:
            fm = te.match.add(field_id=field_id)
            fm.lpm.value = canonical_bytes(v, bitwidth, what)
            fm.lpm.prefix_len = plen
    else:
        v, mask = value  # type: ignore[misc]
        if mask:
            fm = te.match.add(field_id=field_id)
            fm.ternary.value = canonical_bytes(v, bitwidth, what)
            fm.ternary.mask = canonical_bytes(mask, bitwidth, what)
    return te.SerializeToString()


def _raw_read_response() -> type:
    """A message laid out like ReadResponse whose entities keep their table_entry as
    bytes: parsing a Read's answer with it costs next to nothing, and each
    TableEntry is parsed only if table_entry_bytes did not know its bytes."""
    fdp = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="p4lb/raw_read_response.proto",
                                              package="p4lb.raw", syntax="proto3")
    entity = file.message_type.add(name="Entity")
    entity.field.add(name="table_entry", number=2, type=fdp.TYPE_BYTES,
                     label=fdp.LABEL_OPTIONAL)
    response = file.message_type.add(name="ReadResponse")
    response.field.add(name="entities", number=1, type_name=".p4lb.raw.Entity",
                       type=fdp.TYPE_MESSAGE, label=fdp.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("p4lb.raw.ReadResponse"))


# Field numbers as in p4runtime.proto: ReadResponse.entities = 1, Entity.table_entry = 2.
RawReadResponse = _raw_read_response()


def table_entry_update(kind: int, te: P.TableEntry) -> P.Update:
    """An Update of `kind` carrying a copy of TableEntry `te`."""
    update = P.Update()
    update.type = kind
    update.entity.table_entry.CopyFrom(te)
    return update


# --- stream messages --------------------------------------------------------------


@dataclass(frozen=True)
class DigestBatch:
    """A DigestList whose data are structs of bitstrings (what v1model digests are)."""

    digest_id: int
    list_id: int
    structs: list[list[bytes]]


@dataclass(frozen=True)
class IdleTimeoutBatch:
    """An IdleTimeoutNotification: the TableEntries that went idle."""

    table_entries: list[P.TableEntry]


@dataclass(frozen=True)
class MalformedStreamMessage:
    """Bytes on the stream that are no StreamMessageResponse p4lb can use."""

    reason: str
    size: int


StreamMessage = DigestBatch | IdleTimeoutBatch | MalformedStreamMessage | P.StreamMessageResponse


def parse_stream_message(data: bytes) -> StreamMessage:
    """A StreamMessageResponse: digests and idle notifications as batches, the rest
    (arbitration, packets, errors) as the message. Never raises: gRPC would end
    the stream on an exception, and one bad message is no reason to."""
    try:
        message = P.StreamMessageResponse.FromString(data)
        which = message.WhichOneof("update")
        if which == "digest":
            return _digest_batch(message.digest)
        if which == "idle_timeout_notification":
            return IdleTimeoutBatch(list(message.idle_timeout_notification.table_entry))
        return message
    except (CodecError, DecodeError) as e:
        return MalformedStreamMessage(str(e), len(data))


def _digest_batch(digest: P.DigestList) -> DigestBatch:
    structs: list[list[bytes]] = []
    for data in digest.data:
        if data.WhichOneof("data") != "struct":
            raise CodecError(f"digest data of kind {data.WhichOneof('data')}, expected a struct")
        members = []
        for member in data.struct.members:
            if member.WhichOneof("data") != "bitstring":
                raise CodecError(f"struct member of kind {member.WhichOneof('data')}, "
                                 "expected bits")
            members.append(member.bitstring)
        structs.append(members)
    return DigestBatch(digest.digest_id, digest.list_id, structs)
