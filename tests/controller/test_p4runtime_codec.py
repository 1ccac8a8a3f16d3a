"""The controller's wire codec says exactly what protobuf says, and survives garbage.

Every entry of every lb.p4 table (hypothesis draws keys and params within
their widths) encodes to the bytes protobuf serializes for the same entry,
and protobuf's bytes decode back to the entry. Digests, idle notifications
and read responses built with protobuf parse to the same content. Random and
truncated bytes give WireError (or a MalformedStreamMessage), nothing else.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.p4_schema import DecodedEntry, P4Schema, SchemaError
from controller.p4runtime_proto import p4info_pb2, p4runtime_pb2
from controller.p4runtime_wire import (
    DigestBatch,
    EntryCodec,
    IdleTimeoutBatch,
    MalformedStreamMessage,
    WireError,
    parse_stream_message,
    read_response_table_entries,
    write_request,
)
from tests.integration.lb_fixture import lb_p4info
from tests.p4runtime_messages import entry_from_message, entry_message, update_message

P = p4runtime_pb2
MT = p4info_pb2.MatchField
SCHEMA = P4Schema(lb_p4info())
CODEC = EntryCodec(SCHEMA)
KINDS = [P.Update.INSERT, P.Update.MODIFY, P.Update.DELETE]


def _bits(width: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(0), st.just((1 << width) - 1), st.integers(0, (1 << width) - 1))


@st.composite
def entries(draw) -> DecodedEntry:
    table = draw(st.sampled_from(list(SCHEMA.p4info.tables)))
    ts = SCHEMA.table(table.preamble.name)
    key = []
    for f in ts.fields:
        if f.match_type == MT.EXACT:
            key.append(draw(_bits(f.bitwidth)))
        else:
            plen = draw(st.integers(0, f.bitwidth))
            value = draw(_bits(f.bitwidth)) >> (f.bitwidth - plen) << (f.bitwidth - plen)
            key.append((value if plen else 0, plen))
    action = SCHEMA.action_by_id(draw(st.sampled_from(sorted(ts.action_ids))))
    params = tuple(draw(_bits(p.bitwidth)) for p in action.params)
    return DecodedEntry(ts.name, tuple(key), action.name, params)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(entry=entries(), kind=st.sampled_from(KINDS),
       timeout=st.sampled_from([0, 1, 10**10, 2**63 - 1]))
def test_updates_are_byte_for_byte_protobufs(entry, kind, timeout) -> None:
    expected = update_message(SCHEMA, kind, entry, timeout).SerializeToString()
    assert CODEC.update(kind, entry, timeout) == expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(entry=entries())
def test_protobuf_entries_decode_to_the_entry(entry) -> None:
    te = entry_message(SCHEMA, entry, idle_timeout_ns=5)
    assert CODEC.decode(te.SerializeToString()) == entry
    key_only = entry_message(SCHEMA, entry, key_only=True).SerializeToString()
    assert CODEC.decode(key_only) == DecodedEntry(entry.table, entry.key, "", ())


def test_decode_takes_what_a_switch_adds_and_fields_in_any_order() -> None:
    entry = DecodedEntry("flow4", (1, 0x0A090001, 0x0A000001, 6, 10000, 80), "use_flow_as", (3,))
    te = entry_message(SCHEMA, entry, idle_timeout_ns=10**9)
    te.time_since_last_hit.elapsed_ns = 12345
    te.counter_data.packet_count = 7
    te.controller_metadata = 99
    assert CODEC.decode(te.SerializeToString()) == entry
    # Protobuf readers accept fields in any order; so must we.
    match = b"".join(
        bytes([0x12]) + len(m.SerializeToString()).to_bytes(1, "big") + m.SerializeToString()
        for m in reversed(te.match))
    reordered = match + P.TableEntry(table_id=te.table_id, action=te.action).SerializeToString()
    assert CODEC.decode(reordered) == entry


def test_write_request_is_the_protobuf_request() -> None:
    entry = DecodedEntry("maglev", (3, 5), "use_bucket_as", (7,))
    updates = [CODEC.update(P.Update.INSERT, entry), CODEC.update(P.Update.DELETE, entry)]
    request = P.WriteRequest.FromString(write_request(updates, (1 << 64) + 5, device_id=3))
    assert request.device_id == 3
    assert (request.election_id.high, request.election_id.low) == (1, 5)
    assert [u.SerializeToString() for u in request.updates] == updates


@pytest.mark.parametrize("entry,message", [
    (DecodedEntry("maglev", (1, 1 << 24), "use_bucket_as", (1,)), "maglev.bucket"),
    (DecodedEntry("maglev", (-1, 0), "use_bucket_as", (1,)), "maglev.vip_id"),
    (DecodedEntry("maglev", (1, 0), "use_bucket_as", (1 << 16,)), "use_bucket_as.as_id"),
    (DecodedEntry("maglev", (1,), "use_bucket_as", (1,)), "1 key values for 2"),
    (DecodedEntry("maglev", (1, 0), "encap_gre4", (1, 2)), "has no action encap_gre4"),
    (DecodedEntry("maglev", (1, 0), "use_bucket_as", ()), "0 params for 1"),
    (DecodedEntry("no_such_table", (), "x", ()), "no_such_table"),
])
def test_bad_entries_are_refused_naming_the_problem(entry, message) -> None:
    with pytest.raises(SchemaError, match=message):
        CODEC.update(P.Update.INSERT, entry)


def test_canonical_bytes_and_omitted_zero_prefix() -> None:
    te = P.TableEntry.FromString(CODEC.table_entry(
        DecodedEntry("maglev", (0, 1), "use_bucket_as", (0,))))
    assert [m.exact.value for m in te.match] == [b"\x00", b"\x01"]
    assert te.action.action.params[0].value == b"\x00"
    default_route = CODEC.table_entry(DecodedEntry("route4", ((0, 0),), "no_route", ()))
    assert len(P.TableEntry.FromString(default_route).match) == 0


def _digest_message(structs: list[list[bytes]]) -> bytes:
    msg = P.StreamMessageResponse()
    msg.digest.digest_id, msg.digest.list_id = 7, 9
    msg.digest.timestamp = 123
    for members in structs:
        data = msg.digest.data.add()
        for m in members:
            data.struct.members.add().bitstring = m
    return msg.SerializeToString()


@given(st.lists(st.lists(st.binary(min_size=1, max_size=16), max_size=8), max_size=20))
def test_digest_lists_parse_as_protobuf_does(structs) -> None:
    assert parse_stream_message(_digest_message(structs)) == DigestBatch(7, 9, structs)


def test_idle_notifications_and_read_responses_carry_the_entries() -> None:
    entries = [entry_message(SCHEMA, DecodedEntry(
        "flow6", (1, i, 2**128 - 1, 17, i, 53), "use_flow_as", (i,))) for i in range(3)]
    note = P.StreamMessageResponse()
    note.idle_timeout_notification.table_entry.extend(entries)
    note.idle_timeout_notification.timestamp = 5
    parsed = parse_stream_message(note.SerializeToString())
    assert isinstance(parsed, IdleTimeoutBatch)
    assert [P.TableEntry.FromString(b) for b in parsed.table_entries] == entries
    response = P.ReadResponse()
    for te in entries:
        response.entities.add().table_entry.CopyFrom(te)
    raw = read_response_table_entries(response.SerializeToString())
    assert [entry_from_message(SCHEMA, P.TableEntry.FromString(b)) for b in raw] == [
        CODEC.decode(b) for b in raw]


def test_other_stream_messages_come_as_protobuf() -> None:
    msg = P.StreamMessageResponse()
    msg.arbitration.device_id = 1
    msg.arbitration.status.code = 0
    assert parse_stream_message(msg.SerializeToString()) == msg


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_garbage_never_escapes_as_anything_but_wire_error(data) -> None:
    assert not isinstance(parse_stream_message(data), Exception)
    try:
        CODEC.decode(data)
    except WireError:
        pass
    try:
        read_response_table_entries(data)
    except WireError:
        pass


def test_truncated_messages_are_reported() -> None:
    digest = _digest_message([[b"\x04", b"\x01"]])
    for cut in range(1, len(digest)):
        parsed = parse_stream_message(digest[:cut])
        assert isinstance(parsed, (MalformedStreamMessage, P.StreamMessageResponse,
                                   DigestBatch)), parsed
    te = entry_message(SCHEMA, DecodedEntry("maglev", (3, 5), "use_bucket_as", (7,)))
    raw = te.SerializeToString()
    with pytest.raises(WireError):
        CODEC.decode(raw[:-1])
    with pytest.raises(WireError, match="unknown table id"):
        CODEC.decode(P.TableEntry(table_id=1).SerializeToString())
