"""One packet in flight: its header vector and the per-packet registers of simple_switch.

``F``/``V``/``N`` are the header vector (see layout.py). The other attributes
are what BMv2 keeps outside the PHV: the unparsed payload, the "packet
length" register that add/remove_header maintain, the exit flag, and
simple_switch's RegisterAccess flags (clone session and field list, resubmit,
recirculate, learn list), which primitives set during a pipeline and the
switch acts on after it.
"""

from __future__ import annotations


class Packet:
    # Rarely-set flags are class attributes: a packet only gets its own copy
    # when a primitive sets one, which keeps creating a packet cheap.
    payload = b""
    exit = False
    clone_session = 0  # session | 0x8000 when a clone was requested
    clone_field_list = 0
    resubmit = 0  # field list id, 0 = none
    recirculate = 0
    learn = 0  # learn list id, 0 = none
    truncate: int | None = None
    error = 0
    checksum_error = False
    egress_port = 0

    def __init__(self, F: list[int], V: list[int], N: list[int], original: bytes) -> None:
        self.F = F
        self.V = V
        self.N = N
        self.original = original  # the frame as received, for ingress clones and resubmit
        self.ingress_length = len(original)  # what counters and meters count
        self.length = self.ingress_length  # BMv2's PACKET_LENGTH register

    def copy(self) -> Packet:
        """A full copy (BMv2 ``clone_with_phv_ptr``): same headers, metadata and payload."""
        p = Packet(self.F[:], self.V[:], self.N[:], self.original)
        p.payload = self.payload
        p.ingress_length = self.ingress_length
        p.length = self.length
        p.truncate = self.truncate
        p.error = self.error
        p.checksum_error = self.checksum_error
        return p
