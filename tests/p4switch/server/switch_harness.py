"""The switch the server tests drive, in this process or as a process of its own.

By default the embedded switch runs in this process (fast, and tests can look
inside it). With TARGET=bmv2 the same tests drive simple_switch_grpc, started
as BMv2 is in PTF setups (``--packet-in ipc://...``), and frames go through a
nanomsg socket as PTF's would; SERVER_TESTS_PROCESS=1 runs the embedded
switch that way too.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from p4rt_client import WAIT, Controller, P4Names, load_p4info

from p4switch.p4runtime import Device, P4RuntimeServer

BUILD = Path(__file__).resolve().parents[1] / "p4" / "build"
CPU_PORT = 255
DEVICE_ID = 0
TARGET = os.environ.get("TARGET", "embedded")
IN_PROCESS = TARGET == "embedded" and os.environ.get("SERVER_TESTS_PROCESS") != "1"


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


@dataclass
class Switch:
    """What a test sees of a switch: its address, controllers, and its ports."""

    address: str
    frames: queue.Queue = field(default_factory=queue.Queue)  # (egress port, frame)
    controllers: list[Controller] = field(default_factory=list)

    def controller(self, election_id=(0, 1), **kwargs) -> Controller:
        kwargs.setdefault("device_id", DEVICE_ID)
        c = Controller(self.address, election_id=election_id, **kwargs)
        self.controllers.append(c)
        return c

    def next_frame(self, timeout: float = WAIT) -> tuple[int, bytes]:
        return self.frames.get(timeout=timeout)

    def send(self, port: int, frame: bytes) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        for c in self.controllers:
            c.close()


@dataclass
class InProcessSwitch(Switch):
    device: Device | None = None
    server: P4RuntimeServer | None = None

    def send(self, port: int, frame: bytes) -> None:
        self.device.receive_packet(port, frame)

    def stop(self) -> None:
        super().stop()
        self.server.stop(grace=0)
        self.device.close()


@dataclass
class ProcessSwitch(Switch):
    """A switch process with its ports on nanomsg, driven as PTF drives BMv2."""

    process: object = None
    socket: object = None
    reader: threading.Thread | None = None

    def send(self, port: int, frame: bytes) -> None:
        self.socket.send(struct.pack("<iii", 3, port, len(frame)) + frame)

    def _read(self) -> None:
        import pynng

        while True:
            try:
                message = self.socket.recv()
            except pynng.Closed:
                return
            except pynng.Timeout:
                continue
            msg_type, port, length = struct.unpack_from("<iii", message)
            if msg_type == 4:  # PACKET_OUT
                self.frames.put((port, message[12:12 + length]))

    def stop(self) -> None:
        super().stop()
        self.socket.close()
        self.process.stop()


def start_switch(tmp_path: Path, **server_args) -> Switch:
    if IN_PROCESS:
        device = Device(DEVICE_ID, CPU_PORT)
        server = P4RuntimeServer(device, "127.0.0.1:0", **server_args)
        server.start()
        switch = InProcessSwitch(f"127.0.0.1:{server.port}", device=device, server=server)
        device.set_transmit(lambda port, frame: switch.frames.put((port, frame)))
        return switch
    import pynng

    from p4switch.launch import SwitchProcess

    address = f"ipc://{tmp_path}/switch.ipc"
    process = SwitchProcess(None, target=TARGET, device_id=DEVICE_ID, cpu_port=CPU_PORT,
                            packet_in=address, log_path=tmp_path / "switch.log").start()
    sock = pynng.Pair0(recv_timeout=500)
    sock.dial(address, block=True)
    switch = ProcessSwitch(process.grpc_addr, process=process, socket=sock)
    switch.reader = threading.Thread(target=switch._read, daemon=True)
    switch.reader.start()
    return switch
