"""Fixtures: the real P4Runtime server and data plane, in this process, on a free
loopback port, with the compiled test programs of tests/target/p4/build."""

from __future__ import annotations

import queue
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from p4rt_client import WAIT, Controller, P4Names, load_p4info  # noqa: E402

from target.p4runtime import Device, P4RuntimeServer  # noqa: E402

BUILD = Path(__file__).resolve().parents[1] / "p4" / "build"
CPU_PORT = 255
DEVICE_ID = 0


@dataclass
class Program:
    name: str
    p4info_path: Path
    json_path: Path

    @property
    def p4info(self):
        return load_p4info(self.p4info_path)

    @property
    def json(self) -> bytes:
        return self.json_path.read_bytes()

    @property
    def names(self) -> P4Names:
        return P4Names(self.p4info)


def program(name: str) -> Program:
    prog = Program(name, BUILD / f"{name}.p4info.txt", BUILD / f"{name}.json")
    if not prog.json_path.exists():
        pytest.skip(f"{name} is not compiled (run `make p4`)")
    return prog


@pytest.fixture(scope="session")
def features() -> Program:
    return program("srv_features")


@pytest.fixture(scope="session")
def minimal() -> Program:
    return program("srv_minimal")


@dataclass
class InProcessSwitch:
    device: Device
    server: P4RuntimeServer
    frames: queue.Queue = field(default_factory=queue.Queue)  # (egress port, frame)
    controllers: list[Controller] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def controller(self, election_id=(0, 1), **kwargs) -> Controller:
        kwargs.setdefault("device_id", DEVICE_ID)
        c = Controller(self.address, election_id=election_id, **kwargs)
        self.controllers.append(c)
        return c

    def send(self, port: int, frame: bytes) -> None:
        self.device.receive_packet(port, frame)

    def next_frame(self, timeout: float = WAIT) -> tuple[int, bytes]:
        return self.frames.get(timeout=timeout)

    def sent_frames(self) -> list[tuple[int, bytes]]:
        out = []
        while not self.frames.empty():
            out.append(self.frames.get_nowait())
        return out


def start_switch(**server_args) -> InProcessSwitch:
    device = Device(DEVICE_ID, CPU_PORT)
    server = P4RuntimeServer(device, "127.0.0.1:0", **server_args)
    switch = InProcessSwitch(device, server)
    device.set_transmit(lambda port, frame: switch.frames.put((port, frame)))
    server.start()
    return switch


def stop_switch(switch: InProcessSwitch) -> None:
    for c in switch.controllers:
        c.close()
    switch.server.stop(grace=0)
    switch.device.close()


@pytest.fixture
def switch():
    sw = start_switch()
    yield sw
    stop_switch(sw)


@pytest.fixture
def loaded(switch, features):
    """A switch running srv_features, and its primary controller."""
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    return switch, c, features.names
