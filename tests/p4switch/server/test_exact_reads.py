"""Reads of all-exact tables put each TableEntry together from serialized pieces:
the bytes are those of the message built field by field, for any values,
actions and extras (so a controller that compares bytes sees what it wrote)."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from p4switch.p4runtime.exact_reads import NS_PER_MS, read_exact_entries
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.p4runtime.read_responses import BytesReadResponse, ReadResponses
from p4switch.p4runtime.table_state import StoredEntry

P = p4runtime_pb2
FIELD_IDS = (1, 2, 5)
ACTIONS = {
    "forward": SimpleNamespace(id=0x1000001, params=[SimpleNamespace(id=1), SimpleNamespace(id=2)]),
    "drop": SimpleNamespace(id=0x1000002, params=[]),
}


def _canonical(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _message(table_id, values, action, args, stored, ttl_ms, is_const) -> P.TableEntry:
    """The TableEntry as _read_table builds it, field by field."""
    te = P.TableEntry(table_id=table_id)
    for field_id, value in zip(FIELD_IDS, values, strict=True):
        te.match.add(field_id=field_id).exact.value = _canonical(value)
    if action is not None:
        te.action.action.action_id = ACTIONS[action].id
        for p, value in zip(ACTIONS[action].params, args, strict=False):
            te.action.action.params.add(param_id=p.id, value=_canonical(value))
    if stored.controller_metadata:
        te.controller_metadata = stored.controller_metadata
    if stored.metadata:
        te.metadata = stored.metadata
    idle_timeout_ns = stored.idle_timeout_ns or (ttl_ms or 0) * NS_PER_MS
    if idle_timeout_ns:
        te.idle_timeout_ns = idle_timeout_ns
    if is_const:
        te.is_const = True
    return te


values = st.tuples(*[st.integers(0, 2**48) for _ in FIELD_IDS])
entries = st.lists(st.tuples(
    values,
    st.sampled_from([None, "forward", "drop"]),
    st.tuples(st.integers(0, 511), st.integers(0, 2**32)),
    st.builds(StoredEntry, st.sampled_from([0, 1, 2**64 - 1]), st.sampled_from([b"", b"m"]),
              st.sampled_from([0, 5, 10**9])),
    st.sampled_from([None, 0, 7, 60_000])), max_size=30)


@settings(max_examples=200)
@given(batch=entries, is_const=st.booleans(), want=st.sampled_from([0, ACTIONS["drop"].id]))
def test_entries_are_the_bytes_of_the_messages(batch, is_const, want) -> None:
    info = SimpleNamespace(id=0x2000001, match_fields=[SimpleNamespace(id=f) for f in FIELD_IDS],
                           is_const=is_const)
    extras = {h: stored for h, (_v, _a, _args, stored, _t) in enumerate(batch)}
    got: list[bytes] = []
    read_exact_entries(info, [(h, v, a, args, ttl) for h, (v, a, args, _s, ttl) in
                              enumerate(batch)], ACTIONS, extras, want, got.append)
    expected = [_message(info.id, v, a, args, s, ttl, is_const).SerializeToString()
                for v, a, args, s, ttl in batch
                if not want or (a is not None and ACTIONS[a].id == want)]
    assert got == expected


def test_bytes_and_messages_answer_one_read_in_order() -> None:
    responses = ReadResponses(per_message=2)
    first = P.TableEntry(table_id=1, priority=3)
    responses.add().table_entry.CopyFrom(first)
    raw = [P.TableEntry(table_id=2, is_const=True), P.TableEntry(table_id=3),
           P.TableEntry(table_id=4, controller_metadata=9)]
    for te in raw:
        responses.add_table_entry_bytes(te.SerializeToString())
    last = P.TableEntry(table_id=5)
    responses.append(P.Entity(table_entry=last))
    assert len(responses) == 5
    assert [e.table_entry for e in responses] == [first, *raw, last]
    sent = responses.response_messages()
    assert [type(m) is BytesReadResponse for m in sent] == [False, True, True, False]
    # On the wire a bytes message is a ReadResponse like any other.
    parsed = [P.ReadResponse.FromString(m.SerializeToString()) for m in sent]
    assert [e.table_entry for m in parsed for e in m.entities] == [first, *raw, last]
    assert ReadResponses().response_messages() == [P.ReadResponse()]
