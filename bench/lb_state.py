"""The load balancer state and traffic the data-plane figures run on.

The configuration is written as VPP ``lb`` commands, applied to a
configuration model and saved as a state file: the controller (LbService)
then starts on it as the daemon does after a restart and programs the whole
state in one sync, batched, instead of paying a full diff per command.
Tracked flows are installed by the controller's own FlowLearner, as if they
had been learned from digests.

Addresses: VIP v is 10.0.v/256.v%256/32 (gre4), its ASs 10.1.v.1-N; clients
of established flows are 10.9.x.y, of new flows 10.10.x.y.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from controller import cli_grammar
from controller.flow_learner import FLOW_ACTION, FLOW_TABLES, FlowKey
from controller.health_probe import checksum
from controller.lb_config_document import to_json
from controller.lb_dataplane import TABLE_ORDER
from controller.lb_model import LbConfig
from controller.lb_service import LbService, plan_from_config, save_atomically
from controller.lb_tables import bucket_owners, desired_entries
from controller.p4_schema import DecodedEntry, P4Schema
from controller.p4runtime_codec import EntryCodec
from controller.p4runtime_proto import p4runtime_pb2
from controller.switch_session import SwitchAddress, SwitchSession
from p4switch.launch import SwitchProcess
from tests.integration.lb_fixture import LB_JSON, lb_p4info

CLIENT_PORT, SERVER_PORT = 9, 1
LB_MAC = "02:4c:42:00:00:09"
CLIENT_MAC = "02:00:00:00:09:09"
TCP_PROTOCOL = 6
VIP_PORT = 80
ETH_IP_TCP_BYTES = 14 + 20 + 20
INSERT = p4runtime_pb2.Update.INSERT
_ETHERNET_HEAD = (bytes.fromhex(LB_MAC.replace(":", ""))
                  + bytes.fromhex(CLIENT_MAC.replace(":", "")) + b"\x08\x00")
FLOW_TABLE_NAMES = frozenset(FLOW_TABLES.values())


@dataclass(frozen=True)
class LbStateSize:
    vips: int = 100
    ases_per_vip: int = 10
    new_len: int = 1024
    flows: int = 10_000


def vip_address(v: int) -> IPv4Address:
    return IPv4Address(f"10.0.{v // 256}.{v % 256}")


def as_address(v: int, k: int) -> IPv4Address:
    return IPv4Address(f"10.1.{v % 256}.{k + 1}")


def config_lines(size: LbStateSize, timeout_s: int = 3600) -> list[str]:
    """VIPs 1..size.vips, all gre4 to their ASs, routed out of SERVER_PORT."""
    if not 1 <= size.vips <= 255 or not 1 <= size.ases_per_vip <= 250:
        raise ValueError(f"state size {size}: 1-255 VIPs of 1-250 ASs each")
    lines = [
        f"lb conf ip4-src-address 192.0.2.1 timeout {timeout_s}",
        f"ip route add 10.1.0.0/16 via 02:00:00:00:01:01 port {SERVER_PORT}",
        f"ip route add 10.8.0.0/14 via {CLIENT_MAC} port {CLIENT_PORT}",
    ]
    for v in range(1, size.vips + 1):
        lines.append(f"lb vip {vip_address(v)}/32 encap gre4 new_len {size.new_len}")
        ases = " ".join(str(as_address(v, k)) for k in range(size.ases_per_vip))
        lines.append(f"lb as {vip_address(v)}/32 {ases}")
    return lines


def write_state_file(lines: list[str], path: Path) -> LbConfig:
    """Applies the commands to a fresh configuration and saves it as the daemon would."""
    config = LbConfig()
    for line in lines:
        cli_grammar.parse(line).apply(config)
    save_atomically(path, to_json(config))
    return config


def config_entry_count(config: LbConfig) -> int:
    """Entries the controller writes for this (all-port, non-NAT) configuration."""
    plan = plan_from_config(config)
    return sum(v.new_len + len(v.ases) + 1 for v in plan.vips) + len(plan.routes)


def client_flow(i: int, new: bool) -> tuple[IPv4Address, int]:
    """Source address and port of client flow i (distinct for every i < 2**32)."""
    base = 0x0A0A0000 if new else 0x0A090000  # 10.10/16 new, 10.9/16 established
    return IPv4Address(base + i % 65536), 10000 + i // 65536


def tcp_frame(src: IPv4Address, dst: IPv4Address, sport: int, dport: int,
              frame_bytes: int) -> bytes:
    """Ethernet/IPv4/TCP (ACK) with a zero payload, checksums correct, frame_bytes long.

    Built with struct rather than scapy: the bench needs 10^4 distinct frames
    and scapy takes about a millisecond per frame.
    """
    if frame_bytes < ETH_IP_TCP_BYTES:
        raise ValueError(f"frame size {frame_bytes}: at least {ETH_IP_TCP_BYTES} bytes")
    payload = bytes(frame_bytes - ETH_IP_TCP_BYTES)
    ip_len = frame_bytes - 14
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 1, 0, 64, TCP_PROTOCOL, 0,
                               src.packed, dst.packed))
    struct.pack_into("!H", ip, 10, checksum(bytes(ip)))
    tcp = bytearray(struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, 0x10, 8192, 0, 0))
    pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, TCP_PROTOCOL, ip_len - 20)
    struct.pack_into("!H", tcp, 16, checksum(pseudo + bytes(tcp) + payload))
    return _ETHERNET_HEAD + bytes(ip) + bytes(tcp) + payload


def flow_frame(i: int, vips: int, frame_bytes: int, new: bool) -> bytes:
    """A frame of client flow i to VIP 1 + i % vips (the flow of tracked_flows when not new)."""
    src, sport = client_flow(i, new)
    return tcp_frame(src, vip_address(1 + i % vips), sport, VIP_PORT, frame_bytes)


def tracked_flows(config: LbConfig, count: int, vips: int) -> dict[FlowKey, int]:
    """The flow entries of established flows 0..count-1, each pinned to an AS of its VIP."""
    by_address = {v.prefix.network_address: v for v in config.vips()}
    flows: dict[FlowKey, int] = {}
    for i in range(count):
        vip = by_address[vip_address(1 + i % vips)]
        ases = vip.sorted_ases()
        src, sport = client_flow(i, new=False)
        key = FlowKey(4, vip.vip_id, int(src), int(vip.prefix.network_address), TCP_PROTOCOL,
                      sport, VIP_PORT)
        flows[key] = ases[(i // vips) % len(ases)].as_id
    return flows


@dataclass
class LoadedState:
    config: LbConfig
    config_entries: int
    flows: dict[FlowKey, int]
    seconds: float  # encoding and writing everything


def primary_session(switch: SwitchProcess, election_id: int = 1) -> SwitchSession:
    """A controller session that pushes lb.p4 and stays primary; the caller stops it."""
    session = SwitchSession(SwitchAddress(switch.grpc_addr, 0), lb_p4info(),
                            LB_JSON.read_bytes(), election_id)
    session.start()
    if not session.wait_ready(60):
        session.stop()
        raise TimeoutError(f"no P4Runtime session to {switch.grpc_addr}")
    return session


def flow_entry(key: FlowKey, as_id: int) -> DecodedEntry:
    return DecodedEntry(FLOW_TABLES[key.family], key.table_key(), FLOW_ACTION, (as_id,))


def write_entries(session: SwitchSession, entries: list[DecodedEntry],
                  idle_timeout_ns: int = 0, kind: int = INSERT) -> float:
    """Writes entries through a primary session, encoded as the controller encodes
    them; returns seconds."""
    codec = EntryCodec(P4Schema(lb_p4info()))
    start = time.perf_counter()
    session.write(codec.update_bytes(kind, e, idle_timeout_ns if e.table in FLOW_TABLE_NAMES else 0)
                  for e in entries)
    return time.perf_counter() - start


def load_state(switch: SwitchProcess, size: LbStateSize, workdir: Path) -> LoadedState:
    """Programs the configuration of `size` and its tracked flows, as the controller would.

    The entries are the controller's (lb_tables.desired_entries of the plan),
    written in its table order, and the state file is the one it would save:
    an LbService started on it adopts the switch's state as after a restart.
    """
    config = write_state_file(config_lines(size), workdir / "state.json")
    plan = plan_from_config(config)
    desired = desired_entries(plan, {v.vip_id: bucket_owners(v) for v in plan.vips})
    rank = {t: i for i, t in enumerate(TABLE_ORDER)}
    entries = sorted(desired.values(), key=lambda e: rank[e.table])
    flows = tracked_flows(config, size.flows, size.vips)
    session = primary_session(switch)
    try:
        seconds = write_entries(session, entries)
        seconds += write_entries(session, [flow_entry(k, a) for k, a in flows.items()],
                                 idle_timeout_ns=config.conf.timeout * 1_000_000_000)
    finally:
        session.stop()
    return LoadedState(config, len(entries), flows, seconds)


def start_controller(
    switch: SwitchProcess, state_path: Path, expected_entries: int, timeout: float = 300.0
) -> tuple[LbService, float]:
    """An LbService on the state file, adopting what the switch holds (as after a restart).

    Returns once it has read every config entry back, with the seconds that took.
    """
    start = time.perf_counter()
    service = LbService(lb_p4info(), LB_JSON.read_bytes(), election_id=1, state_path=state_path,
                        housekeeping=False)
    try:
        address = SwitchAddress(switch.grpc_addr, 0)
        session = service.dataplane.add_switch(address)
        # The session counts as connected once the controller has read the switch back.
        if not session.wait_ready(timeout):
            raise TimeoutError(f"{switch.grpc_addr}: state not read back in {timeout:.0f} s")
        adopted = len(service.dataplane.installed_entries(str(address)))
        if adopted != expected_entries:
            raise RuntimeError(f"{switch.grpc_addr}: controller adopted {adopted} config entries, "
                               f"expected {expected_entries}")
        return service, time.perf_counter() - start
    except BaseException:
        service.close()
        raise
