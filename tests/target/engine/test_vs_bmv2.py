"""Differential test: the engine and BMv2's simple_switch, fed the same frames on
the same compiled programs, emit the same bytes on the same ports.

Runs only where BMv2 is installed (``simple_switch`` on PATH). The programs and
frames are chosen so that every frame comes out (no control-plane entries are
needed, nothing is dropped), which keeps the test free of "nothing arrived"
timeouts: a receive timeout here only guards against a hung switch.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw, raw

from .compiled import BUILD, switch

pynng = pytest.importorskip("pynng")

SIMPLE_SWITCH = shutil.which("simple_switch")
pytestmark = pytest.mark.skipif(SIMPLE_SWITCH is None, reason="BMv2 simple_switch not installed")

NN_HEADER = struct.Struct("<iii")  # BMv2 packet-in: type, port, length
NN_PACKET_IN, NN_PACKET_OUT = 3, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bmv2:
    """simple_switch on a nanomsg packet socket, stopped by PID."""

    def __init__(self, program: str, tmp_path) -> None:
        self.address = f"ipc://{tmp_path}/bmv2.ipc"
        self.log = open(tmp_path / "bmv2.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [SIMPLE_SWITCH, "--packet-in", self.address, "--thrift-port", str(free_port()),
             "--device-id", "0", str(BUILD / f"{program}.json")],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.sock = pynng.Pair0(recv_timeout=5000)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.sock.dial(self.address, block=True)
                break
            except pynng.NNGException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    pytest.fail("simple_switch did not start")
                time.sleep(0.05)

    def forward(self, port: int, frame: bytes) -> tuple[int, bytes]:
        self.sock.send(NN_HEADER.pack(NN_PACKET_IN, port, len(frame)) + frame)
        while True:
            msg = self.sock.recv()  # raises pynng.Timeout if BMv2 hangs
            kind, out_port, length = NN_HEADER.unpack_from(msg)
            if kind == NN_PACKET_OUT:
                return out_port, msg[NN_HEADER.size : NN_HEADER.size + length]

    def close(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()


def ether(**kw) -> Ether:
    return Ether(dst="00:00:00:00:00:02", src="00:00:00:00:00:01", **kw)


def parser_frames() -> list[bytes]:
    tcp = raw(ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP() / Raw(b"data"))
    bad_ihl = bytearray(raw(ether() / IP() / TCP()))
    bad_ihl[14] = 0x44
    return [
        tcp,
        raw(ether() / IP(options=b"\x01\x01\x01\x00" * 2) / UDP() / Raw(b"xyz")),
        raw(ether() / Dot1Q(vlan=10) / Dot1Q(vlan=20) / IP() / TCP()),
        raw(ether() / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / IP() / TCP()),
        bytes(bad_ihl),
        tcp[:20],
        tcp[:40],
        raw(ether(type=0x88B5) / Raw(b"\x01\x2a" + b"\x00" * 40)),
    ]


def expression_frames() -> list[bytes]:
    ops = struct.Struct("!BBbbHB")
    values = [
        (200, 100, -100, 50, 0xABCD, 6),
        (0, 0, -128, -128, 0, 0),
        (255, 255, 127, 127, 0xFFFF, 3),
        (5, 9, -1, 1, 0, 1),
        (17, 200, 64, -65, 0x1234, 2),
    ]
    return [raw(ether(type=0x88B5) / Raw(ops.pack(*v))) for v in values]


def checksum_frames() -> list[bytes]:
    out = []
    for payload in (b"", b"odd", b"even!!", b"x" * 300):
        out.append(raw(ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5, dport=6)
                       / Raw(payload)))  # fmt: skip
        out.append(raw(ether() / IP(src="10.0.0.3", dst="10.0.0.4") / UDP(sport=7, dport=8)
                       / Raw(payload)))  # fmt: skip
    return out


HASHES_RANDOM = slice(22, 24)  # eng_checksum.p4: the random() field differs by design


@pytest.mark.parametrize(
    "program, frames",
    [("eng_parser", parser_frames), ("eng_expressions", expression_frames),
     ("eng_checksum", checksum_frames)],
)  # fmt: skip
def test_same_output_as_bmv2(program, frames, tmp_path):
    engine = switch(program)
    bmv2 = Bmv2(program, tmp_path)
    try:
        for f in frames():
            ((port, ours),) = engine.process_packet(1, f)
            their_port, theirs = bmv2.forward(1, f)
            if program == "eng_checksum":
                ours = ours[: HASHES_RANDOM.start] + ours[HASHES_RANDOM.stop :]
                theirs = theirs[: HASHES_RANDOM.start] + theirs[HASHES_RANDOM.stop :]
            assert (port, ours.hex()) == (their_port, theirs.hex()), f.hex()
    finally:
        bmv2.close()
        engine.close()
