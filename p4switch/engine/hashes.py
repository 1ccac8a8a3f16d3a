"""Hash algorithms of bm_sim/calculations.cpp, bit for bit, over a byte string.

``csum16``/``cksum16`` is the Internet checksum. It uses the fact that a sum
of 16-bit words in one's complement arithmetic equals the big-endian integer
of the whole buffer modulo 0xFFFF (because 2**16 = 1 mod 0xFFFF), which lets
Python do the loop in C.
"""

from __future__ import annotations

import binascii
import random
import zlib
from collections.abc import Callable


def csum16(data: bytes) -> int:
    if len(data) & 1:
        data = data + b"\x00"
    n = int.from_bytes(data, "big")
    if n == 0:
        return 0xFFFF
    s = n % 0xFFFF
    return 0xFFFF - (s if s else 0xFFFF)


def _reflect(value: int, nbits: int) -> int:
    out = 0
    for _ in range(nbits):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


def _crc_table(poly: int, width: int) -> list[int]:
    top = 1 << (width - 1)
    mask = (1 << width) - 1
    table = []
    for dividend in range(256):
        rem = dividend << (width - 8)
        for _ in range(8):
            rem = ((rem << 1) ^ poly) if rem & top else (rem << 1)
        table.append(rem & mask)
    return table


class Crc:
    """bm_sim's table-driven CRC with a crc_config_t (crc_custom<T>)."""

    def __init__(
        self, width: int, poly: int, init: int, xor_out: int, refl_in: bool, refl_out: bool
    ) -> None:
        self.width = width
        self.init = init
        self.xor_out = xor_out
        self.refl_in = refl_in
        self.refl_out = refl_out
        self.table = _crc_table(poly, width)
        self.mask = (1 << width) - 1
        self.refl8 = [_reflect(b, 8) for b in range(256)]

    def __call__(self, data: bytes) -> int:
        rem, table, mask, shift = self.init, self.table, self.mask, self.width - 8
        refl = self.refl8 if self.refl_in else None
        for byte in data:
            if refl is not None:
                byte = refl[byte]
            rem = table[(byte ^ (rem >> shift)) & 0xFF] ^ ((rem << 8) & mask)
        if self.refl_out:
            rem = _reflect(rem, self.width)
        return rem ^ self.xor_out


_crc16 = Crc(16, 0x8005, 0x0000, 0x0000, True, True)  # BMv2 crc16 and crc16_custom default


def crc16(data: bytes) -> int:
    return _crc16(data)


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def crc_ccitt(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def xor16(data: bytes) -> int:
    out = 0
    if len(data) & 1:
        data = data + b"\x00"
    for i in range(0, len(data), 2):
        out ^= (data[i] << 8) | data[i + 1]
    return out


def xor32(data: bytes) -> int:
    out = 0
    pad = (-len(data)) % 4
    if pad:
        data = data + b"\x00" * pad
    for i in range(0, len(data), 4):
        out ^= int.from_bytes(data[i : i + 4], "big")
    return out


def identity(data: bytes) -> int:
    return int.from_bytes(data[:8], "big")


def random_hash(data: bytes) -> int:
    return random.getrandbits(64)


class RoundRobin:
    def __init__(self) -> None:
        self.next = 0

    def __call__(self, data: bytes) -> int:
        self.next += 1
        return self.next - 1


def algorithm(name: str) -> Callable[[bytes], int] | None:
    """The hash function BMv2 registers under ``name``, or None if there is none."""
    fixed: dict[str, Callable[[bytes], int]] = {
        "csum16": csum16,
        "cksum16": csum16,
        "crc16": crc16,
        "crc16_custom": crc16,
        "crc32": crc32,
        "crc32_custom": crc32,
        "crcCCITT": crc_ccitt,
        "xor16": xor16,
        "xor32": xor32,
        "identity": identity,
        "random": random_hash,
    }
    if name in fixed:
        return fixed[name]
    if name == "round_robin":
        return RoundRobin()
    if name == "crc8_custom":
        return Crc(8, 0x07, 0, 0, False, False)
    if name == "crc64_custom":
        return Crc(64, 0x1B, 0, 0, True, True)
    return None
