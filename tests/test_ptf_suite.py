"""Runs the PTF packet suite (tests/ptf) against a switch and a controller daemon.

The switch is the embedded one, or BMv2 with TARGET=bmv2; PTF talks to its
ports over nanomsg (`--platform nn`), the tests talk to the controller's
management API. PTF's own summary is printed; its exit status decides.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from p4switch.launch import SwitchProcess

ROOT = Path(__file__).resolve().parent.parent
PTF_DIR = ROOT / "tests" / "ptf"
LB_JSON = ROOT / "p4src" / "build" / "lb.json"
PTF_PORTS = "0-7"


def test_ptf_suite(tmp_path: Path) -> None:
    ipc = f"ipc://{tmp_path}/ptf.ipc"
    sock = tmp_path / "controller.sock"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with SwitchProcess(LB_JSON, packet_in=ipc, log_path=tmp_path / "switch.log") as switch:
        controller = subprocess.Popen(
            [sys.executable, "-m", "controller.daemon", "--switch", switch.grpc_addr,
             "--socket", str(sock), "--state", str(tmp_path / "state.json")],
            cwd=ROOT, env=env, stdout=open(tmp_path / "controller.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not sock.exists():
                assert controller.poll() is None, (tmp_path / "controller.log").read_text()
                assert time.monotonic() < deadline, "controller socket never appeared"
                time.sleep(0.1)
            ptf = subprocess.run(
                [sys.executable, str(Path(sys.executable).parent / "ptf"),
                 "--test-dir", str(PTF_DIR), "--platform", "nn",
                 "--device-socket", f"0-{{{PTF_PORTS}}}@{ipc}",
                 "--test-params", f"grpc_addr='{switch.grpc_addr}';socket='{sock}'",
                 "--log-file", str(tmp_path / "ptf.log"), "--disable-ipv6", "--qlen", "1000",
                 *os.environ.get("PTF_TESTS", "").split()],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200,
            )
        finally:
            controller.send_signal(signal.SIGTERM)
            try:
                controller.wait(10)
            except subprocess.TimeoutExpired:
                controller.kill()
    print(ptf.stdout[-20000:])
    print(ptf.stderr[-20000:], file=sys.stderr)
    assert ptf.returncode == 0, "PTF suite failed (see its output above)"
