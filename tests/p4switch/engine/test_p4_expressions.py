"""eng_expressions.p4: widths, signedness, saturation, slices, casts, booleans and
run-time stack indices, as p4c compiles them for BMv2, checked against Python."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from .compiled import switch

IN = struct.Struct("!BBbbHB")
OUT = struct.Struct("!BBBBBbbbBBbBBBBHBBhHBBBBB")


@pytest.fixture(scope="module")
def sw():
    s = switch("eng_expressions")
    yield s
    s.close()


def s8(x: int) -> int:
    x &= 0xFF
    return x - 256 if x & 0x80 else x


def expected(a: int, b: int, sa: int, sb: int, w: int, idx: int) -> tuple:
    slt, ult, eq = int(sa < sb), int(a < b), int(a == b)
    mixed = int((a > 5 and b < 10) or w == 0)
    return (
        (a + b) & 0xFF,
        (a - b) & 0xFF,
        (a * b) & 0xFF,
        min(a + b, 255),
        max(a - b, 0),
        max(min(sa + sb, 127), -128),
        max(min(sa - sb, 127), -128),
        s8(sa + sb),
        (a << 3) & 0xFF,
        a >> 2,
        sa >> 2,
        a & b,
        a | b,
        a ^ b,
        ~a & 0xFF,
        (a << 8) | b,
        (w >> 4) & 0xFF,
        (w & 0xF) << 4 | (slt << 3 | ult << 2 | eq << 1 | mixed),  # narrow(4) ++ flags(4)
        sa,
        a,
        max(a, b),
        (-sa) & 0xFF,
        (a << (b & 7)) & 0xFF,
        10 + (idx & 3),
        3,
    )


def evaluate(sw, a, b, sa, sb, w, idx) -> tuple:
    f = raw(Ether(type=0x88B5) / Raw(IN.pack(a, b, sa, sb, w, idx)))
    out = sw.process_packet(1, f)
    assert [p for p, _ in out] == [1]
    data = out[0][1][14:]
    return OUT.unpack(data[: OUT.size])


def test_known_values(sw):
    assert evaluate(sw, 200, 100, -100, 50, 0xABCD, 6) == expected(200, 100, -100, 50, 0xABCD, 6)
    assert evaluate(sw, 0, 0, -128, -128, 0, 0) == expected(0, 0, -128, -128, 0, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 255), st.integers(0, 255), st.integers(-128, 127), st.integers(-128, 127),
    st.integers(0, 0xFFFF), st.integers(0, 255),
)  # fmt: skip
def test_random_operands(sw, a, b, sa, sb, w, idx):
    assert evaluate(sw, a, b, sa, sb, w, idx) == expected(a, b, sa, sb, w, idx)
