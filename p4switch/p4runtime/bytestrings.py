"""P4Runtime byte strings <-> Python ints, exactly as strict as PI.

P4Runtime carries every bit<W> value as a big-endian byte string. PI
(proto/frontend/src/common.cpp, ``bytestring_p4rt_to_pi``) accepts any length,
with or without leading zero bytes, even the empty string (zero); it refuses a
value only when a bit above W is set. It always answers with the canonical
form: the shortest string, one byte at least.
"""

from __future__ import annotations

from p4switch.p4runtime.errors import invalid, unimplemented


def to_int(value: bytes, bitwidth: int, what: str) -> int:
    """Decode ``value`` for a ``bitwidth``-bit field; ``what`` names the field in errors."""
    number = int.from_bytes(value, "big")
    if number >> bitwidth:
        raise invalid(
            f"{what}: value 0x{value.hex()} does not fit in {bitwidth} bits"
        )
    return number


def to_bytes(number: int) -> bytes:
    """The canonical (shortest, at least one byte) encoding of a non-negative int."""
    return number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")


def to_port(value: bytes, what: str) -> int:
    """A port given as bytes (``Replica.port``); PI refuses empty, > 4 bytes and <= 0."""
    if not value:
        raise invalid(f"{what}: port must not be the empty string")
    if len(value) > 4:
        raise unimplemented(f"{what}: got a port of {len(value)} bytes, only 4 are supported")
    # PI reads the bytes into a signed 32-bit port: 4 bytes with the top bit set are < 0
    port = int.from_bytes(value, "big", signed=len(value) == 4)
    if port <= 0:
        raise invalid(f"{what}: port must be positive, got {port}")
    return port

