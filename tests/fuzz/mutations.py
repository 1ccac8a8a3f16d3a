"""Hypothesis strategies that damage well-formed bytes the ways a fuzzer does."""

from __future__ import annotations

from hypothesis import event
from hypothesis import strategies as st

from tests.wire_mutations import STRAY_FIELDS, with_stray_field


@st.composite
def damaged(draw, data: bytes, message=None) -> bytes:
    """``data`` truncated, with bytes changed, inserted or removed, or (given the
    protobuf ``message`` it serializes) with a stray field at some boundary."""
    kinds = ["truncate", "flip", "insert", "delete", "random"]
    if message is not None:
        kinds += ["stray"] * 3  # damage a byte-level fuzzer rarely makes: weighted up
    kind = draw(st.sampled_from(kinds))
    event(f"damage: {kind}")
    n = len(data)
    if kind == "truncate":
        return data[:draw(st.integers(0, max(n - 1, 0)))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            if out:
                out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
        return bytes(out)
    if kind == "insert":
        at = draw(st.integers(0, n))
        return data[:at] + draw(st.binary(min_size=1, max_size=12)) + data[at:]
    if kind == "delete":
        at = draw(st.integers(0, n))
        return data[:at] + data[at + draw(st.integers(1, 8)):]
    if kind == "random":
        return draw(st.binary(max_size=max(n, 16)))
    variants = list(with_stray_field(message, draw(st.sampled_from(STRAY_FIELDS))))
    return draw(st.sampled_from(variants))
