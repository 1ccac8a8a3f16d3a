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
    __slots__ = (
        "F",
        "V",
        "N",
        "payload",
        "original",
        "ingress_length",
        "length",
        "exit",
        "clone_session",
        "clone_field_list",
        "resubmit",
        "recirculate",
        "learn",
        "truncate",
        "error",
        "checksum_error",
        "entry_index",
        "egress_port",
    )

    def __init__(self, F: list[int], V: list[int], N: list[int], original: bytes) -> None:
        self.F = F
        self.V = V
        self.N = N
        self.payload = b""
        self.original = original  # the frame as received, for ingress clones and resubmit
        self.ingress_length = len(original)  # what counters and meters count
        self.length = len(original)  # BMv2's PACKET_LENGTH register
        self.exit = False
        self.clone_session = 0  # session | 0x8000 when a clone was requested
        self.clone_field_list = 0
        self.resubmit = 0  # field list id, 0 = none
        self.recirculate = 0
        self.learn = 0  # learn list id, 0 = none
        self.truncate: int | None = None
        self.error = 0
        self.checksum_error = False
        self.entry_index = -1
        self.egress_port = 0

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
