"""The wire encoder writes, byte for byte, what protobuf's SerializeToString writes for
the same message built with the generated classes."""

from hypothesis import given, settings
from hypothesis import strategies as st

from p4switch.p4runtime import wire_encoder as wire
from p4switch.p4runtime.actions import encode_action, fill_action
from p4switch.p4runtime.bytestrings import to_bytes
from p4switch.p4runtime.match_keys import encode_match
from p4switch.p4runtime.p4info_index import ActionInfo, MatchFieldInfo, ParamInfo, TableInfo
from p4switch.p4runtime.proto import p4data_pb2, p4runtime_pb2
from p4switch.runtime_api import ActionCall, MatchKind

P = p4runtime_pb2
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
# ids and values on both sides of one-byte varints and of the encoder's short cuts
ids = st.sampled_from([0, 1, 127, 128, 300]) | u32
small_bytes = st.binary(max_size=6) | st.binary(min_size=118, max_size=200)


@st.composite
def field_matches(draw):
    """(wire encoding, the same FieldMatch built with protobuf)."""
    field_id = draw(ids)
    fm = P.FieldMatch(field_id=field_id)
    kind = draw(st.sampled_from(["exact", "lpm", "ternary", "range", "optional"]))
    a, b = draw(small_bytes), draw(small_bytes)
    if kind == "exact":
        fm.exact.value = a
        encoded = wire.exact_match(field_id, a)
    elif kind == "lpm":
        prefix_len = draw(i32)
        fm.lpm.value, fm.lpm.prefix_len = a, prefix_len
        encoded = wire.lpm_match(field_id, a, prefix_len)
    elif kind == "ternary":
        fm.ternary.value, fm.ternary.mask = a, b
        encoded = wire.ternary_match(field_id, a, b)
    elif kind == "range":
        fm.range.low, fm.range.high = a, b
        encoded = wire.range_match(field_id, a, b)
    else:
        fm.optional.value = a
        encoded = wire.optional_match(field_id, a)
    return encoded, fm


@st.composite
def table_entries(draw):
    """(wire encoding, the same TableEntry built with protobuf)."""
    expected = P.TableEntry(table_id=draw(u32))
    matches = draw(st.lists(field_matches(), max_size=3))
    expected.match.extend(fm for _, fm in matches)
    which = draw(st.sampled_from(["action", "member", "group", None]))
    action = b""
    if which == "action":
        action_id = draw(ids)
        params = draw(st.lists(st.tuples(ids, small_bytes), max_size=3))
        expected.action.action.action_id = action_id
        for param_id, value in params:
            expected.action.action.params.add(param_id=param_id, value=value)
        action = wire.direct_action(action_id, params)
    elif which == "member":
        member_id = draw(ids)
        expected.action.action_profile_member_id = member_id
        action = wire.member_action(member_id)
    elif which == "group":
        group_id = draw(ids)
        expected.action.action_profile_group_id = group_id
        action = wire.group_action(group_id)
    fields = dict(
        priority=draw(i32), controller_metadata=draw(u64), is_default_action=draw(st.booleans()),
        idle_timeout_ns=draw(i64), metadata=draw(small_bytes), is_const=draw(st.booleans()))
    for name, value in fields.items():
        setattr(expected, name, value)
    meter = draw(st.none() | st.tuples(i64, i64, i64, i64))
    if meter is not None:
        expected.meter_config.SetInParent()
        (expected.meter_config.cir, expected.meter_config.cburst, expected.meter_config.pir,
         expected.meter_config.pburst) = meter
    counter = draw(st.none() | st.tuples(i64, i64))
    if counter is not None:
        expected.counter_data.byte_count, expected.counter_data.packet_count = counter
    elapsed = draw(st.none() | i64)
    if elapsed is not None:
        expected.time_since_last_hit.elapsed_ns = elapsed
    encoded = wire.table_entry(expected.table_id, b"".join(m for m, _ in matches), action,
                               meter_config=meter, counter_data=counter, elapsed_ns=elapsed,
                               **fields)
    return encoded, expected


@settings(max_examples=300, deadline=None)
@given(entry=table_entries())
def test_table_entry_is_what_protobuf_writes(entry):
    encoded, expected = entry
    assert encoded == expected.SerializeToString()


@settings(max_examples=50, deadline=None)
@given(entries=st.lists(table_entries(), max_size=4), counters=st.lists(u32, max_size=2))
def test_read_response_mixes_encoded_entries_and_messages(entries, counters):
    """A ReadResponse of encoded table entries and generated messages (as the server's
    Read gives: counters and profiles stay messages)."""
    expected = P.ReadResponse()
    items: list = []
    for encoded, message in entries:
        expected.entities.add().table_entry.CopyFrom(message)
        items.append(wire.table_entry_entity(encoded))
    for counter_id in counters:
        entity = P.Entity()
        entity.counter_entry.counter_id = counter_id
        entity.counter_entry.data.packet_count = 3
        expected.entities.add().CopyFrom(entity)
        items.append(entity)
    encoded = wire.read_response([wire.serialized(item) for item in items])
    assert encoded == expected.SerializeToString()


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(["bitstring", "struct", "tuple"]), digest_id=u32, list_id=u64,
       timestamp=i64, samples=st.lists(st.lists(small_bytes, min_size=1, max_size=3),
                                       max_size=4))
def test_digest_list_is_what_protobuf_writes(kind, digest_id, list_id, timestamp, samples):
    expected = P.StreamMessageResponse()
    expected.digest.SetInParent()
    expected.digest.digest_id, expected.digest.list_id = digest_id, list_id
    expected.digest.timestamp = timestamp
    data = []
    for sample in samples:
        message = expected.digest.data.add()
        if kind == "bitstring":
            message.bitstring = sample[0]
            data.append(wire.bitstring_data(sample[0]))
            continue
        members = getattr(message, kind)
        members.SetInParent()
        for value in sample:
            members.members.add(bitstring=value)
        encode = wire.struct_data if kind == "struct" else wire.tuple_data
        data.append(encode([wire.bitstring_data(value) for value in sample]))
    encoded = wire.digest_list_message(digest_id, list_id, data, timestamp)
    assert encoded == expected.SerializeToString()


def test_empty_oneof_members_are_written():
    expected = p4data_pb2.P4Data()
    expected.struct.members.add(bitstring=b"")
    assert wire.struct_data([wire.bitstring_data(b"")]) == expected.SerializeToString()
    assert wire.member_action(0) == P.TableEntry(
        action=P.TableAction(action_profile_member_id=0)).SerializeToString()


@settings(max_examples=50, deadline=None)
@given(entries=st.lists(table_entries(), max_size=3), timestamp=i64)
def test_idle_timeout_notification_is_what_protobuf_writes(entries, timestamp):
    expected = P.StreamMessageResponse()
    expected.idle_timeout_notification.SetInParent()
    expected.idle_timeout_notification.table_entry.extend(m for _, m in entries)
    expected.idle_timeout_notification.timestamp = timestamp
    encoded = wire.idle_timeout_notification_message([e for e, _ in entries], timestamp)
    assert encoded == expected.SerializeToString()


# --- match keys and actions, against the message-filling code they replace --------------

TABLE = TableInfo(
    id=0x2000001, name="t",
    match_fields=[MatchFieldInfo(1, "e", 9, MatchKind.EXACT),
                  MatchFieldInfo(2, "l", 32, MatchKind.LPM),
                  MatchFieldInfo(3, "t", 16, MatchKind.TERNARY),
                  MatchFieldInfo(4, "r", 8, MatchKind.RANGE),
                  MatchFieldInfo(200, "o", 128, MatchKind.OPTIONAL)],
    fields_by_id={}, field_positions={}, needs_priority=True, action_scopes={},
    const_default_action_id=0, action_profile_id=0, direct_counter_id=0, direct_meter_id=0,
    supports_idle_timeout=False, is_const=False, size=16)


def fill_match_with_protobuf(key, out):
    """What the server did before it encoded entries itself (match_keys.fill_match)."""
    items, _ = key
    for info, item in zip(TABLE.match_fields, items, strict=True):
        if info.kind is MatchKind.EXACT:
            out.match.add(field_id=info.id).exact.value = to_bytes(item)
        elif info.kind is MatchKind.LPM:
            if item[1]:
                lpm = out.match.add(field_id=info.id).lpm
                lpm.value, lpm.prefix_len = to_bytes(item[0]), item[1]
        elif info.kind is MatchKind.TERNARY:
            if item[1]:
                ternary = out.match.add(field_id=info.id).ternary
                ternary.value, ternary.mask = to_bytes(item[0]), to_bytes(item[1])
        elif info.kind is MatchKind.RANGE:
            if item != (0, (1 << info.bitwidth) - 1):
                rng = out.match.add(field_id=info.id).range
                rng.low, rng.high = to_bytes(item[0]), to_bytes(item[1])
        elif item[1]:
            out.match.add(field_id=info.id).optional.value = to_bytes(item[0])


def bits(width):
    return st.integers(0, 2**width - 1)


@settings(max_examples=200, deadline=None)
@given(exact=bits(9), lpm=st.tuples(bits(32), st.integers(0, 32)),
       ternary=st.tuples(bits(16), bits(16)) | st.just((0, 0)),
       rng=st.tuples(bits(8), bits(8)) | st.just((0, 255)),
       optional=st.tuples(bits(128), st.sampled_from([0, 2**128 - 1])),
       action_args=st.lists(bits(48), max_size=3))
def test_match_and_action_encode_what_the_messages_held(exact, lpm, ternary, rng, optional,
                                                         action_args):
    key = ((exact, lpm, ternary, rng, optional), 0)
    expected = P.TableEntry(table_id=TABLE.id)
    fill_match_with_protobuf(key, expected)
    info = ActionInfo(0x1000005, "a", [ParamInfo(i + 1, f"p{i}", 48, i) for i in range(2)], {})
    call = ActionCall("a", action_args)
    fill_action(info, call, expected.action.action)
    assert (wire.table_entry(TABLE.id, encode_match(TABLE, key), encode_action(info, call))
            == expected.SerializeToString())
