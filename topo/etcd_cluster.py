"""An etcd cluster of real `etcd` processes (Debian's etcd-server), for tests and topologies.

Members listen on free loopback ports with data directories under the
test's tmp_path; the cluster ends only the processes it started, by PID.
Short heartbeat and election timeouts make a leader election after a kill
take well under a second.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from p4switch.launch import free_tcp_port

ETCD = shutil.which("etcd")
SKIP_REASON = "etcd is not installed (Debian's etcd-server; `make test` as root installs it)"


@dataclass
class EtcdMember:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class EtcdCluster:
    def __init__(self, workdir: Path, size: int = 1, host: str = "127.0.0.1") -> None:
        if ETCD is None:
            raise FileNotFoundError(SKIP_REASON)
        self.host = host
        self.token = f"p4lb-test-{uuid.uuid4().hex[:8]}"
        self.members = [
            EtcdMember(f"m{i}", free_tcp_port(), free_tcp_port(), workdir / f"etcd-m{i}",
                       workdir / f"etcd-m{i}.log")
            for i in range(size)
        ]

    @property
    def store_url(self) -> str:
        return "etcd://" + ",".join(f"{self.host}:{m.client_port}" for m in self.members)

    def _command(self, m: EtcdMember) -> list[str]:
        initial = ",".join(f"{o.name}={o.peer_url}" for o in self.members)
        return [
            ETCD, "--name", m.name, "--data-dir", str(m.data_dir),
            "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
            "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
            "--initial-cluster", initial, "--initial-cluster-token", self.token,
            "--initial-cluster-state", "new",
            "--heartbeat-interval", "50", "--election-timeout", "500",
        ]

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        for m in self.members:
            self.start_member(m, wait=False)
        self.wait_healthy(timeout)
        return self

    def start_member(self, m: EtcdMember, wait: bool = True) -> None:
        """Starts (or restarts, on its data directory) one member."""
        m.proc = subprocess.Popen(self._command(m), stdout=open(m.log_path, "ab"),
                                  stderr=subprocess.STDOUT)
        if wait:
            self.wait_healthy()

    def kill(self, m: EtcdMember) -> None:
        if m.running():
            m.proc.kill()
            m.proc.wait(10)

    def healthy(self) -> bool:
        """A running member answers /health with a leader (quorum)."""
        for m in self.members:
            if not m.running():
                continue
            try:
                r = requests.get(m.client_url + "/health", timeout=1)
                if r.ok and r.json().get("health") == "true":
                    return True
            except (requests.RequestException, ValueError):
                continue
        return False

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            for m in self.members:
                if m.proc is not None and m.proc.poll() is not None and m.proc.returncode not in (
                        -9, None):
                    raise RuntimeError(f"etcd {m.name} exited {m.proc.returncode}:\n"
                                       f"{m.log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"etcd cluster not healthy after {timeout} s")
            time.sleep(0.1)

    def stop(self) -> None:
        for m in self.members:
            if m.running():
                m.proc.terminate()
                try:
                    m.proc.wait(10)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait(10)
