"""The fast path of all-exact table writes (p4switch/p4runtime/exact_writes.py)
answers every update as the general path does.

Two devices load lb.p4; one has its fast path turned off. Hypothesis draws
batches of updates for the maglev, flow4 (idle timeout) and as_encap (several
actions) tables, most of them well formed, some damaged in one way a client
could damage them; both devices must give each update the same code and
message, and read back the same tables. ``make fuzz`` draws 100 times more.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p4switch.p4runtime.device import Device
from p4switch.p4runtime.proto import p4runtime_pb2
from tests.fuzz.conftest import examples
from tests.integration.lb_fixture import LB_JSON, lb_p4info

P = p4runtime_pb2
Update = P.Update
P4INFO = lb_p4info()
TABLES = {t.preamble.name: t for t in P4INFO.tables}
ACTIONS = {a.preamble.id: a for a in P4INFO.actions}
ACTION_IDS = {a.preamble.name: a.preamble.id for a in P4INFO.actions}
WRITTEN = ("maglev", "flow4", "flow6", "as_encap")
# An unknown field (number 99, varint) as protobuf keeps it: parsed, ignored, re-sent.
UNKNOWN_FIELD = b"\x98\x06\x01"


def loaded_device(fast: bool) -> Device:
    device = Device(0, None)
    config = P.ForwardingPipelineConfig(p4_device_config=LB_JSON.read_bytes())
    config.p4info.CopyFrom(P4INFO)
    device.set_pipeline(P.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT, config)
    if not fast:
        device._current().tables._exact_writers.clear()
    return device


def canonical(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


# Each a way a client could get one update wrong (or unusual but right).
DAMAGES = ["missing_field", "repeated_field", "unknown_field", "too_wide", "lpm_kind",
           "priority", "wrong_action", "default_only", "no_action", "missing_param",
           "extra_param", "repeated_param", "wide_param", "negative_ttl", "default_flag",
           "counter_data", "is_const", "member", "padded_value", "long_padding",
           "unknown_in_field", "unknown_in_entry"]
UPDATE_TYPES = [Update.INSERT, Update.MODIFY, Update.DELETE, Update.UNSPECIFIED]
MOSTLY_CLEAN = st.sampled_from(["none"] * 12 + DAMAGES)


@st.composite
def table_entries(draw, damages=MOSTLY_CLEAN) -> P.TableEntry:
    table = TABLES[draw(st.sampled_from(WRITTEN))]
    te = P.TableEntry(table_id=table.preamble.id)
    fields = list(table.match_fields)
    damage = draw(damages)
    for i, f in enumerate(fields):
        if damage == "missing_field" and i == 0:
            continue
        # a few values each, so that updates meet each other's entries
        value = draw(st.integers(0, 3))
        if damage == "too_wide" and i == 0:
            value = 1 << f.bitwidth
        fm = te.match.add(field_id=f.id)
        if damage == "lpm_kind" and i == 0:
            fm.lpm.value, fm.lpm.prefix_len = canonical(value), f.bitwidth
        else:
            padding = {"padded_value": 1, "long_padding": 130}.get(damage, 0)
            fm.exact.value = b"\0" * padding + canonical(value)
        if damage == "unknown_in_field" and i == len(fields) - 1:
            fm.MergeFromString(UNKNOWN_FIELD)
        if damage == "repeated_field" and i == 0:
            te.match.add(field_id=f.id).exact.value = canonical(value)
    if damage == "unknown_field":
        te.match[0].field_id = 99
    refs = list(table.action_refs)
    entry_actions = [r.id for r in refs if r.scope == 0]
    default_only = [r.id for r in refs if r.scope != 0]
    if damage == "no_action":
        pass
    elif damage == "member":
        te.action.action_profile_member_id = 1
    else:
        if damage == "wrong_action":
            action_id = ACTION_IDS["use_flow_as"] if table.preamble.name == "maglev" else \
                ACTION_IDS["use_bucket_as"]
        elif damage == "default_only" and default_only:
            action_id = default_only[0]
        else:
            action_id = draw(st.sampled_from(entry_actions))
        action = te.action.action
        action.action_id = action_id
        params = list(ACTIONS[action_id].params)
        for i, p in enumerate(params):
            if damage == "missing_param" and i == 0:
                continue
            value = draw(st.integers(0, 2))
            if damage == "wide_param" and i == 0:
                value = 1 << p.bitwidth
            action.params.add(param_id=p.id, value=canonical(value))
            if damage == "repeated_param" and i == 0:
                action.params.add(param_id=p.id, value=canonical(value))
        if damage == "extra_param":
            action.params.add(param_id=len(params) + 1, value=b"\x01")
    if table.idle_timeout_behavior:
        te.idle_timeout_ns = draw(st.sampled_from([0, 1, 40_000_000_000, 1_500_000]))
    if damage == "negative_ttl":
        te.idle_timeout_ns = -5
    if damage == "priority":
        te.priority = 3
    if damage == "default_flag":
        te.is_default_action = True
    if damage == "counter_data":
        te.counter_data.packet_count = 1
    if damage == "is_const":
        te.is_const = True
    te.controller_metadata = draw(st.sampled_from([0, 0, 7]))
    te.metadata = draw(st.sampled_from([b"", b"", b"note"]))
    if damage == "unknown_in_entry":
        te.MergeFromString(UNKNOWN_FIELD)
    return te


updates = st.builds(
    lambda kind, te: Update(type=kind, entity=P.Entity(table_entry=te)),
    st.sampled_from([Update.INSERT] * 3 + [Update.MODIFY] * 3 + [Update.DELETE] * 2
                    + [Update.UNSPECIFIED]),
    table_entries(),
)


def outcome(results) -> list[tuple[int, str] | None]:
    return [None if r is None else (r.code, r.message) for r in results]


def tables_of(device: Device) -> dict[str, list[bytes]]:
    out = {}
    for name in WRITTEN:
        entity = P.Entity(table_entry=P.TableEntry(table_id=TABLES[name].preamble.id))
        out[name] = sorted(e.SerializeToString(deterministic=True)
                           for e in device.read([entity]))
    return out


@pytest.fixture(scope="module")
def devices():
    fast, general = loaded_device(fast=True), loaded_device(fast=False)
    assert fast._current().tables._exact_writers, "lb.p4's exact tables take the fast path"
    yield fast, general
    fast.close()
    general.close()


def emptied(*devices: Device) -> None:
    """Deletes every entry of the written tables (through the general path's answers)."""
    for device in devices:
        entries = []
        for name in WRITTEN:
            entity = P.Entity(table_entry=P.TableEntry(table_id=TABLES[name].preamble.id))
            entries += [e.table_entry for e in device.read([entity])]
        for te in entries:
            te.ClearField("action")
            te.ClearField("idle_timeout_ns")
            te.ClearField("metadata")
            te.ClearField("controller_metadata")
        request = P.WriteRequest(device_id=0, updates=[
            Update(type=Update.DELETE, entity=P.Entity(table_entry=te)) for te in entries])
        assert outcome(device.write(request)) == [None] * len(entries)


def apply_to_both(devices, batches) -> None:
    fast, general = devices
    emptied(fast, general)
    for batch in batches:
        request = P.WriteRequest(device_id=0, updates=batch)
        assert outcome(fast.write(request)) == outcome(general.write(request))
    assert tables_of(fast) == tables_of(general)


@examples(40)  # 4,000 under make fuzz
@given(batches=st.lists(st.lists(updates, min_size=1, max_size=12), min_size=1, max_size=4))
def test_fast_and_general_paths_answer_alike(devices, batches):
    apply_to_both(devices, batches)


@pytest.mark.parametrize("damage", DAMAGES)
@examples(4)
@given(data=st.data())
def test_each_damage_is_answered_alike(devices, damage, data):
    """Every damage, after entries it may collide with, for every update type."""
    clean = [Update(type=Update.INSERT, entity=P.Entity(table_entry=te)) for te in
             data.draw(st.lists(table_entries(st.just("none")), min_size=4, max_size=8))]
    damaged = [Update(type=kind, entity=P.Entity(table_entry=data.draw(
        table_entries(st.just(damage))))) for kind in UPDATE_TYPES]
    apply_to_both(devices, [clean, damaged])


def test_fast_path_writes_what_packets_then_use():
    """A bucket written by the fast path is the one the data plane reads back, and
    a MODIFY and a DELETE by key find it."""
    device = loaded_device(fast=True)
    try:
        maglev = TABLES["maglev"]
        te = P.TableEntry(table_id=maglev.preamble.id)
        te.match.add(field_id=1).exact.value = b"\x05"
        te.match.add(field_id=2).exact.value = b"\x01\x00"
        te.action.action.action_id = ACTION_IDS["use_bucket_as"]
        te.action.action.params.add(param_id=1, value=b"\x09")
        for kind, as_id in ((Update.INSERT, 9), (Update.MODIFY, 11)):
            te.action.action.params[0].value = canonical(as_id)
            request = P.WriteRequest(device_id=0, updates=[
                Update(type=kind, entity=P.Entity(table_entry=te))])
            assert device.write(request) == [None]
            [back] = tables_of(device)["maglev"]
            read = P.Entity.FromString(back).table_entry
            assert read.action.action.params[0].value == canonical(as_id)
        te.ClearField("action")
        delete = P.WriteRequest(device_id=0, updates=[
            Update(type=Update.DELETE, entity=P.Entity(table_entry=te))])
        assert device.write(delete) == [None]
        assert tables_of(device)["maglev"] == []
        [missing] = device.write(delete)
        assert missing is not None and missing.code == 5  # NOT_FOUND
    finally:
        device.close()
