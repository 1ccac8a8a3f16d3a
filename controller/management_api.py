"""The controller's local management API: one command per line over a unix socket.

Request: a JSON object on one line, {"command": "lb vip 10.0.0.1/32 encap gre4"}.
Reply: one JSON line, {"ok": true, "output": "..."} or {"ok": false, "error": "..."}.
With "json": true in the request, the reply carries the answer as data,
{"ok": true, "data": {...}}: every ``show`` command answers its structure
(controller.show_data), a configuration command {"warnings": [...]}.
A unix socket (mode 0600) keeps it local by default: the filesystem decides
who may configure the load balancer. A server refuses a path where another
controller answers (it would orphan it) or that is not a socket; a socket
nobody answers on, left by a killed controller, is replaced.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import socketserver
import stat
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_REQUEST = 1 << 20  # one command line, never megabytes
# socketserver's default backlog is 5: a burst of lbctl clients (scripts, a
# monitoring loop) found it full and got EAGAIN. Linux caps it at somaxconn.
LISTEN_BACKLOG = 512
# An error may name the offending word, not echo a megabyte back.
MAX_ECHOED_WORD = 64
MAX_ERROR_CHARS = 2000


class CommandError(Exception):
    """A command that was understood but refused; its message goes to the user."""


class SocketInUseError(OSError):
    """The management socket's path is taken: a live controller, or not a socket."""


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


def shorten_echo(message: str) -> str:
    """``message`` with every word past MAX_ECHOED_WORD characters cut (saying its
    length), and the whole kept under MAX_ERROR_CHARS, its end (the problem) kept."""
    if len(message) <= MAX_ERROR_CHARS and all(
            len(word) <= MAX_ECHOED_WORD for word in message.split()):
        return message
    words = [
        word if len(word) <= MAX_ECHOED_WORD
        else f"{word[:MAX_ECHOED_WORD // 2]}...({len(word)} characters)"
        for word in message.split(" ")
    ]
    short = " ".join(words)
    if len(short) > MAX_ERROR_CHARS:
        keep = MAX_ERROR_CHARS // 2 - 20
        short = f"{short[:keep]} ...({len(short) - 2 * keep} characters)... {short[-keep:]}"
    return short


def _claim_socket_path(path: Path) -> None:
    """Clears ``path`` for a new socket: only a socket nobody answers on is removed."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise SocketInUseError(f"{path} exists and is not a socket; not removing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        path.unlink()  # stale: its controller is gone
        return
    except OSError as e:
        if e.errno != errno.EAGAIN:  # EAGAIN: alive, its backlog full
            raise SocketInUseError(f"{path}: cannot tell whether a controller serves it "
                                   f"({e.strerror}); not removing it") from None
    finally:
        probe.close()
    raise SocketInUseError(f"another controller is serving on {path}")


class ManagementServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, path: Path, execute: Callable[[str, bool], str | dict]) -> None:
        """``execute(command, as_json)`` answers text, or data when ``as_json``."""
        self.path = path
        self.execute = execute
        _claim_socket_path(path)
        old = os.umask(0o177)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
        # Two servers racing for one path: whoever bound last owns it; the
        # other one's stop() must not remove the winner's socket.
        self._inode = path.lstat().st_ino
        self._thread: threading.Thread | None = None

    def dispatch(self, raw: bytes) -> dict:
        try:
            req = json.loads(raw)
            command = req["command"]
            as_json = req.get("json", False)
            if not isinstance(command, str) or not isinstance(as_json, bool):
                raise TypeError
        # RecursionError: JSON nested thousands deep
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return {"ok": False,
                    "error": 'expected {"command": "<text>"[, "json": true|false]} on one line'}
        try:
            answer = self.execute(command, as_json)
            return {"ok": True, "data": answer} if as_json else {"ok": True, "output": answer}
        except CommandError as e:
            return {"ok": False, "error": shorten_echo(str(e))}
        except Exception as e:  # noqa: BLE001 - the daemon outlives a failed command
            log.exception("command failed: %s", shorten_echo(command))
            return {"ok": False, "error": shorten_echo(f"internal error: {e}")}

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits forever for a loop never started
            self.shutdown()
        self.server_close()
        try:
            if self.path.lstat().st_ino == self._inode:
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
        """The command's answer as text."""
        return self._request({"command": command}).get("output", "")

    def query(self, command: str) -> dict:
        """The command's answer as data (what ``lbctl --json`` prints)."""
        return self._request({"command": command, "json": True}).get("data", {})

    def _request(self, request: dict) -> dict:
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the controller closed the connection")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise CommandError(reply.get("error", "unknown error"))
        return reply

    def close(self) -> None:
        self.reader.close()
        self.sock.close()
