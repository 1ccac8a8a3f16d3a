"""p4lb-controller daemons as real processes, for the tests of several controllers.

Each daemon has its own management socket, state file and log under the
test's tmp_path; the test ends exactly the processes it started, by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
        client = ManagementClient(self.socket, timeout=60)
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
