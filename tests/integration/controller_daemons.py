"""p4lb-controller daemons as real processes, for the tests of several controllers.

Each daemon has its own management socket, state file and log under the
test's tmp_path; the test ends exactly the processes it started, by PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from controller.management_api import CommandError, ManagementClient

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


@dataclass
class ControllerDaemon:
    name: str
    proc: subprocess.Popen
    socket: Path
    log_path: Path

    def run(self, *lines: str) -> str:
        """Runs commands as lbctl does; a refused one raises CommandError."""
        try:
            client = ManagementClient(self.socket, timeout=60)
        except OSError as e:
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller {self.name} exited with {self.proc.returncode}:"
                                   f"\n{self.log()[-3000:]}") from e
            raise
        try:
            return "\n".join(client.run(line) for line in lines)
        finally:
            client.close()

    def try_run(self, line: str) -> tuple[bool, str]:
        try:
            return True, self.run(line)
        except CommandError as e:
            return False, str(e)

    def kill(self) -> None:
        """kill -9: no goodbye to the switch or the store."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_controller(
    workdir: Path, name: str, switches: list[str], election_id: int, *extra: str,
    timeout: float = 30.0,
) -> ControllerDaemon:
    workdir.mkdir(parents=True, exist_ok=True)
    sock = workdir / f"{name}.sock"
    log_path = workdir / f"{name}.log"
    argv = [sys.executable, "-m", "controller.daemon", "--socket", str(sock),
            "--state", str(workdir / f"{name}.state.json"), "--election-id", str(election_id),
            *extra]
    for switch in switches:
        argv += ["--switch", switch]
    proc = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=open(log_path, "wb"),
                            stderr=subprocess.STDOUT)
    daemon = ControllerDaemon(name, proc, sock, log_path)
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            raise RuntimeError(f"controller {name} did not start:\n{daemon.log()}")
        time.sleep(0.05)
    return daemon


def ready_as(daemon: ControllerDaemon, words: str) -> bool:
    """`show lb` says `words` (a role) and no switch is still being read back."""
    shown = daemon.run("show lb")
    return words in shown and "reading back" not in shown


@contextlib.contextmanager
def primary_and_backup(workdir: Path, *extra: str) -> Iterator[tuple]:
    """A switch with its ports on a nanomsg socket, controller a (election id 2,
    primary) and b (1, backup) on it, a packet wire and an independent reader:
    yields (switch, a, b, wire, reader), and ends all of it."""
    from controller.p4_schema import P4Schema
    from p4switch.launch import SwitchProcess
    from tests.integration.lb_fixture import (
        LB_JSON,
        PacketWire,
        SwitchReader,
        lb_p4info,
        wait_for,
    )

    ipc = f"ipc://{workdir}/ports.ipc"
    switch = SwitchProcess(LB_JSON, packet_in=ipc, log_path=workdir / "switch.log").start()
    daemons: list[ControllerDaemon] = []
    wire = reader = None
    try:
        a = start_controller(workdir, "a", [switch.grpc_addr], 2, *extra)
        daemons.append(a)
        assert wait_for(lambda: ready_as(a, "primary, election id 2"), timeout=30)
        b = start_controller(workdir, "b", [switch.grpc_addr], 1, *extra)
        daemons.append(b)
        assert wait_for(lambda: "backup, election id 1 (primary: election id 2)"
                        in b.run("show lb"), timeout=30)
        wire = PacketWire(ipc)
        reader = SwitchReader(switch.grpc_addr, P4Schema(lb_p4info()))
        yield switch, a, b, wire, reader
    finally:
        for closable in (reader, wire):
            if closable is not None:
                closable.close()
        for d in daemons:
            d.stop()
        switch.stop()
