"""Frames for the server tests (the data plane itself is tested elsewhere)."""

import struct

MAC_A = 0x0000000000AA
MAC_B = 0x0000000000BB
MAC_C = 0x0000000000CC


def ethernet(dst: int, src: int = MAC_A, ether_type: int = 0x9999,
             payload: bytes = b"payload-bytes") -> bytes:
    return dst.to_bytes(6, "big") + src.to_bytes(6, "big") + struct.pack("!H", ether_type) \
        + payload


def ipv4(dst_mac: int, dst_ip: int, ttl: int = 64, src_mac: int = MAC_A) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, ttl, 17, 0,
                         (0x0A000001).to_bytes(4, "big"), dst_ip.to_bytes(4, "big"))
    return ethernet(dst_mac, src_mac, 0x0800, header)
