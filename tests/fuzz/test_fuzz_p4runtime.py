"""Damaged P4Runtime writes, reads and stream messages against the embedded switch.

Every example sends bytes as a client would put them on the wire (a channel
without serializers). The switch's table is kept in a model: a request that
protobuf cannot parse must be refused whole (INVALID_ARGUMENT) and change
nothing; one that parses into updates the model knows gets, update by
update, the codes the model predicts; anything else may be refused, never
with INTERNAL, and the model then takes what the switch reads back. After
every example the table read back equals the model, and the switch answers.
"""

from __future__ import annotations

import os
import queue

import grpc
import pytest
from google.protobuf.message import DecodeError
from hypothesis import event, given
from hypothesis import strategies as st
from p4rt_client import Update
from switch_harness import program, start_switch

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2, status_pb2
from tests.fuzz.conftest import examples
from tests.fuzz.mutations import damaged

pytestmark = pytest.mark.skipif(
    os.environ.get("TARGET", "embedded") != "embedded",
    reason="holds the embedded switch to its contract (BMv2 answers other codes)")

TOP = (2**64 - 1, 2**64 - 1)  # the primary's election id: no fuzzed arbitration beats it
MACS = [0x0A0000000001 + i for i in range(6)]
PORTS = [1, 2, 3, 511]
UPDATE_TYPES = {Update.INSERT: "insert", Update.MODIFY: "modify", Update.DELETE: "delete"}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    features = program("srv_features")
    switch = start_switch(tmp_path_factory.mktemp("fuzz-switch"))
    c = switch.controller(election_id=TOP)
    c.set_pipeline(features.p4info, features.json)
    model: dict = {}  # the dmac table as it must be (reset by each example)
    yield switch, c, features.names, model
    switch.stop()


def make_update(names, update_type: int, mac: int, port: int) -> p4runtime_pb2.Update:
    entry = names.entry("dmac", {"hdr.ethernet.dst": mac}, "forward", port=port)
    if update_type == Update.DELETE:
        entry.ClearField("action")
    u = p4runtime_pb2.Update(type=update_type)
    u.entity.table_entry.CopyFrom(entry)
    return u


def write_request(updates) -> p4runtime_pb2.WriteRequest:
    request = p4runtime_pb2.WriteRequest(device_id=0, updates=updates)
    request.election_id.high, request.election_id.low = TOP
    return request


def table(c, names) -> dict[int, tuple]:
    """The dmac table read back: MAC -> (action id, parameter values)."""
    entity = p4runtime_pb2.Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=names.table_id("dmac")))
    out = {}
    for e in c.read(entity):
        te = e.table_entry
        action = te.action.action
        out[int.from_bytes(te.match[0].exact.value, "big")] = (
            action.action_id, tuple(int.from_bytes(p.value, "big") for p in action.params))
    return out


def known_updates(names, request, forward_id: int) -> list[tuple[int, int, int]] | None:
    """(type, MAC, port) of each update, when the request is made of updates
    `make_update` would build from the model's domain; else None."""
    if (request.device_id != 0 or request.role or request.atomicity
            or (request.election_id.high, request.election_id.low) != TOP):
        return None
    out = []
    for u in request.updates:
        if u.type not in UPDATE_TYPES or u.entity.WhichOneof("entity") != "table_entry":
            return None
        te = u.entity.table_entry
        if len(te.match) != 1 or te.match[0].WhichOneof("field_match_type") != "exact":
            return None
        mac = int.from_bytes(te.match[0].exact.value, "big")
        port = PORTS[0]
        params = te.action.action.params
        if u.type != Update.DELETE:
            if len(params) != 1:
                return None
            port = int.from_bytes(params[0].value, "big")
        if mac not in MACS or port not in PORTS or u != make_update(names, u.type, mac, port):
            return None
        out.append((u.type, mac, port))
    return out


def predict(model: dict, updates, forward_id: int) -> list[int]:
    """Applies ``updates`` to ``model``; the code each update must get."""
    codes = []
    for update_type, mac, port in updates:
        present = mac in model
        if update_type == Update.INSERT and present:
            codes.append(code_pb2.ALREADY_EXISTS)
        elif update_type != Update.INSERT and not present:
            codes.append(code_pb2.NOT_FOUND)
        else:
            codes.append(code_pb2.OK)
            if update_type == Update.DELETE:
                del model[mac]
            else:
                model[mac] = (forward_id, (port,))
    return codes


def send_write(switch, data: bytes) -> tuple[grpc.StatusCode, list[int]]:
    """The RPC's code and the per-update codes of its status details."""
    channel = grpc.insecure_channel(switch.address)
    try:
        channel.unary_unary("/p4.v1.P4Runtime/Write")(data, timeout=30)
        return grpc.StatusCode.OK, []
    except grpc.RpcError as e:
        codes = []
        for key, value in e.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                for detail in status_pb2.Status.FromString(value).details:
                    error = p4runtime_pb2.Error()
                    assert detail.Unpack(error)
                    codes.append(error.canonical_code)
        return e.code(), codes
    finally:
        channel.close()


update_ops = st.lists(st.tuples(st.sampled_from(list(UPDATE_TYPES)), st.sampled_from(MACS),
                                st.sampled_from(PORTS)), min_size=1, max_size=5)


def reset(c, names, model: dict, initial: dict[int, int]) -> None:
    """Every example starts from ``initial`` (MAC -> port), whatever the last left."""
    entity = p4runtime_pb2.Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=names.table_id("dmac")))
    stale = []
    for e in c.read(entity):
        u = p4runtime_pb2.Update(type=Update.DELETE)
        u.entity.table_entry.CopyFrom(e.table_entry)
        u.entity.table_entry.ClearField("action")
        stale.append(u)
    if stale:
        c.write(*stale)
    if initial:
        c.write(*[make_update(names, Update.INSERT, mac, port) for mac, port in initial.items()])
    model.clear()
    model.update({mac: (names.action_id("forward"), (port,)) for mac, port in initial.items()})


@examples(small=150)
@given(initial=st.dictionaries(st.sampled_from(MACS), st.sampled_from(PORTS), max_size=4),
       ops=update_ops, damage=st.booleans(), data=st.data())
def test_damaged_writes_and_reads_keep_the_table_as_the_model_says(rig, initial, ops, damage,
                                                                   data) -> None:
    switch, c, names, model = rig
    forward_id = names.action_id("forward")
    reset(c, names, model, initial)
    request = write_request([make_update(names, *op) for op in ops])
    wire = request.SerializeToString()
    if damage:
        wire = data.draw(damaged(wire, request))
    try:
        parsed = p4runtime_pb2.WriteRequest.FromString(wire)
    except DecodeError:
        parsed = None
    code, codes = send_write(switch, wire)
    if parsed is None:
        event(f"write: protobuf refuses it; switch {code}")
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (wire.hex(), code)
    else:
        known = known_updates(names, parsed, forward_id)
        if known is not None:
            event("write: updates the model knows")
            expected = predict(model, known, forward_id)
            if all(x == code_pb2.OK for x in expected):
                assert code == grpc.StatusCode.OK, (wire.hex(), code)
            else:
                assert (code, codes) == (grpc.StatusCode.UNKNOWN, expected), wire.hex()
        else:
            event("write: parses into something else")
            assert code != grpc.StatusCode.INTERNAL and code_pb2.INTERNAL not in codes
            assert code != grpc.StatusCode.UNKNOWN or codes, "UNKNOWN without details"
            model.clear()
            model.update(table(c, names))
    assert table(c, names) == model, wire.hex()
    # a damaged read: refused if protobuf refuses it, never INTERNAL
    read = p4runtime_pb2.ReadRequest(device_id=0)
    read.entities.add().table_entry.table_id = names.table_id("dmac")
    raw = data.draw(damaged(read.SerializeToString(), read))
    try:
        p4runtime_pb2.ReadRequest.FromString(raw)
        parses = True
    except DecodeError:
        parses = False
    channel = grpc.insecure_channel(switch.address)
    try:
        list(channel.unary_stream("/p4.v1.P4Runtime/Read")(raw, timeout=30))
    except grpc.RpcError as e:
        assert e.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
        assert parses or e.code() == grpc.StatusCode.INVALID_ARGUMENT
    else:
        assert parses, raw.hex()
    finally:
        channel.close()


def stream_messages(names):
    arbitration = p4runtime_pb2.StreamMessageRequest()
    arbitration.arbitration.device_id = 0
    arbitration.arbitration.election_id.low = 5
    packet = p4runtime_pb2.StreamMessageRequest()
    packet.packet.payload = bytes(20)
    packet.packet.metadata.add(metadata_id=1, value=b"\x02")
    ack = p4runtime_pb2.StreamMessageRequest()
    ack.digest_ack.digest_id = 1
    ack.digest_ack.list_id = 1
    return [arbitration, packet, ack, p4runtime_pb2.StreamMessageRequest()]


@examples(small=60)
@given(data=st.data(), count=st.integers(1, 6))
def test_damaged_stream_messages_leave_the_primary_and_its_table_alone(rig, data,
                                                                       count) -> None:
    switch, c, names, model = rig
    reset(c, names, model, {MACS[1]: 2})
    bases = stream_messages(names)
    outbox: queue.Queue = queue.Queue()
    channel = grpc.insecure_channel(switch.address)
    try:
        stream = channel.stream_stream("/p4.v1.P4Runtime/StreamChannel")(
            iter(outbox.get, None), timeout=30)
        sent = []
        for _ in range(count):
            base = data.draw(st.sampled_from(bases))
            message = data.draw(damaged(base.SerializeToString(), base)
                                | st.just(base.SerializeToString()))
            sent.append(message)
            outbox.put(message)
        outbox.put(None)
        try:
            for reply in stream:
                # whatever the switch answers is a well-formed message
                p4runtime_pb2.StreamMessageResponse.FromString(reply)
        except grpc.RpcError as e:
            assert e.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (
                e, [m.hex() for m in sent])
    finally:
        channel.close()
    # the primary is still the primary, and its table as it was
    probe = make_update(names, Update.INSERT, MACS[0] + 100, 1)
    c.write(probe)
    probe.type = Update.DELETE
    probe.entity.table_entry.ClearField("action")
    c.write(probe)
    assert table(c, names) == model
