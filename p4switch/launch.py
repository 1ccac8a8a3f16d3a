"""Starts a switch process: the embedded switch or BMv2 `simple_switch_grpc`.

Both take the same command line (that is the embedded switch's promise), so
tests, topologies and `make run` pick one with TARGET=embedded|bmv2 and
nothing else changes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def selected_target() -> str:
    target = os.environ.get("TARGET", "embedded")
    if target not in ("embedded", "bmv2"):
        raise ValueError(f"TARGET={target!r}: expected embedded or bmv2")
    return target


@dataclass(frozen=True)
class ServerTls:
    """P4Runtime over TLS, in simple_switch_grpc's options (both switches take them)."""

    cert: Path
    key: Path
    ca: Path | None = None  # client certificates are verified against it
    require_client_auth: bool = False

    def arguments(self) -> list[str]:
        argv = ["--grpc-server-ssl", "--grpc-server-cert", str(self.cert),
                "--grpc-server-key", str(self.key)]
        if self.ca is not None:
            argv += ["--grpc-server-cacert", str(self.ca)]
        if self.require_client_auth:
            argv.append("--grpc-server-with-client-auth")
        return argv


@dataclass
class SwitchProcess:
    """One switch process; a context manager that always ends what it started."""

    json_path: Path | None
    target: str = field(default_factory=selected_target)
    grpc_port: int = field(default_factory=free_tcp_port)
    device_id: int = 0
    cpu_port: int | None = None
    packet_in: str | None = None  # ipc://PATH for PTF's nanomsg platform
    interfaces: dict[int, str] = field(default_factory=dict)  # port -> Linux interface
    log_path: Path | None = None
    exec_prefix: list[str] = field(default_factory=list)  # e.g. ["ip", "netns", "exec", NS]
    tls: ServerTls | None = None
    log_level: str | None = None  # --log-level (both switches take BMv2's names); None: default
    proc: subprocess.Popen | None = None

    @property
    def grpc_addr(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def command(self) -> list[str]:
        if self.target == "bmv2":
            exe = shutil.which("simple_switch_grpc")
            if exe is None:
                raise FileNotFoundError("TARGET=bmv2 but simple_switch_grpc is not on PATH")
            argv = [exe, "--thrift-port", str(free_tcp_port())]
        else:
            argv = [sys.executable, "-m", "p4switch.main"]
        argv += ["--device-id", str(self.device_id)]
        if self.log_level is not None:
            argv += ["--log-level", self.log_level]
        for port, iface in sorted(self.interfaces.items()):
            argv += ["-i", f"{port}@{iface}"]
        if self.packet_in:
            argv += ["--packet-in", self.packet_in]
        argv.append(str(self.json_path) if self.json_path else "--no-p4")
        argv += ["--", "--grpc-server-addr", self.grpc_addr]
        if self.cpu_port is not None:
            argv += ["--cpu-port", str(self.cpu_port)]
        if self.tls is not None:
            argv += self.tls.arguments()
        return [*self.exec_prefix, *argv]

    def start(self, timeout: float = 30.0) -> SwitchProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root
        )
        deadline = time.monotonic() + timeout
        if self.tls is not None:
            return self._wait_listening(deadline)
        channel = grpc.insecure_channel(self.grpc_addr)
        ready = grpc.channel_ready_future(channel)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"switch exited with {self.proc.returncode}: {' '.join(self.command())}"
                    )
                try:
                    ready.result(timeout=0.5)
                    return self
                except grpc.FutureTimeoutError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise TimeoutError(f"switch gRPC not ready on {self.grpc_addr}") from None
        finally:
            # Stop the future's polling before the channel goes away under it.
            ready.cancel()
            channel.close()

    def _wait_listening(self, deadline: float) -> SwitchProcess:
        """Readiness of a TLS switch, whose handshake may want a client certificate
        this launcher does not have: its port accepts connections."""
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"switch exited with {self.proc.returncode}: {' '.join(self.command())}")
            try:
                socket.create_connection(("127.0.0.1", self.grpc_port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"switch not listening on {self.grpc_addr}") from None
                time.sleep(0.05)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> SwitchProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
