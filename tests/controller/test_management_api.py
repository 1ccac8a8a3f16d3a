"""The management API: one JSON command per line over a unix socket."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from controller.management_api import CommandError, ManagementClient, ManagementServer


def echo_or_refuse(line: str, as_json: bool) -> str | dict:
    if line == "boom":
        raise RuntimeError("kaput")
    if line.startswith("bad"):
        raise CommandError(f"refused: {line}")
    return {"ran": line} if as_json else f"ran {line}"


@pytest.fixture
def server(tmp_path: Path):
    srv = ManagementServer(tmp_path / "c.sock", echo_or_refuse)
    srv.start()
    yield srv
    srv.stop()


def raw(path: Path, data: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        try:
            s.sendall(data)
        except BrokenPipeError:
            pass  # the server answered and hung up before reading it all
        return json.loads(s.makefile("rb").readline())


def test_commands_answers_and_refusals(server) -> None:
    client = ManagementClient(server.path)
    try:
        assert client.run("show lb") == "ran show lb"
        with pytest.raises(CommandError, match="refused: bad token"):
            client.run("bad token")
        # The connection survives a refusal and an internal error.
        with pytest.raises(CommandError, match="internal error: kaput"):
            client.run("boom")
        assert client.run("again") == "ran again"
    finally:
        client.close()


def test_json_requests_get_data(server) -> None:
    client = ManagementClient(server.path)
    try:
        assert client.query("show lb") == {"ran": "show lb"}
        with pytest.raises(CommandError, match="refused: bad"):
            client.query("bad")
    finally:
        client.close()
    assert raw(server.path, b'{"command": "x", "json": false}\n') == {"ok": True,
                                                                       "output": "ran x"}


def test_socket_is_private(server) -> None:
    mode = stat.S_IMODE(server.path.stat().st_mode)
    assert mode & 0o077 == 0


@pytest.mark.parametrize("payload", [b"not json\n", b'{"cmd": 1}\n', b'{"command": 5}\n',
                                     b"[1,2]\n", b"\xff\xfe\n",
                                     b'{"command": "x", "json": "yes"}\n'])
def test_malformed_requests_get_a_clear_error(server, payload: bytes) -> None:
    reply = raw(server.path, payload)
    assert reply["ok"] is False and "command" in reply["error"]


def test_oversized_request_is_refused(server) -> None:
    reply = raw(server.path, b"x" * (2 << 20) + b"\n")
    assert reply == {"ok": False, "error": "request too long"}
