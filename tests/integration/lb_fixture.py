"""A switch running lb.p4 and an LbService driving it, for the integration tests.

The switch is a real process (the embedded switch, or BMv2 with TARGET=bmv2)
with its ports on a nanomsg socket, spoken to as PTF's nn platform does.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pynng
from google.protobuf import text_format

from controller.lb_service import LbService
from controller.p4_schema import DecodedEntry, P4Schema
from controller.p4runtime_proto import p4info_pb2, p4runtime_pb2, p4runtime_pb2_grpc
from controller.switch_session import SwitchAddress
from p4switch.launch import SwitchProcess
from tests.p4runtime_messages import entry_from_message

ROOT = Path(__file__).resolve().parents[2]
LB_JSON = ROOT / "p4src" / "build" / "lb.json"
LB_P4INFO = ROOT / "p4src" / "build" / "lb.p4info.txt"
NN_HEADER = struct.Struct("<iii")
NN_PACKET_IN, NN_PACKET_OUT = 3, 4


def lb_p4info() -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse(LB_P4INFO.read_text(), info)
    return info


class PacketWire:
    """Frames into and out of the switch's ports over its --packet-in socket."""

    def __init__(self, address: str) -> None:
        self.sock = pynng.Pair0(recv_timeout=100)
        self.sock.dial(address, block=True)

    def send(self, port: int, frame: bytes) -> None:
        self.sock.send(NN_HEADER.pack(NN_PACKET_IN, port, len(frame)) + frame)

    def receive(self, timeout: float = 2.0) -> tuple[int, bytes] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.sock.recv()
            except pynng.Timeout:
                continue
            kind, port, length = NN_HEADER.unpack_from(msg)
            if kind == NN_PACKET_OUT:
                return port, msg[NN_HEADER.size : NN_HEADER.size + length]
        return None

    def drain(self) -> list[tuple[int, bytes]]:
        out = []
        while (got := self.receive(0.2)) is not None:
            out.append(got)
        return out

    def close(self) -> None:
        self.sock.close()


class SwitchReader:
    """Reads the switch's tables back, independently of the controller under test."""

    def __init__(self, grpc_addr: str, schema: P4Schema, device_id: int = 0,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        self.device_id = device_id
        self.channel = (grpc.insecure_channel(grpc_addr) if credentials is None
                        else grpc.secure_channel(grpc_addr, credentials))
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.schema = schema

    def table(self, name: str) -> list[DecodedEntry]:
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        req.entities.add().table_entry.table_id = self.schema.table(name).id
        return [
            entry_from_message(self.schema, e.table_entry)
            for resp in self.stub.Read(req)
            for e in resp.entities
        ]

    def default_entry(self, name: str) -> p4runtime_pb2.TableEntry:
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        te = req.entities.add().table_entry
        te.table_id, te.is_default_action = self.schema.table(name).id, True
        (entry,) = [e.table_entry for resp in self.stub.Read(req) for e in resp.entities]
        return entry

    def flow_timeouts(self, name: str) -> list[int]:
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        req.entities.add().table_entry.table_id = self.schema.table(name).id
        return [e.table_entry.idle_timeout_ns for resp in self.stub.Read(req)
                for e in resp.entities]

    def close(self) -> None:
        self.channel.close()


@dataclass
class LbRig:
    switch: SwitchProcess
    service: LbService
    wire: PacketWire
    reader: SwitchReader
    state_path: Path

    def run(self, *lines: str) -> str:
        return "\n".join(self.service.execute(line) for line in lines)

    def restart_controller(self) -> None:
        self.service.close()
        self.service = start_service(self.switch, self.state_path)


def start_service(switch: SwitchProcess, state_path: Path) -> LbService:
    service = LbService(lb_p4info(), LB_JSON.read_bytes(), election_id=1,
                        state_path=state_path)
    session = service.dataplane.add_switch(SwitchAddress(switch.grpc_addr, 0))
    if not session.wait_ready(30):
        service.close()
        raise TimeoutError("controller did not get ready on the switch")
    return service


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
