"""The bench's hand-encoded entries are byte for byte what the controller would send."""

from __future__ import annotations

import pytest
from p4.v1 import p4runtime_pb2
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from bench.entry_bytes import EntryEncoder, canonical_bytes, write_requests
from bench.lb_state import LbStateSize, config_lines, flow_frame, write_state_file
from controller.p4_schema import DecodedEntry, P4Schema, SchemaError, encode_int
from tests.integration.lb_fixture import LB_P4INFO, lb_p4info

pytestmark = pytest.mark.skipif(not LB_P4INFO.exists(), reason="p4src/build not built yet")

ENTRIES = [
    DecodedEntry("maglev", (3, 5), "use_bucket_as", (7,)),
    DecodedEntry("maglev", (0, 0), "use_bucket_as", (0,)),
    DecodedEntry("maglev", (65535, 65535), "use_bucket_as", (65535,)),
    DecodedEntry("vip4", ((0x0A000001, 32),), "set_vip", (1, 1023, 0)),
    DecodedEntry("vip4", ((0, 0),), "set_vip", (2, 1023, 1)),
    DecodedEntry("route4", ((0x0A010000, 16),), "set_next_hop",
                 (1, 0x024C42000001, 0x020000000101)),
    DecodedEntry("flow4", (1, 0x0A090001, 0x0A000001, 6, 10000, 80), "use_flow_as", (3,)),
    DecodedEntry("as_encap", (3,), "encap_gre4", (0xC0000201, 0x0A010101)),
]


@pytest.fixture(scope="module")
def schema() -> P4Schema:
    return P4Schema(lb_p4info())


@pytest.mark.parametrize("kind", [p4runtime_pb2.Update.INSERT, p4runtime_pb2.Update.MODIFY,
                                  p4runtime_pb2.Update.DELETE])
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.table}{e.key}")
def test_update_bytes_equal_the_protobuf_serialization(schema, entry, kind) -> None:
    timeout = 5_000_000_000 if entry.table == "flow4" else 0
    expected = p4runtime_pb2.Update(type=kind)
    if kind == p4runtime_pb2.Update.DELETE:
        expected.entity.table_entry.CopyFrom(schema.table_key(entry))
    else:
        expected.entity.table_entry.CopyFrom(schema.encode_entry(entry, timeout))
    assert EntryEncoder(schema).update(kind, entry, timeout) == expected.SerializeToString()


def test_write_requests_carry_device_election_and_batches(schema) -> None:
    updates = [EntryEncoder(schema).update(p4runtime_pb2.Update.INSERT, e) for e in ENTRIES]
    requests = write_requests(updates, election_id=(1 << 64) + 5, device_id=3, batch=3)
    parsed = [p4runtime_pb2.WriteRequest.FromString(r) for r in requests]
    assert [len(r.updates) for r in parsed] == [3, 3, 2]
    assert all(r.device_id == 3 and r.election_id.high == 1 and r.election_id.low == 5
               for r in parsed)


@pytest.mark.parametrize("value,width", [(0, 8), (1, 1), (255, 8), (256, 16), (2**48 - 1, 48)])
def test_canonical_bytes_match_the_controllers(value, width) -> None:
    assert canonical_bytes(value, width, "x") == encode_int(value, width, "x")


def test_out_of_range_values_name_the_field(schema) -> None:
    with pytest.raises(SchemaError, match="maglev.bucket"):
        EntryEncoder(schema).update(1, DecodedEntry("maglev", (1, 1 << 40), "use_bucket_as", (1,)))
    with pytest.raises(SchemaError, match="params"):
        EntryEncoder(schema).update(1, DecodedEntry("maglev", (1, 1), "use_bucket_as", ()))


@pytest.mark.parametrize("size", [54, 64, 1400])
def test_frames_have_correct_checksums_and_length(size) -> None:
    frame = flow_frame(70_000, 100, size, new=False)
    pkt = Ether(frame)
    rebuilt = Ether(frame)
    del rebuilt[IP].chksum
    del rebuilt[TCP].chksum
    assert len(frame) == size and bytes(rebuilt) == frame
    assert pkt[IP].dst == "10.0.0.1" and pkt[TCP].dport == 80


def test_frame_smaller_than_its_headers_is_refused() -> None:
    with pytest.raises(ValueError, match="frame size 40"):
        flow_frame(0, 1, 40, new=True)


def test_state_configuration_is_valid_vpp_grammar(tmp_path) -> None:
    config = write_state_file(config_lines(LbStateSize(vips=3, ases_per_vip=4)),
                              tmp_path / "state.json")
    assert len(config.vips()) == 3 and config.as_count() == 12
    assert (tmp_path / "state.json").exists()
