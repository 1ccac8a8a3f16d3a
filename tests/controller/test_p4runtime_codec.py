"""The controller's codec gives the messages a plain protobuf builder gives, and
takes what a switch may send.

Every entry of every lb.p4 table (hypothesis draws keys and params within
their widths) encodes to the message tests/p4runtime_messages.py builds for
it, and that message decodes back to the entry. Digest lists, idle
notifications and other stream messages parse to their content; garbage and
entries p4lb cannot use give CodecError (or a MalformedStreamMessage).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.p4_schema import DecodedEntry, P4Schema, SchemaError
from controller.p4runtime_codec import (
    CodecError,
    DigestBatch,
    EntryCodec,
    IdleTimeoutBatch,
    MalformedStreamMessage,
    RawReadResponse,
    parse_stream_message,
    table_entry_update,
)
from controller.p4runtime_proto import p4info_pb2, p4runtime_pb2
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
def test_updates_are_the_reference_messages(entry, kind, timeout) -> None:
    expected = update_message(SCHEMA, kind, entry, timeout)
    update = CODEC.update(kind, entry, timeout)
    assert update == expected
    # byte for byte too: what goes on the wire does not depend on who built it
    assert update.SerializeToString() == expected.SerializeToString()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(st.tuples(entries(), st.sampled_from(KINDS + [P.Update.UNSPECIFIED]),
                                st.sampled_from([0, 1, 10**10, 2**63 - 1]),
                                st.sampled_from([0, 0, 5])), max_size=6))
def test_update_bytes_are_what_protobuf_serializes(batch) -> None:
    # The same entries again and again, as the memos of update_bytes meet them.
    for entry, kind, timeout, priority in batch * 2:
        entry = DecodedEntry(entry.table, entry.key, entry.action, entry.params, priority)
        assert CODEC.update_bytes(kind, entry, timeout) == \
            update_message(SCHEMA, kind, entry, timeout).SerializeToString()


def test_update_bytes_refuse_bad_entries_as_update_does() -> None:
    for entry, message in BAD_ENTRIES:
        with pytest.raises(SchemaError, match=message):
            CODEC.update_bytes(P.Update.INSERT, entry)
    # After 1 is remembered, values that hash as 1 does are still judged as update() judges them.
    CODEC.update_bytes(P.Update.INSERT, DecodedEntry("maglev", (1, 1), "use_bucket_as", (1,)))
    for odd in (True, 1.0):
        for entry in (DecodedEntry("maglev", (1, odd), "use_bucket_as", (1,)),
                      DecodedEntry("maglev", (1, 1), "use_bucket_as", (odd,))):
            try:
                expected = CODEC.update(P.Update.INSERT, entry).SerializeToString()
            except Exception as e:  # noqa: BLE001 (whatever update raises, update_bytes must)
                with pytest.raises(type(e)):
                    CODEC.update_bytes(P.Update.INSERT, entry)
            else:
                assert CODEC.update_bytes(P.Update.INSERT, entry) == expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(entry=entries())
def test_reference_entries_decode_to_the_entry(entry) -> None:
    assert CODEC.decode(entry_message(SCHEMA, entry, idle_timeout_ns=5)) == entry
    key_only = entry_message(SCHEMA, entry, key_only=True)
    assert CODEC.decode(key_only) == DecodedEntry(entry.table, entry.key, "", ())


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(entries(), max_size=20), priority=st.sampled_from([0, 1, 2**31 - 1]))
def test_entry_bytes_are_the_reference_messages_serialized(batch, priority) -> None:
    # What lets a read-back skip decoding: the switch's bytes for an entry are
    # the controller's; a raw parse of a ReadResponse gives exactly those bytes.
    batch = [DecodedEntry(e.table, e.key, e.action, e.params, priority) for e in batch]
    known = CODEC.table_entry_bytes(batch)
    messages = [entry_message(SCHEMA, e) for e in batch]
    for e, message in zip(batch, messages, strict=True):
        raw = message.SerializeToString()
        assert known[raw] == e
        assert CODEC.decode(P.TableEntry.FromString(raw)) == e
    response = P.ReadResponse()
    for message in messages:
        response.entities.add().table_entry.CopyFrom(message)
    parsed = RawReadResponse.FromString(response.SerializeToString())
    assert [ent.table_entry for ent in parsed.entities] == [
        m.SerializeToString() for m in messages]


def test_entry_bytes_tell_apart_what_differs() -> None:
    entry = DecodedEntry("maglev", (1, 7), "use_bucket_as", (3,))
    known = CODEC.table_entry_bytes([entry])
    for other in (entry_message(SCHEMA, entry, idle_timeout_ns=5),
                  entry_message(SCHEMA, DecodedEntry("maglev", (1, 7), "use_bucket_as", (4,))),
                  entry_message(SCHEMA, DecodedEntry("maglev", (1, 8), "use_bucket_as", (3,))),
                  entry_message(SCHEMA, entry, key_only=True)):
        assert other.SerializeToString() not in known


def test_decode_takes_what_a_switch_adds_and_fields_in_any_order() -> None:
    entry = DecodedEntry("flow4", (1, 0x0A090001, 0x0A000001, 6, 10000, 80), "use_flow_as", (3,))
    te = entry_message(SCHEMA, entry, idle_timeout_ns=10**9)
    te.time_since_last_hit.elapsed_ns = 12345
    te.counter_data.packet_count = 7
    te.controller_metadata = 99
    assert CODEC.decode(te) == entry
    reordered = P.TableEntry(table_id=te.table_id, match=list(reversed(te.match)),
                             action=te.action)
    assert CODEC.decode(reordered) == entry


BAD_ENTRIES = [
    (DecodedEntry("maglev", (1, 1 << 24), "use_bucket_as", (1,)), "maglev.bucket"),
    (DecodedEntry("maglev", (-1, 0), "use_bucket_as", (1,)), "maglev.vip_id"),
    (DecodedEntry("maglev", (1, 0), "use_bucket_as", (1 << 16,)), "use_bucket_as.as_id"),
    (DecodedEntry("maglev", (1,), "use_bucket_as", (1,)), "1 key values for 2"),
    (DecodedEntry("maglev", (1, 0), "encap_gre4", (1, 2)), "has no action encap_gre4"),
    (DecodedEntry("maglev", (1, 0), "use_bucket_as", ()), "0 params for 1"),
    (DecodedEntry("no_such_table", (), "x", ()), "no_such_table"),
]


@pytest.mark.parametrize("entry,message", BAD_ENTRIES)
def test_bad_entries_are_refused_naming_the_problem(entry, message) -> None:
    with pytest.raises(SchemaError, match=message):
        CODEC.update(P.Update.INSERT, entry)


def test_canonical_bytes_and_omitted_zero_prefix() -> None:
    te = CODEC.table_entry(DecodedEntry("maglev", (0, 1), "use_bucket_as", (0,)))
    assert [m.exact.value for m in te.match] == [b"\x00", b"\x01"]
    assert te.action.action.params[0].value == b"\x00"
    default_route = CODEC.table_entry(DecodedEntry("route4", ((0, 0),), "no_route", ()))
    assert len(default_route.match) == 0


def test_a_delete_carries_the_key_only_and_strays_are_deleted_as_notified() -> None:
    entry = DecodedEntry("flow4", (1, 2, 3, 6, 4, 80), "use_flow_as", (3,))
    delete = CODEC.update(P.Update.DELETE, entry, idle_timeout_ns=10**9)
    assert not delete.entity.table_entry.HasField("action")
    assert delete.entity.table_entry.idle_timeout_ns == 0
    notified = entry_message(SCHEMA, entry, key_only=True)
    stray = table_entry_update(P.Update.DELETE, notified)
    assert stray.type == P.Update.DELETE and stray.entity.table_entry == notified


def _digest_message(structs: list[list[bytes]]) -> bytes:
    msg = P.StreamMessageResponse()
    msg.digest.digest_id, msg.digest.list_id = 7, 9
    msg.digest.timestamp = 123
    for members in structs:
        data = msg.digest.data.add()
        data.struct.SetInParent()
        for m in members:
            data.struct.members.add().bitstring = m
    return msg.SerializeToString()


@given(st.lists(st.lists(st.binary(min_size=1, max_size=16), max_size=8), max_size=20))
def test_digest_lists_parse_to_their_structs(structs) -> None:
    assert parse_stream_message(_digest_message(structs)) == DigestBatch(7, 9, structs)


def test_digests_of_another_shape_are_malformed() -> None:
    msg = P.StreamMessageResponse()
    msg.digest.data.add().bitstring = b"\x01"
    assert isinstance(parse_stream_message(msg.SerializeToString()), MalformedStreamMessage)
    msg = P.StreamMessageResponse()
    msg.digest.data.add().struct.members.add().struct.SetInParent()
    assert isinstance(parse_stream_message(msg.SerializeToString()), MalformedStreamMessage)


def test_idle_notifications_carry_the_entries() -> None:
    entries = [entry_message(SCHEMA, DecodedEntry(
        "flow6", (1, i, 2**128 - 1, 17, i, 53), "use_flow_as", (i,))) for i in range(3)]
    note = P.StreamMessageResponse()
    note.idle_timeout_notification.table_entry.extend(entries)
    note.idle_timeout_notification.timestamp = 5
    parsed = parse_stream_message(note.SerializeToString())
    assert isinstance(parsed, IdleTimeoutBatch)
    assert parsed.table_entries == entries
    assert [CODEC.decode(te) for te in parsed.table_entries] == [
        entry_from_message(SCHEMA, te) for te in entries]


def test_other_stream_messages_come_as_protobuf() -> None:
    msg = P.StreamMessageResponse()
    msg.arbitration.device_id = 1
    msg.arbitration.status.code = 0
    assert parse_stream_message(msg.SerializeToString()) == msg


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_garbage_on_the_stream_is_never_an_exception(data) -> None:
    assert not isinstance(parse_stream_message(data), Exception)


def test_truncated_messages_are_reported() -> None:
    digest = _digest_message([[b"\x04", b"\x01"]])
    for cut in range(1, len(digest)):
        parsed = parse_stream_message(digest[:cut])
        assert isinstance(parsed, (MalformedStreamMessage, P.StreamMessageResponse,
                                   DigestBatch)), parsed


@pytest.mark.parametrize("te,message", [
    (P.TableEntry(table_id=1), "unknown table id"),
    (P.TableEntry(table_id=SCHEMA.table("maglev").id,
                  match=[P.FieldMatch(field_id=1, lpm=P.FieldMatch.LPM(value=b"\x01"))]),
     "maglev.vip_id: match of kind lpm, expected exact"),
    (P.TableEntry(table_id=SCHEMA.table("maglev").id,
                  action=P.TableAction(action=P.Action(action_id=5))), "unknown action id 5"),
    (P.TableEntry(table_id=SCHEMA.table("maglev").id,
                  action=P.TableAction(action_profile_member_id=5)), "without a direct action"),
])
def test_entries_p4lb_cannot_use_are_codec_errors(te, message) -> None:
    with pytest.raises(CodecError, match=message):
        CODEC.decode(te)
