"""BMv2's simple_switch driven like the engine, for differential tests: the same
control-plane operations (through ``simple_switch_CLI``) and the same frames
(through its nanomsg packet socket).

Control-plane operations are written once, as :class:`Op` values, and applied
to both switches: to the engine through the runtime API, to BMv2 as CLI lines.
Frames go one at a time; for each, BMv2 must emit as many frames as the engine
did (a receive timeout only guards against a hung switch), and a final probe
frame shows that BMv2 emitted nothing more.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from p4switch.engine import EmbeddedSwitch
from p4switch.runtime_api import ActionCall, MatchKeyParam, MatchKind

SIMPLE_SWITCH = shutil.which("simple_switch")
SIMPLE_SWITCH_CLI = shutil.which("simple_switch_CLI")
# The CLI needs Python's thrift bindings, which Debian ships for its own Python.
CLI_PYTHON = "/usr/bin/python3"

NN_HEADER = struct.Struct("<iii")  # BMv2 packet-in: type, port, length
NN_PACKET_IN, NN_PACKET_OUT = 3, 4


def available() -> bool:
    return SIMPLE_SWITCH is not None and SIMPLE_SWITCH_CLI is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Op:
    """One control-plane operation, for both switches.

    kind: "entry" (table, action, key, args, priority), "member" (profile,
    action, args), "member_entry" (table, key, members[0]), "group" (profile,
    members), "group_entry" (table, key, group), "mc" (group, replicas),
    "mirror" (session, port, mc_group). Members and groups are numbered from 0
    in creation order, as BMv2 hands out their handles.
    Table and action names may be suffixes ("t_exact", "set_tag").
    """

    kind: str
    table: str = ""
    action: str = ""
    key: list[MatchKeyParam] = field(default_factory=list)
    args: list[int] = field(default_factory=list)
    priority: int = -1
    group: int = 0
    members: list[int] = field(default_factory=list)
    replicas: list[tuple[int, int]] = field(default_factory=list)
    session: int = 0
    port: int | None = None


def _full(names: list[str], suffix: str) -> str:
    found = [n for n in names if n == suffix or n.endswith("." + suffix)]
    assert len(found) == 1, (suffix, names)
    return found[0]


def _cli_key(p: MatchKeyParam) -> str:
    if p.kind == MatchKind.LPM:
        return f"{p.value:#x}/{p.prefix_len}"
    if p.kind in (MatchKind.TERNARY, MatchKind.OPTIONAL):
        return f"{p.value:#x}&&&{p.mask:#x}"
    if p.kind == MatchKind.RANGE:
        return f"{p.value:#x}->{p.high:#x}"
    return f"{p.value:#x}"


def apply_to_engine(sw: EmbeddedSwitch, ops: list[Op]) -> None:
    groups: dict[int, int] = {}
    for op in ops:
        if op.kind == "entry":
            t = _full(sw.table_names(), op.table)
            a = _full(sw.table_info(t).actions, op.action)
            sw.mt_add_entry(t, op.key, ActionCall(a, op.args), op.priority)
        elif op.kind == "member":
            prof = _full(list(sw.program.profiles), op.table)
            a = _full(list(sw.program.profiles[prof].actions), op.action)
            sw.mt_act_prof_add_member(prof, ActionCall(a, op.args))
        elif op.kind == "group":
            prof = _full(list(sw.program.profiles), op.table)
            g = sw.mt_act_prof_create_group(prof)
            for m in op.members:
                sw.mt_act_prof_add_member_to_group(prof, m, g)
            groups[op.group] = g
        elif op.kind == "group_entry":
            t = _full(sw.table_names(), op.table)
            sw.mt_indirect_ws_add_entry(t, op.key, groups[op.group], op.priority)
        elif op.kind == "member_entry":
            t = _full(sw.table_names(), op.table)
            sw.mt_indirect_add_entry(t, op.key, op.members[0], op.priority)
        elif op.kind == "mc":
            sw.mc_set_group(op.group, op.replicas)
        elif op.kind == "mirror":
            sw.mirroring_session_set(op.session, op.port, op.group or None)
        else:
            raise ValueError(op.kind)


def cli_lines(sw: EmbeddedSwitch, ops: list[Op]) -> list[str]:
    """The simple_switch_CLI commands doing ``ops`` (names resolved on ``sw``)."""
    lines: list[str] = []
    node = 0
    for op in ops:
        if op.kind == "entry":
            t = _full(sw.table_names(), op.table)
            a = _full(sw.table_info(t).actions, op.action)
            keys = " ".join(_cli_key(k) for k in op.key)
            args = " ".join(f"{v:#x}" for v in op.args)
            prio = f" {op.priority}" if op.priority >= 0 else ""
            lines.append(f"table_add {t} {a} {keys} => {args}{prio}")
        elif op.kind == "member":
            prof = _full(list(sw.program.profiles), op.table)
            a = _full(list(sw.program.profiles[prof].actions), op.action)
            args = " ".join(f"{v:#x}" for v in op.args)
            lines.append(f"act_prof_create_member {prof} {a} {args}")
        elif op.kind == "group":
            prof = _full(list(sw.program.profiles), op.table)
            lines.append(f"act_prof_create_group {prof}")
            for m in op.members:
                lines.append(f"act_prof_add_member_to_group {prof} {m} {op.group}")
        elif op.kind == "group_entry":
            t = _full(sw.table_names(), op.table)
            keys = " ".join(_cli_key(k) for k in op.key)
            lines.append(f"table_indirect_add_with_group {t} {keys} => {op.group}")
        elif op.kind == "member_entry":
            t = _full(sw.table_names(), op.table)
            keys = " ".join(_cli_key(k) for k in op.key)
            lines.append(f"table_indirect_add {t} {keys} => {op.members[0]}")
        elif op.kind == "mc":
            lines.append(f"mc_mgrp_create {op.group}")
            for port, rid in op.replicas:
                lines.append(f"mc_node_create {rid} {port}")
                lines.append(f"mc_node_associate {op.group} {node}")
                node += 1
        elif op.kind == "mirror":
            if op.port is not None:
                lines.append(f"mirroring_add {op.session} {op.port}")
            else:
                lines.append(f"mirroring_add_mc {op.session} {op.group}")
    return lines


class Bmv2:
    """simple_switch on a nanomsg packet socket and a thrift port; stopped by PID."""

    def __init__(self, program: Path, tmp_path: Path) -> None:
        import pynng

        self.pynng = pynng
        self.address = f"ipc://{tmp_path}/bmv2.ipc"
        self.thrift_port = _free_port()
        self.log = open(tmp_path / "bmv2.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [SIMPLE_SWITCH, "--packet-in", self.address, "--thrift-port", str(self.thrift_port),
             "--device-id", "0", str(program)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.sock = pynng.Pair0(recv_timeout=5000)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock.dial(self.address, block=True)
                break
            except pynng.NNGException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("simple_switch did not start") from None
                time.sleep(0.05)

    def cli(self, lines: list[str]) -> str:
        if not lines:
            return ""
        out = subprocess.run(
            [CLI_PYTHON, SIMPLE_SWITCH_CLI, "--thrift-port", str(self.thrift_port)],
            input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        bad = [ln for ln in out.stdout.splitlines() if "Error" in ln or "Invalid" in ln]
        if bad or out.returncode:
            raise RuntimeError(f"CLI failed: {bad or out.stderr}")
        return out.stdout

    def send(self, port: int, frame: bytes) -> None:
        self.sock.send(NN_HEADER.pack(NN_PACKET_IN, port, len(frame)) + frame)

    def receive(self) -> tuple[int, bytes]:
        while True:
            msg = self.sock.recv()  # pynng.Timeout if BMv2 hangs or emits less
            kind, port, length = NN_HEADER.unpack_from(msg)
            if kind == NN_PACKET_OUT:
                return port, msg[NN_HEADER.size : NN_HEADER.size + length]

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


def compare(
    engine: EmbeddedSwitch,
    bmv2: Bmv2,
    frames: list[tuple[int, bytes]],
    probe: tuple[int, bytes],
    mask=lambda data: data,
) -> None:
    """Every frame gives the same multiset of (port, bytes) on both switches;
    ``mask`` blanks bytes the program leaves undefined."""
    for port, frame in frames:
        ours = sorted((p, mask(d)) for p, d in engine.process_packet(port, frame))
        bmv2.send(port, frame)
        theirs = sorted((p, mask(d)) for p, d in (bmv2.receive() for _ in ours))
        ours_hex = [(p, d.hex()) for p, d in ours]
        theirs_hex = [(p, d.hex()) for p, d in theirs]
        assert ours_hex == theirs_hex, (
            f"frame {frame.hex()} on port {port}:\nengine {ours_hex}\nbmv2   {theirs_hex}"
        )
    # nothing more came out of BMv2: the next frame it emits is the probe's
    ((want_port, want),) = engine.process_packet(*probe)
    bmv2.send(*probe)
    got_port, got = bmv2.receive()
    assert (got_port, mask(got).hex()) == (want_port, mask(want).hex()), "BMv2 emitted more"
