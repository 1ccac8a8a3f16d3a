"""The management API: one JSON command per line over a unix socket."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from controller.management_api import (
    CommandError,
    ManagementClient,
    ManagementServer,
    SocketInUseError,
)


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


@pytest.mark.parametrize("payload", [b"[" * 200_000 + b"\n",
                                     b'{"command": ' + b"[" * 200_000 + b"\n",
                                     b'{"command": "x", "y": ' + b'{"a":' * 100_000 + b"\n"])
def test_deeply_nested_json_gets_a_clear_error(server, payload: bytes) -> None:
    # json.loads raises RecursionError, not ValueError, on deep nesting.
    reply = raw(server.path, payload)
    assert reply["ok"] is False and "command" in reply["error"]
    client = ManagementClient(server.path)
    try:
        assert client.run("still there") == "ran still there"
    finally:
        client.close()


def test_fifty_clients_connecting_at_once_all_get_in(tmp_path: Path) -> None:
    # Bound and listening, not yet accepting: every connection waits in the backlog.
    srv = ManagementServer(tmp_path / "c.sock", echo_or_refuse)
    clients = []
    try:
        for _ in range(50):
            clients.append(ManagementClient(srv.path, timeout=10))  # raises if refused
        srv.start()
        assert [c.run(f"n{i}") for i, c in enumerate(clients)] == [
            f"ran n{i}" for i in range(50)]
    finally:
        for c in clients:
            c.close()
        srv.stop()


def test_a_second_server_on_a_live_socket_refuses_and_leaves_it(server) -> None:
    with pytest.raises(SocketInUseError, match=str(server.path)):
        ManagementServer(server.path, echo_or_refuse)
    client = ManagementClient(server.path)
    try:
        assert client.run("first") == "ran first"
    finally:
        client.close()


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a kill -9 leaves
    srv = ManagementServer(path, echo_or_refuse)
    srv.start()
    try:
        client = ManagementClient(path)
        assert client.run("x") == "ran x"
        client.close()
    finally:
        srv.stop()


def test_a_path_that_is_not_a_socket_is_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    path.write_text("someone's file")
    with pytest.raises(SocketInUseError, match="not a socket"):
        ManagementServer(path, echo_or_refuse)
    assert path.read_text() == "someone's file"


def test_an_echoed_huge_command_is_shortened(server) -> None:
    client = ManagementClient(server.path)
    try:
        with pytest.raises(CommandError) as e:
            client.run("bad " + "x" * (900 << 10))
    finally:
        client.close()
    message = str(e.value)
    assert message.startswith("refused: bad xxx") and len(message) < 1000
    assert str(900 << 10) in message  # says how long the word was
