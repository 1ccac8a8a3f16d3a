"""SetForwardingPipelineConfig / GetForwardingPipelineConfig / Capabilities as PI does them."""

import grpc
import pytest
from frames import MAC_B, ethernet
from p4rt_client import ON_BMV2, SetAction, Update, update

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Get = p4runtime_pb2.GetForwardingPipelineConfigRequest
Entity = p4runtime_pb2.Entity


def dmac_forward(names, mac=MAC_B, port=3):
    return update(Update.INSERT, table_entry=names.entry("dmac", {"hdr.ethernet.dst": mac},
                                                         "forward", port=port))


def with_dmac_key_bits(program, bits):
    """The program's P4Info, with dmac's key field given another bitwidth (a P4Info
    left from another version of the program)."""
    p4info = program.p4info
    table = next(t for t in p4info.tables if t.preamble.name.endswith(".dmac"))
    table.match_fields[0].bitwidth = bits
    return p4info


def test_get_returns_what_was_set_per_response_type(switch, features):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json, cookie=42)
    full = c.get_pipeline(Get.ALL)
    assert full.p4info == features.p4info and full.p4_device_config == features.json
    assert full.cookie.cookie == 42
    cookie = c.get_pipeline(Get.COOKIE_ONLY)
    assert not cookie.HasField("p4info") and not cookie.p4_device_config
    assert cookie.cookie.cookie == 42
    p4info_only = c.get_pipeline(Get.P4INFO_AND_COOKIE)
    assert p4info_only.p4info == features.p4info and not p4info_only.p4_device_config
    config_only = c.get_pipeline(Get.DEVICE_CONFIG_AND_COOKIE)
    assert not config_only.HasField("p4info") and config_only.p4_device_config == features.json


def test_nothing_works_before_a_pipeline_is_set(switch, features):
    c = switch.controller()
    for call in (lambda: c.get_pipeline(), lambda: c.write(dmac_forward(features.names)),
                 lambda: c.read(Entity(table_entry=p4runtime_pb2.TableEntry()))):
        with pytest.raises(grpc.RpcError) as e:
            call()
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.embedded_only("PI's VERIFY reads the P4Info only, not the device config")
def test_verify_checks_without_changing_anything(switch, features, minimal):
    c = switch.controller()
    c.set_pipeline(minimal.p4info, minimal.json)
    c.set_pipeline(features.p4info, features.json, action=SetAction.VERIFY)
    assert c.get_pipeline().p4info == minimal.p4info
    with pytest.raises(grpc.RpcError) as e:
        c.set_pipeline(with_dmac_key_bits(features, 40), features.json, action=SetAction.VERIFY)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_save_then_commit(switch, features, minimal):
    c = switch.controller()
    c.set_pipeline(minimal.p4info, minimal.json)
    minimal_forward = minimal.names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=5)
    c.write(update(Update.INSERT, table_entry=minimal_forward))
    c.set_pipeline(features.p4info, features.json, action=SetAction.VERIFY_AND_SAVE)
    # P4Runtime now speaks the saved program, packets still run the old one
    assert c.get_pipeline().p4info == features.p4info
    c.write(dmac_forward(features.names, port=3))
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 5
    c.set_pipeline(None, b"", action=SetAction.COMMIT)
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 3


@pytest.mark.embedded_only("PI answers UNKNOWN")
def test_commit_without_save_is_refused(switch, features):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    with pytest.raises(grpc.RpcError) as e:
        c.set_pipeline(None, b"", action=SetAction.COMMIT)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.embedded_only("PI replays indexed counters with INSERT, which it refuses itself")
def test_reconcile_keeps_the_forwarding_state(switch, features):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    c.write(dmac_forward(features.names, port=3))
    c.set_pipeline(features.p4info, features.json, action=SetAction.RECONCILE_AND_COMMIT)
    entries = c.read(Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=features.names.table_id("dmac"))))
    assert len(entries) == 1
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 3


@pytest.mark.embedded_only("PI's RECONCILE_AND_COMMIT is not all or nothing")
def test_reconcile_that_cannot_fit_changes_nothing(switch, features, minimal):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    c.write(update(Update.INSERT, table_entry=features.names.entry(
        "route", {"hdr.ipv4.dst": (0x0A000000, 8)}, "nop")))
    with pytest.raises(grpc.RpcError) as e:
        c.set_pipeline(minimal.p4info, minimal.json, action=SetAction.RECONCILE_AND_COMMIT)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert c.get_pipeline().p4info == features.p4info


def test_new_pipeline_starts_empty(switch, features):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    c.write(dmac_forward(features.names))
    c.set_pipeline(features.p4info, features.json)
    assert c.read(Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=features.names.table_id("dmac")))) == []


@pytest.mark.embedded_only("PI answers UNKNOWN")
@pytest.mark.parametrize("device_config, words", [
    (b"", "empty"),
    (b"\x00\xff garbage \x13", "not BMv2 JSON"),
    (b"[1, 2, 3]", "not a BMv2 program"),
    (b'{"header_types": 7}', "p4_device_config"),
])
def test_bad_device_config_is_refused_and_the_old_pipeline_keeps_running(
        switch, features, device_config, words):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    c.write(dmac_forward(features.names, port=3))
    with pytest.raises(grpc.RpcError) as e:
        c.set_pipeline(features.p4info, device_config)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in e.value.details()
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 3
    assert len(c.read(Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=features.names.table_id("dmac"))))) == 1


def legacy_device_config(**fields) -> bytes:
    """PI's deprecated p4.tmp.P4DeviceConfig (reassign = 1, device_data = 3), encoded
    by hand: no Python module of it is published."""
    out = b""
    if fields.get("reassign"):
        out += b"\x08\x01"
    data = fields.get("device_data", b"")
    if data:
        out += b"\x1a" + _varint(len(data)) + data
    return out


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def test_the_legacy_p4_device_config_message_is_read_as_pi_reads_it(switch, features):
    c = switch.controller()
    c.set_pipeline(features.p4info, legacy_device_config(reassign=True,
                                                         device_data=features.json))
    c.write(dmac_forward(features.names, port=3))
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 3


@pytest.mark.embedded_only("PI keeps the JSON BMv2 was started with (VERIFY_AND_COMMIT only)")
def test_a_legacy_p4_device_config_without_device_data_is_refused(switch, features):
    c = switch.controller()
    with pytest.raises(grpc.RpcError) as e:
        c.set_pipeline(features.p4info, legacy_device_config(reassign=True))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "without device_data" in e.value.details()


@pytest.mark.embedded_only("PI does not compare the P4Info with the BMv2 JSON")
def test_p4info_whose_key_widths_differ_from_the_json_is_refused(switch, features):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    with pytest.raises(grpc.RpcError) as e:
        c.set_pipeline(with_dmac_key_bits(features, 40), features.json)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "does not match the device config" in e.value.details()
    assert c.get_pipeline().p4info == features.p4info


def test_p4info_sharing_no_name_with_the_json_loads_and_its_writes_fail(switch, features,
                                                                         minimal):
    # Nothing tells it from a P4Info whose tables p4c all removed as dead code, so
    # it loads as on BMv2, and writes to the P4Info's tables fail.
    c = switch.controller()
    c.set_pipeline(features.p4info, minimal.json)
    assert write_errors_of(c, dmac_forward(features.names)) == [code_pb2.UNKNOWN]
    dmac_entries = Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=features.names.table_id("dmac")))
    if ON_BMV2:  # PI: "Error when reading table entries from target"
        with pytest.raises(grpc.RpcError) as e:
            c.read(dmac_entries)
        assert e.value.code() == grpc.StatusCode.UNKNOWN
    else:
        assert c.read(dmac_entries) == []


def write_errors_of(c, *updates):
    return [code for code, _ in c.write_errors(*updates)]


@pytest.mark.embedded_only("PI's P4Info reader behaves otherwise")
def test_p4info_with_duplicate_ids_is_refused(switch, features):
    c = switch.controller()
    p4info = features.p4info
    p4info.tables[1].preamble.id = p4info.tables[0].preamble.id
    with pytest.raises(grpc.RpcError) as e:
        c.set_pipeline(p4info, features.json)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "also used by" in e.value.details()


@pytest.mark.embedded_only("PI answers FAILED_PRECONDITION (the specification: NOT_FOUND)")
def test_unknown_device_id_is_not_found(switch, features):
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    other = switch.controller(device_id=7, arbitrate=False)
    for call in (lambda: other.get_pipeline(),
                 lambda: other.read(Entity(table_entry=p4runtime_pb2.TableEntry()))):
        with pytest.raises(grpc.RpcError) as e:
            call()
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        assert "device id 7" in e.value.details()


@pytest.mark.embedded_only("PI reports 1.3.0")
def test_capabilities(switch):
    c = switch.controller(arbitrate=False)
    reply = c.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest())
    assert reply.p4runtime_api_version == "1.4.1"
