"""The p4lb-switch daemon: simple_switch_grpc's command line, clean stop on SIGTERM."""

import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pynng
import pytest
from frames import MAC_B, ethernet
from p4rt_client import WAIT, Controller, Update, update

from p4switch.p4runtime.proto import p4runtime_pb2

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.embedded_only("tests the p4lb-switch command")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_switch(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "p4switch.main", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_listening(proc: subprocess.Popen) -> None:
    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(WAIT * 3)
    assert line and "Server listening" in line[0], proc.stderr.read() if proc.poll() else line


@pytest.fixture
def stop_later():
    procs = []
    yield procs.append
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_daemon_serves_p4runtime_and_nanomsg_then_stops_on_sigterm(features, tmp_path,
                                                                  stop_later):
    port = free_port()
    address = f"ipc://{tmp_path}/sw.ipc"
    # grpc options after "--", as for simple_switch_grpc
    proc = run_switch("--no-p4", "--device-id", "3", "--packet-in", address,
                      "--", "--grpc-server-addr", f"127.0.0.1:{port}", "--cpu-port", "255")
    stop_later(proc)
    wait_listening(proc)
    c = Controller(f"127.0.0.1:{port}", device_id=3)
    ptf = pynng.Pair0(recv_timeout=int(WAIT * 1000))
    try:
        c.set_pipeline(features.p4info, features.json)
        c.write(update(Update.INSERT, table_entry=features.names.entry(
            "dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=2)))
        ptf.dial(address, block=True)
        frame = ethernet(MAC_B)
        ptf.send(struct.pack("<iii", 3, 1, len(frame)) + frame)
        assert ptf.recv()[12:] == frame
    finally:
        ptf.close()
        c.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT * 2) == 0


def test_startup_json_forwards_before_p4runtime_and_sigint_stops(features, stop_later):
    port = free_port()
    proc = run_switch(str(features.json_path), "--grpc-server-addr", f"127.0.0.1:{port}",
                      "--log-console", "--log-level", "debug")
    stop_later(proc)
    wait_listening(proc)
    c = Controller(f"127.0.0.1:{port}", device_id=0)
    try:
        with pytest.raises(grpc.RpcError) as e:
            c.read(p4runtime_pb2.Entity(table_entry=p4runtime_pb2.TableEntry()))
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        c.close()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=WAIT * 2) == 0


@pytest.mark.parametrize("args, words", [
    ([], "--no-p4"),
    (["--no-p4", "x.json"], "not both"),
    (["--no-p4", "-i", "eth0"], "'eth0' is not PORT@IFACE"),
    (["--no-p4", "-i", "1@a", "-i", "1@b"], "port 1 is given twice"),
    (["--no-p4", "--packet-in", "/tmp/x"], "'/tmp/x' is not an ipc://"),
    (["--no-p4", "--grpc-server-addr", "nowhere"], "'nowhere' is not HOST:PORT"),
    (["--no-p4", "--device-id", "-1"], "'-1' is negative"),
])
def test_bad_arguments_exit_2_naming_the_token(args, words):
    proc = run_switch(*args)
    _, err = proc.communicate(timeout=WAIT * 3)
    assert proc.returncode == 2
    assert words in err


def test_switch_that_cannot_start_exits_1(tmp_path, stop_later):
    garbage = tmp_path / "bad.json"
    garbage.write_bytes(b"\x00 not json")
    proc = run_switch(str(garbage), "--grpc-server-addr", f"127.0.0.1:{free_port()}")
    _, err = proc.communicate(timeout=WAIT * 3)
    assert proc.returncode == 1 and "bad.json" in err

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        proc = run_switch("--no-p4", "--grpc-server-addr",
                          f"127.0.0.1:{busy.getsockname()[1]}")
        _, err = proc.communicate(timeout=WAIT * 3)
        assert proc.returncode == 1 and "cannot listen" in err
    finally:
        busy.close()
