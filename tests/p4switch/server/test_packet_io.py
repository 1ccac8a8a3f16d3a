"""Controller headers are packed and parsed as PI's packet_io_mgr does."""

import pytest

from p4switch.p4runtime.errors import P4RuntimeError
from p4switch.p4runtime.p4info_index import P4InfoIndex
from p4switch.p4runtime.packet_io import build_packet_out_frame, parse_packet_in
from p4switch.p4runtime.proto import code_pb2, p4info_pb2, p4runtime_pb2


def index_with_headers() -> P4InfoIndex:
    info = p4info_pb2.P4Info()
    for name, fields in (("packet_out", [("egress_port", 9), ("_pad", 7)]),
                         ("packet_in", [("ingress_port", 9), ("reason", 7)])):
        header = info.controller_packet_metadata.add()
        header.preamble.id = 0x40000001 if name == "packet_out" else 0x40000002
        header.preamble.name = name
        for i, (fname, width) in enumerate(fields, start=1):
            header.metadata.add(id=i, name=fname, bitwidth=width)
    return P4InfoIndex(info)


def test_packet_out_header_is_packed_msb_first():
    index = index_with_headers()
    packet = p4runtime_pb2.PacketOut(payload=b"PAYLOAD")
    packet.metadata.add(metadata_id=1, value=b"\x01\x02")  # port 258
    frame = build_packet_out_frame(index.packet_out, packet)
    # 9 bits of 258 = 100000010, then 7 zero bits
    assert frame == bytes([0b10000001, 0b00000000]) + b"PAYLOAD"


def test_missing_packet_out_field_is_zero_as_in_pi():
    index = index_with_headers()
    frame = build_packet_out_frame(index.packet_out, p4runtime_pb2.PacketOut(payload=b"x"))
    assert frame == b"\x00\x00x"


@pytest.mark.parametrize("metadata_id, value, words", [
    (7, b"\x01", "metadata id 7"),
    (1, b"\x02\x00", "9 bits"),
])
def test_bad_packet_out_metadata_is_refused(metadata_id, value, words):
    index = index_with_headers()
    packet = p4runtime_pb2.PacketOut(payload=b"x")
    packet.metadata.add(metadata_id=metadata_id, value=value)
    with pytest.raises(P4RuntimeError) as e:
        build_packet_out_frame(index.packet_out, packet)
    assert e.value.code == code_pb2.INVALID_ARGUMENT
    assert words in e.value.message


def test_packet_in_metadata_is_parsed_off():
    index = index_with_headers()
    frame = bytes([0b00000011, 0b10000101]) + b"frame"  # port 7, reason 5
    message = parse_packet_in(index.packet_in, frame)
    assert message.packet.payload == b"frame"
    assert {(m.metadata_id, m.value) for m in message.packet.metadata} == {
        (1, b"\x07"), (2, b"\x05")}


def test_frame_shorter_than_packet_in_header_is_dropped():
    assert parse_packet_in(index_with_headers().packet_in, b"\x01") is None
