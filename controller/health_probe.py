"""The packets of a TCP health probe: a SYN (and the RST that ends it) as a client
would send them to a VIP, and the AS's answer as it comes back.

The controller is no TCP stack: a probe is one SYN; a SYN-ACK acknowledging
it means the service accepted the connection (the probe then sends a RST so
the AS forgets it), a RST means nothing listens. Frames are Ethernet + IPv4
or IPv6 + a 20-byte TCP header, with correct checksums (the data plane
verifies the IPv4 one, the AS the TCP one). These few fixed headers are built
with struct here rather than with scapy: the controller does not depend on
scapy, and the tests check every byte against scapy's parser.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

IPAddress = IPv4Address | IPv6Address

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD
PROTO_TCP = 6
PROBE_TTL = 64
# The data plane rewrites both MACs when it routes the probe; these only make
# the frame well-formed (locally administered addresses).
PROBE_DST_MAC = bytes.fromhex("024c420001fe")
PROBE_SRC_MAC = bytes.fromhex("024c420001fe")


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True)
class Segment:
    """The fields of one TCP segment that a probe needs, and its addresses."""

    src: IPAddress
    dst: IPAddress
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int


def _tcp_header(seg: Segment, pseudo: bytes) -> bytes:
    header = struct.pack("!HHIIBBHHH", seg.src_port, seg.dst_port, seg.seq, seg.ack,
                         5 << 4, seg.flags, 65535, 0, 0)
    csum = checksum(pseudo + header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


def build_frame(seg: Segment, ident: int = 0) -> bytes:
    """An Ethernet frame carrying ``seg`` (no TCP options, no payload)."""
    if seg.src.version != seg.dst.version:
        raise ValueError(f"probe from {seg.src} to {seg.dst}: mixed address families")
    if seg.src.version == 4:
        pseudo = seg.src.packed + seg.dst.packed + struct.pack("!BBH", 0, PROTO_TCP, 20)
        tcp = _tcp_header(seg, pseudo)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, ident & 0xFFFF, 0x4000, PROBE_TTL,
                         PROTO_TCP, 0, seg.src.packed, seg.dst.packed)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        ethertype = ETHERTYPE_IPV4
    else:
        pseudo = seg.src.packed + seg.dst.packed + struct.pack("!IxxxB", 20, PROTO_TCP)
        tcp = _tcp_header(seg, pseudo)
        ip = struct.pack("!IHBB16s16s", 6 << 28, 20, PROTO_TCP, PROBE_TTL, seg.src.packed,
                         seg.dst.packed)
        ethertype = ETHERTYPE_IPV6
    return PROBE_DST_MAC + PROBE_SRC_MAC + struct.pack("!H", ethertype) + ip + tcp


def parse_frame(frame: bytes) -> Segment | None:
    """The TCP segment in an Ethernet frame; None for anything else or a truncated one."""
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    ip = frame[14:]
    if ethertype == ETHERTYPE_IPV4:
        if len(ip) < 20 or ip[0] >> 4 != 4:
            return None
        ihl = (ip[0] & 0x0F) * 4
        frag = struct.unpack_from("!H", ip, 6)[0] & 0x1FFF
        if ip[9] != PROTO_TCP or ihl < 20 or frag:
            return None
        src, dst = ip_address(ip[12:16]), ip_address(ip[16:20])
        tcp = ip[ihl:]
    elif ethertype == ETHERTYPE_IPV6:
        if len(ip) < 40 or ip[0] >> 4 != 6 or ip[6] != PROTO_TCP:
            return None
        src, dst = ip_address(ip[8:24]), ip_address(ip[24:40])
        tcp = ip[40:]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, _off, flags = struct.unpack_from("!HHIIBB", tcp)
    return Segment(src, dst, sport, dport, seq, ack, flags)
