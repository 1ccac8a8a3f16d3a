"""Hostile or malformed requests get an error status; the switch keeps running with
its state intact."""

import grpc
import pytest
from frames import MAC_B, ethernet
from google.protobuf.message import DecodeError
from hypothesis import strategies as st
from p4rt_client import ON_BMV2, Update, says, update, write_errors
from switch_harness import start_switch

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Entity = p4runtime_pb2.Entity

u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
# short values, and some whose length needs a two-byte varint
small_bytes = st.binary(max_size=6) | st.binary(min_size=120, max_size=140)


@st.composite
def field_matches(draw):
    fm = p4runtime_pb2.FieldMatch(field_id=draw(u32))
    kind = draw(st.sampled_from(["exact", "ternary", "lpm", "range", "optional", None]))
    if kind == "exact":
        fm.exact.value = draw(small_bytes)
    elif kind == "ternary":
        fm.ternary.value, fm.ternary.mask = draw(small_bytes), draw(small_bytes)
    elif kind == "lpm":
        fm.lpm.value, fm.lpm.prefix_len = draw(small_bytes), draw(i32)
    elif kind == "range":
        fm.range.low, fm.range.high = draw(small_bytes), draw(small_bytes)
    elif kind == "optional":
        fm.optional.value = draw(small_bytes)
    return fm


@st.composite
def table_entries(draw):
    """Arbitrary TableEntry messages, most of them nonsense to the switch."""
    entry = p4runtime_pb2.TableEntry(table_id=draw(u32), priority=draw(i32))
    entry.match.extend(draw(st.lists(field_matches(), max_size=3)))
    which = draw(st.sampled_from(["action", "member", "group", "set", None]))
    if which == "action":
        entry.action.action.action_id = draw(u32)
        for _ in range(draw(st.integers(0, 3))):
            entry.action.action.params.add(param_id=draw(u32), value=draw(small_bytes))
    elif which == "member":
        entry.action.action_profile_member_id = draw(u32)
    elif which == "group":
        entry.action.action_profile_group_id = draw(u32)
    elif which == "set":
        entry.action.action_profile_action_set.action_profile_actions.add(weight=2)
    entry.controller_metadata = draw(st.integers(0, 2**64 - 1))
    entry.is_default_action = draw(st.booleans())
    entry.idle_timeout_ns = draw(st.integers(-(2**63), 2**63 - 1))
    entry.metadata = draw(small_bytes)
    if draw(st.booleans()):
        entry.counter_data.packet_count = draw(st.integers(0, 100))
    if draw(st.booleans()):
        entry.time_since_last_hit.elapsed_ns = 5
    return entry


def raw_call(switch, method: str, payload: bytes):
    channel = grpc.insecure_channel(switch.address)
    try:
        call = channel.unary_unary(f"/p4.v1.P4Runtime/{method}")
        return call(payload, timeout=10)
    finally:
        channel.close()


def assert_still_forwarding(switch, c, names):
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 3
    assert len(c.read(Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=names.table_id("dmac"))))) == 1


@pytest.fixture
def forwarding(loaded):
    switch, c, names = loaded
    c.write(update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)))
    return loaded


@pytest.mark.embedded_only("gRPC C++ answers INTERNAL for bytes it cannot parse")
@pytest.mark.parametrize("method", ["Write", "SetForwardingPipelineConfig",
                                    "GetForwardingPipelineConfig"])
@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff", b"\x22\x05abc", b"\x0a\x80"])
def test_garbage_bytes_are_invalid_argument(forwarding, method, payload):
    switch, c, names = forwarding
    with pytest.raises(grpc.RpcError) as e:
        raw_call(switch, method, payload)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says(e.value.details(), "malformed")
    assert_still_forwarding(switch, c, names)


@pytest.mark.in_process
def test_oversize_batch_is_refused_by_grpc(features, tmp_path):
    switch = start_switch(tmp_path, max_message_bytes=64 * 1024)
    try:
        c = switch.controller()
        # The JSON itself may not fit in 64 kB: load it behind gRPC's back.
        switch.device.set_pipeline(
            p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
            p4runtime_pb2.ForwardingPipelineConfig(p4info=features.p4info,
                                                   p4_device_config=features.json))
        names = features.names
        entries = [update(Update.INSERT, table_entry=names.entry(
            "dmac", {"hdr.ethernet.dst": mac}, "forward", port=1)) for mac in range(5000)]
        with pytest.raises(grpc.RpcError) as e:
            c.write(*entries)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        c.write(*entries[:10])
        assert len(c.read(Entity(table_entry=p4runtime_pb2.TableEntry(
            table_id=names.table_id("dmac"))))) == 10
    finally:
        switch.stop()


def test_unsupported_atomicity_and_entities(forwarding):
    switch, c, names = forwarding
    request = p4runtime_pb2.WriteRequest(device_id=0, atomicity=1)
    request.election_id.low = 1
    with pytest.raises(grpc.RpcError) as e:
        c.stub.Write(request)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    register = p4runtime_pb2.RegisterEntry(register_id=0x16000001)
    [(code, _)] = c.write_errors(update(Update.MODIFY, register_entry=register))
    assert code == code_pb2.UNIMPLEMENTED
    update_type_missing = update(Update.UNSPECIFIED, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": 0x99}, "forward", port=1))
    [(code, _)] = c.write_errors(update_type_missing)
    assert code == code_pb2.INVALID_ARGUMENT
    assert_still_forwarding(switch, c, names)


@pytest.mark.embedded_only("PI answers UNKNOWN for an update without an entity and ignores "
                            "empty stream messages")
def test_empty_updates_and_stream_messages(forwarding):
    switch, c, names = forwarding
    [(code, _)] = c.write_errors(p4runtime_pb2.Update(type=Update.INSERT))
    assert code == code_pb2.INVALID_ARGUMENT
    c.send(p4runtime_pb2.StreamMessageRequest())  # no update at all
    assert c.next("error").error.canonical_code == code_pb2.INVALID_ARGUMENT
    assert_still_forwarding(switch, c, names)


def test_reads_of_unknown_ids_are_invalid(forwarding):
    switch, c, names = forwarding
    for entity in (Entity(table_entry=p4runtime_pb2.TableEntry(table_id=0x0200FFFF)),
                   Entity(counter_entry=p4runtime_pb2.CounterEntry(counter_id=5))):
        with pytest.raises(grpc.RpcError) as e:
            c.read(entity)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert_still_forwarding(switch, c, names)


@pytest.mark.embedded_only("the limit is the embedded switch's")
def test_streams_beyond_the_limit_are_refused(switch):
    from p4switch.p4runtime.service import MAX_OPEN_STREAMS

    for _ in range(MAX_OPEN_STREAMS):
        stream = switch.controller(election_id=None, arbitrate=False)
        stream.send(p4runtime_pb2.StreamMessageRequest())
        stream.next("error")  # the stream is open on the server
    refused = switch.controller(election_id=None, arbitrate=False)
    assert refused.next("end").code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    c = switch.controller(arbitrate=False)
    assert c.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest()).p4runtime_api_version


def test_random_table_entries_never_break_the_switch(forwarding):
    """Arbitrary (mostly nonsensical) table entries: each update gets OK or an error
    code, never an INTERNAL one, and the switch keeps its state and forwarding."""
    from hypothesis import HealthCheck, given, settings

    switch, c, names = forwarding
    field_ids = {t.preamble.id: [f.id for f in t.match_fields] for t in names.p4info.tables}
    table_ids = list(field_ids) + [0, 1]
    action_ids = [a.preamble.id for a in names.p4info.actions] + [0, 7]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(entries=st.lists(table_entries(), min_size=1, max_size=5),
           tables=st.lists(st.sampled_from(table_ids), min_size=5, max_size=5),
           actions=st.lists(st.sampled_from(action_ids), min_size=5, max_size=5),
           update_type=st.sampled_from([Update.INSERT, Update.MODIFY, Update.DELETE, 0, 9]))
    def check(entries, tables, actions, update_type):
        for entry, table_id, action_id in zip(entries, tables, actions, strict=False):
            entry.table_id = table_id
            for fm in entry.match:  # mostly real field ids, so checks past the first run
                ids = field_ids.get(table_id) or [fm.field_id]
                fm.field_id = ids[fm.field_id % len(ids)]
            if entry.action.HasField("action"):
                entry.action.action.action_id = action_id
        try:
            c.write(*[update(update_type, table_entry=e) for e in entries])
        except grpc.RpcError as e:
            assert code_pb2.INTERNAL not in [code for code, _ in write_errors(e)]
        # undo whatever got in, so that every example starts from the same state
        dmac_id, const_id = names.table_id("dmac"), names.table_id("const_tbl")
        for entity in c.read(Entity(table_entry=p4runtime_pb2.TableEntry())):
            entry = entity.table_entry
            if entry.table_id == const_id or (entry.table_id == dmac_id
                                              and entry.match[0].exact.value == b"\xbb"):
                continue
            c.write(update(Update.DELETE, table_entry=entry))

    check()
    assert_still_forwarding(switch, c, names)


def test_a_write_that_does_not_parse_is_refused_whole(forwarding):
    """Four inserts, stray bytes inside the second update (every enclosing length
    right): protobuf cannot parse the request, so nothing of it may be applied.
    The bytes go out as they are, through a channel without a serializer."""
    from tests.wire_mutations import STRAY_FIELDS, varint, with_stray_field

    switch, c, names = forwarding
    dmac = Entity(table_entry=p4runtime_pb2.TableEntry(table_id=names.table_id("dmac")))
    before = c.read(dmac)
    updates = [update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": 0x0200000000 + i}, "forward", port=2)) for i in range(4)]
    head = p4runtime_pb2.WriteRequest(device_id=0)
    head.election_id.low = 1

    def one(u):
        return p4runtime_pb2.WriteRequest(updates=[u]).SerializeToString()

    refused = 0
    for stray in STRAY_FIELDS:
        for second in with_stray_field(updates[1], stray):
            data = (head.SerializeToString() + one(updates[0]) + b"\x22" + varint(len(second))
                    + second + one(updates[2]) + one(updates[3]))
            try:
                p4runtime_pb2.WriteRequest.FromString(data)
                continue  # protobuf takes it (a stray it may skip): not this test's case
            except DecodeError:
                refused += 1
            with pytest.raises(grpc.RpcError) as e:
                raw_call(switch, "Write", data)
            # gRPC C++ (BMv2) answers INTERNAL for bytes it cannot parse
            assert e.value.code() in ((grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL)
                                      if ON_BMV2 else (grpc.StatusCode.INVALID_ARGUMENT,)), (
                stray, second.hex(), e.value.details())
            assert c.read(dmac) == before, (stray, second.hex())
    assert refused > 50  # the mutations are malformed, as meant
    assert_still_forwarding(switch, c, names)


@pytest.mark.embedded_only("PI sends every update's error: 10,000 are ~4 MB of trailers, which "
                            "a client with gRPC's default 16 KB limit gets as RESOURCE_EXHAUSTED")
def test_a_huge_failing_batch_keeps_its_count_within_grpc_limits(forwarding):
    """10,000 updates, 9,999 refused: one p4.v1.Error each would be ~1 MB of
    trailing metadata, which a client with gRPC's default limit cannot take in
    (RESOURCE_EXHAUSTED). The details are capped; the count is kept."""
    switch, c, names = forwarding
    same = update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": 0x0300000001}, "forward", port=2))
    with pytest.raises(grpc.RpcError) as e:
        c.write(*[same] * 10_000)
    assert e.value.code() == grpc.StatusCode.UNKNOWN, e.value.details()
    assert says(e.value.details(), "9999 of 10000 updates failed", "first at index 1")
    details = write_errors(e.value)
    assert 0 < len(details) <= 10_000
    assert details[0][0] == code_pb2.OK
    assert all(code == code_pb2.ALREADY_EXISTS for code, _ in details[1:])
    c.write(update(Update.DELETE, table_entry=same.entity.table_entry))
    assert_still_forwarding(switch, c, names)
