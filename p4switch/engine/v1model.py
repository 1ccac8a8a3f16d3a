"""simple_switch's fixed facts about v1model: intrinsic metadata and packet instance types."""

from __future__ import annotations

from dataclasses import dataclass

from .layout import FieldInfo, Layout, load_error

DROP_PORT = 511  # simple_switch's default drop port (egress_spec = 511 drops)

# simple_switch.h PktInstanceType
NORMAL = 0
INGRESS_CLONE = 1
EGRESS_CLONE = 2
COALESCED = 3
RECIRC = 4
REPLICATION = 5
RESUBMIT = 6


@dataclass
class Intrinsics:
    """Slots of the metadata fields simple_switch reads or writes (None if absent)."""

    ingress_port: FieldInfo
    packet_length: FieldInfo
    instance_type: FieldInfo
    egress_spec: FieldInfo
    egress_port: FieldInfo
    parser_error: FieldInfo | None
    checksum_error: FieldInfo | None
    mcast_grp: FieldInfo | None
    egress_rid: FieldInfo | None
    ingress_global_timestamp: FieldInfo | None
    egress_global_timestamp: FieldInfo | None
    priority: FieldInfo | None
    enq_timestamp: FieldInfo | None
    enq_qdepth: FieldInfo | None
    deq_timedelta: FieldInfo | None
    deq_qdepth: FieldInfo | None
    qid: FieldInfo | None

    @classmethod
    def find(cls, layout: Layout) -> Intrinsics:
        def required(name: str) -> FieldInfo:
            f = layout.find_field(f"standard_metadata.{name}")
            if f is None:
                raise load_error(
                    "headers",
                    f"simple_switch needs field standard_metadata.{name}, which is missing",
                )
            return f

        q = [
            layout.find_field(f"queueing_metadata.{n}")
            for n in ("enq_timestamp", "enq_qdepth", "deq_timedelta", "deq_qdepth")
        ]
        if not all(q):  # simple_switch uses them only when all four exist
            q = [None, None, None, None]
        return cls(
            ingress_port=required("ingress_port"),
            packet_length=required("packet_length"),
            instance_type=required("instance_type"),
            egress_spec=required("egress_spec"),
            egress_port=required("egress_port"),
            parser_error=layout.find_field("standard_metadata.parser_error"),
            checksum_error=layout.find_field("standard_metadata.checksum_error"),
            mcast_grp=layout.find_field("intrinsic_metadata.mcast_grp"),
            egress_rid=layout.find_field("intrinsic_metadata.egress_rid"),
            ingress_global_timestamp=layout.find_field(
                "intrinsic_metadata.ingress_global_timestamp"
            ),
            egress_global_timestamp=layout.find_field("intrinsic_metadata.egress_global_timestamp"),
            priority=layout.find_field("intrinsic_metadata.priority"),
            enq_timestamp=q[0],
            enq_qdepth=q[1],
            deq_timedelta=q[2],
            deq_qdepth=q[3],
            qid=layout.find_field("queueing_metadata.qid") if q[0] else None,
        )
