"""Packet I/O: the controller headers of PacketOut and PacketIn, as PI's packet_io_mgr.

A PacketOut is injected at the CPU port with the P4Info ``packet_out`` header
prepended: its metadata fields packed MSB first in P4Info order, padded with
zero bits to a whole byte. A frame the pipeline sends to the CPU port starts
with the ``packet_in`` header, which becomes the PacketIn's metadata. PI's
tolerances are kept: a metadata field missing from a PacketOut is sent as 0;
an unknown metadata id, or a value wider than its field, is INVALID_ARGUMENT.
"""

from __future__ import annotations

from p4switch.p4runtime.bytestrings import to_bytes, to_int
from p4switch.p4runtime.errors import invalid
from p4switch.p4runtime.p4info_index import ControllerHeaderInfo
from p4switch.p4runtime.proto import p4runtime_pb2


def build_packet_out_frame(header: ControllerHeaderInfo | None,
                           packet: p4runtime_pb2.PacketOut) -> bytes:
    if header is None:
        if packet.metadata:
            raise invalid("PacketOut has metadata, but the P4Info has no packet_out header")
        return packet.payload
    widths = {fid: (i, name, width) for i, (fid, name, width) in enumerate(header.fields)}
    values = [0] * len(header.fields)
    for meta in packet.metadata:
        slot = widths.get(meta.metadata_id)
        if slot is None:
            raise invalid(f"PacketOut metadata id {meta.metadata_id} is not a field of the "
                          "packet_out header")
        i, name, width = slot
        values[i] = to_int(meta.value, width,
                           f"PacketOut metadata {meta.metadata_id} ('{name}', {width} bits)")
    packed = 0
    for (_, _, width), value in zip(header.fields, values, strict=True):
        packed = (packed << width) | value
    total = header.total_bits
    nbytes = (total + 7) // 8
    packed <<= nbytes * 8 - total
    return packed.to_bytes(nbytes, "big") + packet.payload


def parse_packet_in(header: ControllerHeaderInfo | None,
                    frame: bytes) -> p4runtime_pb2.StreamMessageResponse | None:
    """The PacketIn for ``frame``; None when it is too short to hold the header."""
    message = p4runtime_pb2.StreamMessageResponse()
    packet = message.packet
    if header is None:
        packet.payload = frame
        return message
    total = header.total_bits
    nbytes = (total + 7) // 8
    if len(frame) < nbytes:
        return None
    packed = int.from_bytes(frame[:nbytes], "big") >> (nbytes * 8 - total)
    shift = total
    for fid, _, width in header.fields:
        shift -= width
        packet.metadata.add(metadata_id=fid, value=to_bytes((packed >> shift) & ((1 << width) - 1)))
    packet.payload = frame[nbytes:]
    return message
