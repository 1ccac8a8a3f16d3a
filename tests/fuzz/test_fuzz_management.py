"""Damaged management commands over the controller's socket, the state file
compared after each: a refused command changes nothing, an accepted one is
saved as the configuration now is, and no command is an internal error.

The controller is the real service (grammar, model, state file) without a
switch: what reaches switches is the integration tests' business.
"""

from __future__ import annotations

import json
import socket

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from controller.lb_config_document import to_json
from controller.lb_service import LbService, load_state
from controller.management_api import ManagementServer
from tests.fuzz.conftest import examples
from tests.fuzz.mutations import damaged
from tests.integration.lb_fixture import LB_JSON, lb_p4info

SEEDS = [
    "lb conf ip4-src-address 192.0.2.1 buckets 1024 timeout 30",
    "lb conf ip6-src-address 2001:db8::1",
    "lb vip 10.0.0.1/32 encap gre4 new_len 1024",
    "lb vip 10.0.0.2/32 protocol tcp port 80 encap nat4 type nodeport target_port 8080",
    "lb vip 2001:db8:f::1/128 encap gre6",
    "lb vip 10.0.0.3/32 encap l3dsr dscp 7",
    "lb as 10.0.0.1/32 10.1.0.1 10.1.0.2 weight 3",
    "lb as 10.0.0.2/32 protocol tcp port 80 10.1.0.5",
    "lb as 10.0.0.1/32 10.1.0.1 del flush",
    "lb vip 10.0.0.3/32 del",
    "lb set interface 10.0.0.1/32 flush",
    "ip route add 10.1.0.0/16 via 02:00:00:00:00:02 port 2",
    "ip route del 10.1.0.0/16",
    "show lb vips verbose",
    "show running-config",
]
TOKENS = st.one_of(
    st.sampled_from(["lb", "vip", "as", "del", "flush", "encap", "gre4", "nat6", "port",
                     "protocol", "tcp", "udp", "weight", "0", "-1", "65536", "1" * 40,
                     "10.0.0.1/33", "::/0", "0.0.0.0/0", "ffff::/129", "02:00:00:00:00",
                     "new_len", "3", "target_port", "dscp", "64", "buckets", "timeout"]),
    st.text(max_size=12),
)


@st.composite
def commands(draw) -> str:
    words = draw(st.sampled_from(SEEDS)).split()
    kind = draw(st.sampled_from(["valid"] * 3 + ["drop", "replace", "insert", "bytes"]))
    event(f"command: {kind}")
    if kind == "drop" and words:
        del words[draw(st.integers(0, len(words) - 1))]
    elif kind == "replace":
        words[draw(st.integers(0, len(words) - 1))] = draw(TOKENS)
    elif kind == "insert":
        words.insert(draw(st.integers(0, len(words))), draw(TOKENS))
    elif kind == "bytes":
        raw = draw(damaged(" ".join(words).encode()))
        return raw.decode("utf-8", "replace")
    return " ".join(words)


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-management")
    state = tmp / "state.json"
    service = LbService(lb_p4info(), LB_JSON.read_bytes(), election_id=1, state_path=state,
                        housekeeping=False)
    server = ManagementServer(tmp / "c.sock", service.execute)
    server.start()
    yield server.path, state, service
    server.stop()
    service.close()


def ask(path, line: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(str(path))
        s.sendall(line)
        s.shutdown(socket.SHUT_WR)
        reply = s.makefile("rb").readline()
    assert reply, f"no reply to {line[:200]!r}"
    return json.loads(reply)


@examples(small=120)
@given(command=commands(), data=st.data(),
       framing=st.sampled_from(["json"] * 4 + ["damaged json", "nested json"]))
def test_damaged_commands_change_nothing_or_are_saved(controller, command, framing,
                                                      data) -> None:
    path, state, service = controller
    before = state.read_bytes() if state.exists() else None
    line = json.dumps({"command": command}).encode()
    if framing == "damaged json":
        line = data.draw(damaged(line)).replace(b"\n", b" ")
    elif framing == "nested json":
        depth = data.draw(st.integers(1, 100_000))
        line = b'{"command": ' + b"[" * depth + json.dumps(command).encode() + b"]" * depth + b"}"
    reply = ask(path, line + b"\n")
    assert isinstance(reply.get("ok"), bool), reply
    if not reply["ok"]:
        event("refused")
        assert "internal error" not in reply["error"], (command, reply)
        assert len(reply["error"]) < 4000
        after = state.read_bytes() if state.exists() else None
        assert after == before, (command, reply)
    else:
        event("accepted")
        if state.exists():
            saved = state.read_text()
            assert saved == to_json(service.config), command
            assert to_json(load_state(state)) == saved  # it loads back as it was saved
    assert ask(path, b'{"command": "show lb vips"}\n')["ok"]
