"""P4Runtime byte strings are decoded exactly as PI does (common.cpp)."""

import pytest

from p4switch.p4runtime.bytestrings import to_bytes, to_int, to_port
from p4switch.p4runtime.errors import P4RuntimeError
from p4switch.p4runtime.proto import code_pb2


def test_canonical_and_padded_values_both_decode():
    assert to_int(b"\x0a", 9, "f") == 10
    assert to_int(b"\x00\x00\x00\x0a", 9, "f") == 10  # leading zeros: accepted, as PI


def test_empty_string_is_zero_as_in_pi():
    assert to_int(b"", 32, "f") == 0


def test_value_wider_than_the_field_is_refused_and_named():
    with pytest.raises(P4RuntimeError) as e:
        to_int(b"\x02\x00", 9, "match field 1 ('hdr.x')")
    assert e.value.code == code_pb2.INVALID_ARGUMENT
    assert "hdr.x" in e.value.message and "9 bits" in e.value.message


def test_top_bits_of_a_padded_value_must_be_zero():
    assert to_int(b"\x01\xff", 9, "f") == 511
    with pytest.raises(P4RuntimeError):
        to_int(b"\x00\x02\x00", 9, "f")


def test_answers_are_canonical():
    assert to_bytes(0) == b"\x00"
    assert to_bytes(10) == b"\x0a"
    assert to_bytes(0x1234) == b"\x12\x34"


def test_ports_given_as_bytes():
    assert to_port(b"\x00\x05", "replica") == 5
    with pytest.raises(P4RuntimeError) as e:
        to_port(b"", "replica")
    assert e.value.code == code_pb2.INVALID_ARGUMENT
    with pytest.raises(P4RuntimeError) as e:
        to_port(b"\x00" * 5, "replica")
    assert e.value.code == code_pb2.UNIMPLEMENTED
