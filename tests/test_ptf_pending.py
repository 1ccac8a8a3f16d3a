"""Runs tests/ptf_pending (lb.p4's pending-flow table) on a fresh switch with no controller.

The PTF test is itself the P4Runtime primary, so no flow entry is installed
behind its back; the embedded switch, or BMv2 with TARGET=bmv2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from p4switch.launch import SwitchProcess

ROOT = Path(__file__).resolve().parent.parent


def test_pending_flows_stay_on_their_first_as(tmp_path: Path) -> None:
    ipc = f"ipc://{tmp_path}/pending.ipc"
    with SwitchProcess(None, packet_in=ipc, log_path=tmp_path / "switch.log") as switch:
        ptf = subprocess.run(
            [sys.executable, str(Path(sys.executable).parent / "ptf"),
             "--test-dir", str(ROOT / "tests" / "ptf_pending"), "--platform", "nn",
             "--device-socket", f"0-{{0-3}}@{ipc}", "--disable-ipv6",
             "--test-params", f"grpc_addr='{switch.grpc_addr}'",
             "--log-file", str(tmp_path / "ptf.log")],
            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
            text=True, timeout=300,
        )
    print(ptf.stdout[-20000:], ptf.stderr[-20000:])
    assert ptf.returncode == 0, "PTF pending-flow test failed (see its output above)"
