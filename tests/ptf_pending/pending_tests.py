"""lb.p4's pending-flow table, with the test as the only P4Runtime client.

No controller runs: nothing installs flow entries from digests, so every
flow stays pending, and the test sees what the data plane alone does with a
flow between its first packet and its entry (SilkRoad's pending-connection
problem). The pipeline and every entry are written here; the switch is
started fresh for this module (tests/test_ptf_pending.py).
"""

from __future__ import annotations

import sys
import time
import zlib
from ipaddress import ip_address
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ptf  # noqa: E402
from ptf import testutils as tu  # noqa: E402
from ptf.base_tests import BaseTest  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import GRE, Ether  # noqa: E402

from p4switch.p4runtime.proto import p4runtime_pb2  # noqa: E402
from tests.p4switch.server.p4rt_client import (  # noqa: E402
    Controller,
    P4Names,
    load_p4info,
    update,
)

BUILD = ROOT / "p4src" / "build"
CLIENT_PORT, SERVER_PORT = 1, 2
VIP, VIP_ID = "10.0.0.1", 1
CLIENT = "198.51.100.7"
AS_ADDR = {1: "10.1.0.1", 2: "10.1.0.2"}
LIFETIME_US = 1_500_000
PENDING_SLOTS = 1 << 18  # lb.p4 flow_select.p4 PENDING_SLOTS
INSERT, MODIFY = p4runtime_pb2.Update.INSERT, p4runtime_pb2.Update.MODIFY


def addr_int(a: str) -> int:
    return int(ip_address(a))


def pending_slot(src: str, sport: int, dport: int, protocol: int = 17) -> int:
    """The slot lb.p4 gives an IPv4 flow: crc32 over the key's fields in reverse order."""
    data = (dport.to_bytes(2, "big") + sport.to_bytes(2, "big") + bytes([protocol])
            + ip_address(VIP).packed + ip_address(src).packed + VIP_ID.to_bytes(2, "big"))
    return zlib.crc32(data) & (PENDING_SLOTS - 1)


def colliding_flow(src: str, sport: int, dport: int, protocol: int = 17) -> tuple[str, int]:
    """Another client (address, port) whose flow lands in the same pending slot.

    CRC is linear, so varying the 16 port bits alone may never reach a given
    18-bit slot; the last address byte gives the search 24 bits."""
    want = pending_slot(src, sport, dport, protocol)
    head = dport.to_bytes(2, "big")
    middle = bytes([protocol]) + ip_address(VIP).packed + ip_address(src).packed[:3]
    tail = VIP_ID.to_bytes(2, "big")
    mask = PENDING_SLOTS - 1
    for last in range(1, 255):
        rest = middle + bytes([last]) + tail
        for port in range(1024, 1 << 16):
            if zlib.crc32(head + port.to_bytes(2, "big") + rest) & mask == want:
                other = str(ip_address(ip_address(src).packed[:3] + bytes([last])))
                if (other, port) != (src, sport):
                    return other, port
    raise LookupError(f"no client of {src}/24 shares the slot of {src}:{sport}")


class PendingFlows(BaseTest):
    def setUp(self) -> None:
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()
        params = tu.test_params_get()
        self.p4info = load_p4info(BUILD / "lb.p4info.txt")
        self.names = P4Names(self.p4info)
        self.p4rt = Controller(params["grpc_addr"], election_id=(0, 1))
        self.p4rt.set_pipeline(self.p4info, (BUILD / "lb.json").read_bytes())
        digest_id = self.names.digests["flow_digest_t"].preamble.id
        digest = p4runtime_pb2.DigestEntry(digest_id=digest_id)
        digest.config.max_timeout_ns = 1_000_000
        digest.config.max_list_size = 1
        digest.config.ack_timeout_ns = 1_000_000
        self.p4rt.write(
            update(INSERT, digest_entry=digest),
            self.table_update(INSERT, "route4", {"dst_addr": (addr_int("10.1.0.0"), 16)},
                              "set_next_hop", port=SERVER_PORT, src_mac=0x024C42000002,
                              dst_mac=0x0200000000A5),
            self.table_update(INSERT, "vip4", {"dst_addr": (addr_int(VIP), 32)}, "set_vip",
                              vip_id=VIP_ID, new_len_mask=0, src_ip_sticky=0, flush_epoch=0),
            *(self.table_update(INSERT, "as_encap", {"as_id": as_id}, "encap_gre4",
                                src_addr=addr_int("192.0.2.1"), as_addr=addr_int(a))
              for as_id, a in AS_ADDR.items()),
            self.table_update(INSERT, "maglev", {"vip_id": VIP_ID, "bucket": 0},
                              "use_bucket_as", as_id=1),
            self.pending_lifetime(LIFETIME_US),
        )

    def tearDown(self) -> None:
        self.p4rt.close()
        BaseTest.tearDown(self)

    # --- P4Runtime ----------------------------------------------------------------

    def table_update(self, kind: int, table: str, match: dict, action: str, **params: int):
        return update(kind, table_entry=self.names.entry(table, match, action, **params))

    def pending_lifetime(self, lifetime_us: int):
        entry = self.names.entry("pending_conf", None, "set_pending_lifetime",
                                 lifetime_us=lifetime_us)
        entry.is_default_action = True
        return update(MODIFY, table_entry=entry)

    def point_bucket_at(self, as_id: int) -> None:
        self.p4rt.write(self.table_update(MODIFY, "maglev", {"vip_id": VIP_ID, "bucket": 0},
                                          "use_bucket_as", as_id=as_id))

    def counter(self, name: str) -> int:
        entity = p4runtime_pb2.Entity()
        entity.counter_entry.counter_id = self.names.counters[name].preamble.id
        entity.counter_entry.index.index = VIP_ID
        (cell,) = self.p4rt.read(entity)
        return cell.counter_entry.data.packet_count

    def digests_received(self) -> int:
        """Digest lists that arrived so far (one flow each: max_list_size 1), acked."""
        count = 0
        while self.p4rt.pending("digest"):
            message = self.p4rt.next("digest").digest
            count += len(message.data)
            ack = p4runtime_pb2.StreamMessageRequest()
            ack.digest_ack.digest_id, ack.digest_ack.list_id = message.digest_id, message.list_id
            self.p4rt.send(ack)
        return count

    # --- packets ------------------------------------------------------------------

    def send_flow(self, sport: int, src: str = CLIENT, dport: int = 53) -> str:
        """One packet of the flow; returns the AS address it was tunnelled to."""
        frame = (Ether(src="02:00:00:00:00:c1", dst="02:4c:42:00:00:01")
                 / IP(src=src, dst=VIP, ttl=64) / UDP(sport=sport, dport=dport) / b"pending")
        tu.send_packet(self, CLIENT_PORT, bytes(frame))
        result = tu.dp_poll(self, port_number=SERVER_PORT, timeout=5)
        assert isinstance(result, self.dataplane.PollSuccess), "no packet left the LB"
        out = Ether(result.packet)
        assert GRE in out and out[GRE].payload[UDP].sport == sport, out.summary()
        return out[IP].dst

    def runTest(self) -> None:
        first_session = self.counter("vip_first_session")
        existing = self.counter("vip_existing_session")
        collisions = self.counter("vip_pending_collision")

        # First packet: the bucket picks AS 1; the slot remembers it.
        flow = 40000
        assert self.send_flow(flow) == AS_ADDR[1]
        started = time.monotonic()
        # The bucket moves to AS 2 while the flow is pending: the flow stays.
        self.point_bucket_at(2)
        for _ in range(5):
            assert self.send_flow(flow) == AS_ADDR[1], "a pending flow moved with its bucket"
        # A new flow follows the bucket, as it should.
        assert self.send_flow(41000) == AS_ADDR[2]
        assert time.monotonic() - started < LIFETIME_US / 1e6, "too slow to test the lifetime"
        assert self.counter("vip_first_session") - first_session == 2
        assert self.counter("vip_existing_session") - existing == 5

        # Once the lifetime has passed the flow is new again and follows its bucket.
        time.sleep(LIFETIME_US / 1e6 + 0.2)
        assert self.send_flow(flow) == AS_ADDR[2]
        assert self.counter("vip_first_session") - first_session == 3
        time.sleep(0.3)  # the digest of that packet is on its way (max_timeout 1 ms)
        assert self.digests_received() == 3, "one digest per first-session packet"

        # Another flow meets the live slot: counted, sent by its bucket, slot kept.
        other_src, other = colliding_flow(CLIENT, flow, 53)
        self.point_bucket_at(1)
        assert self.send_flow(other, other_src) == AS_ADDR[1]
        time.sleep(0.1)
        # Acked: until then (or its ack timeout, at least 100 ms on PI) the switch
        # would not send the same digest again.
        assert self.digests_received() == 1
        time.sleep(0.05)
        assert self.send_flow(other, other_src) == AS_ADDR[1]
        assert self.counter("vip_pending_collision") - collisions == 2
        assert self.send_flow(flow) == AS_ADDR[2], "the colliding flow took the pending slot"
        time.sleep(0.2)
        assert self.digests_received() == 1, "a flow that collides sends a digest per packet"

        # The flow's entry is installed and hit: its slot is free for the other flow.
        self.p4rt.write(self.table_update(
            INSERT, "flow4",
            {"vip_id": VIP_ID, "src_addr": addr_int(CLIENT), "dst_addr": addr_int(VIP),
             "protocol": 17, "src_port": flow, "dst_port": 53},
            "use_flow_as", as_id=2))
        assert self.send_flow(flow) == AS_ADDR[2]
        assert self.send_flow(other, other_src) == AS_ADDR[1]
        self.point_bucket_at(2)
        assert self.send_flow(other, other_src) == AS_ADDR[1], (
            "the freed slot did not take the other flow")
        assert self.counter("vip_pending_collision") - collisions == 2
