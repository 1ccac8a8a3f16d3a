"""The fast WriteRequest decoder gives what the protobuf runtime gives, for any input."""

from hypothesis import given, settings
from hypothesis import strategies as st

from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.p4runtime.write_decoder import decode_write_request

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
def table_entries(draw, usual: bool = False):
    """TableEntry messages; ``usual``: only fields the fast paths read (no counter
    data, no elapsed time, no one-shot action set)."""
    entry = p4runtime_pb2.TableEntry(table_id=draw(u32), priority=draw(i32))
    entry.match.extend(draw(st.lists(field_matches(), max_size=3)))
    which = draw(st.sampled_from(["action", "member", "group", None] + ([] if usual else ["set"])))
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
    if not usual and draw(st.booleans()):
        entry.counter_data.packet_count = draw(st.integers(0, 100))
    if not usual and draw(st.booleans()):
        entry.time_since_last_hit.elapsed_ns = 5
    return entry


def view_match(fm):
    kind = fm.WhichOneof("field_match_type")
    if kind is None:
        return (fm.field_id, None)
    sub = getattr(fm, kind)
    fields = {"exact": ("value",), "optional": ("value",), "ternary": ("value", "mask"),
              "lpm": ("value", "prefix_len"), "range": ("low", "high")}[kind]
    return (fm.field_id, kind, tuple(getattr(sub, f) for f in fields))


def view_entry(entry):
    action = entry.action
    kind = action.WhichOneof("type")
    if kind == "action":
        act = (action.action.action_id,
               tuple((p.param_id, p.value) for p in action.action.params))
    elif kind in ("action_profile_member_id", "action_profile_group_id"):
        act = getattr(action, kind)
    else:
        act = None
    return (entry.table_id, tuple(view_match(m) for m in entry.match), entry.HasField("action"),
            kind, act, entry.priority, entry.controller_metadata, entry.is_default_action,
            entry.idle_timeout_ns, entry.metadata, entry.is_const,
            entry.HasField("counter_data"), entry.HasField("time_since_last_hit"))


def view_request(request):
    election = (request.election_id.high, request.election_id.low) \
        if request.HasField("election_id") else None
    updates = []
    for update in request.updates:
        which = update.entity.WhichOneof("entity")
        body = view_entry(update.entity.table_entry) if which == "table_entry" else which
        updates.append((update.type, which, body))
    return (request.device_id, request.role, election, request.atomicity, updates)


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(table_entries(), max_size=4), device_id=st.integers(0, 2**64 - 1),
       update_type=i32, with_election=st.booleans(), role=st.text(max_size=4),
       with_counter=st.booleans())
def test_fast_decoder_matches_protobuf(entries, device_id, update_type, with_election, role,
                                       with_counter):
    request = p4runtime_pb2.WriteRequest(device_id=device_id, role=role)
    if with_election:
        request.election_id.low = 7
    for entry in entries:
        request.updates.add(type=update_type).entity.table_entry.CopyFrom(entry)
    if with_counter:
        request.updates.add(type=2).entity.counter_entry.counter_id = 9
    data = request.SerializeToString()
    assert view_request(decode_write_request(data)) == view_request(
        p4runtime_pb2.WriteRequest.FromString(data))


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(table_entries(usual=True), min_size=1, max_size=4),
       update_type=st.sampled_from([0, 1, 2, 3, 127, 128]))
def test_usual_updates_decode_as_protobuf(entries, update_type):
    # the shapes the one-pass readers (_usual_update, _usual_table_entry) take
    request = p4runtime_pb2.WriteRequest(device_id=1)
    for entry in entries:
        request.updates.add(type=update_type).entity.table_entry.CopyFrom(entry)
    data = request.SerializeToString()
    assert view_request(decode_write_request(data)) == view_request(
        p4runtime_pb2.WriteRequest.FromString(data))


def _outcome(decode, data):
    try:
        return "decoded", decode(data)
    except Exception as e:  # noqa: BLE001 - the kind of failure is what is compared
        return "failed", type(e)


def _view_update(update):
    which = update.entity.WhichOneof("entity")
    body = view_entry(update.entity.table_entry) if which == "table_entry" else which
    return update.type, which, body


@settings(max_examples=300, deadline=None)
@given(entry=table_entries(usual=True), update_type=st.sampled_from([1, 2, 3]),
       cut=st.integers(0, 200), flip=st.integers(0, 200), byte=st.integers(0, 255))
def test_one_pass_readers_agree_with_the_general_ones(entry, update_type, cut, flip, byte):
    """Whatever the bytes (truncated, one byte changed), the one-pass readers give
    what the general readers give, failures included."""
    from p4switch.p4runtime import write_decoder as wd

    update = p4runtime_pb2.Update(type=update_type)
    update.entity.table_entry.CopyFrom(entry)
    for data in (update.SerializeToString(), entry.SerializeToString()):
        mangled = bytearray(data[:max(cut, 1)] if cut < len(data) else data)
        mangled[flip % len(mangled)] = byte
        for candidate in (data, bytes(mangled)):
            fast = _outcome(lambda d: wd._usual_update(d) or wd._any_update(d), candidate)
            general = _outcome(wd._any_update, candidate)
            if fast[0] == "decoded" and general[0] == "decoded":
                assert _view_update(fast[1]) == _view_update(general[1])
            else:
                assert fast == general
            fast = _outcome(wd._table_entry, candidate)
            general = _outcome(wd._any_table_entry, candidate)
            if fast[0] == "decoded" and general[0] == "decoded":
                assert view_entry(fast[1]) == view_entry(general[1])
            else:
                assert fast == general
