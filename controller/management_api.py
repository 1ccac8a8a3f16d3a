"""The controller's local management API: one command per line over a unix socket.

Request: a JSON object on one line, {"command": "lb vip 10.0.0.1/32 encap gre4"}.
Reply: one JSON line, {"ok": true, "output": "..."} or {"ok": false, "error": "..."}.
A unix socket (mode 0600) keeps it local by default: the filesystem decides
who may configure the load balancer.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_REQUEST = 1 << 20  # one command line, never megabytes


class CommandError(Exception):
    """A command that was understood but refused; its message goes to the user."""


class _Handler(socketserver.StreamRequestHandler):
    server: ManagementServer

    def handle(self) -> None:
        while True:
            line = self.rfile.readline(MAX_REQUEST + 1)
            if not line:
                return
            if len(line) > MAX_REQUEST:
                self._reply({"ok": False, "error": "request too long"})
                return
            self._reply(self.server.dispatch(line))

    def _reply(self, obj: dict) -> None:
        self.wfile.write(json.dumps(obj).encode() + b"\n")
        self.wfile.flush()


class ManagementServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # socketserver's default backlog of 5 refuses (EAGAIN) the sixth of a burst
    # of lbctl clients connecting at once.
    request_queue_size = 128

    def __init__(self, path: Path, execute: Callable[[str], str]) -> None:
        self.path = path
        self.execute = execute
        if path.exists() or path.is_symlink():
            path.unlink()
        old = os.umask(0o177)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
        self._thread: threading.Thread | None = None

    def dispatch(self, raw: bytes) -> dict:
        try:
            req = json.loads(raw)
            command = req["command"]
            if not isinstance(command, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": 'expected {"command": "<text>"} on one line'}
        try:
            return {"ok": True, "output": self.execute(command)}
        except CommandError as e:
            return {"ok": False, "error": str(e)}
        except Exception as e:  # noqa: BLE001 - the daemon outlives a failed command
            log.exception("command failed: %s", command)
            return {"ok": False, "error": f"internal error: {e}"}

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class ManagementClient:
    """What lbctl uses: send a command line, get the output or a CommandError."""

    def __init__(self, path: Path, timeout: float = 120.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")

    def run(self, command: str) -> str:
        self.sock.sendall(json.dumps({"command": command}).encode() + b"\n")
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the controller closed the connection")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise CommandError(reply.get("error", "unknown error"))
        return reply.get("output", "")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()
