"""p4runtime-shell writes lb.p4's entries on the switch; PTF sees the GRE packet (issue 3).

The shell runs in its own environment (tests/p4runtime_shell/run.py): it pins
a protobuf that p4lb no longer runs on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from p4switch.launch import SwitchProcess
from tests.p4runtime_shell.run import run_shell_script

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "p4src" / "build"


def test_gre_packet_from_entries_written_by_p4runtime_shell(tmp_path: Path) -> None:
    ipc = f"ipc://{tmp_path}/shell.ipc"
    with SwitchProcess(None, packet_in=ipc, log_path=tmp_path / "switch.log") as switch:
        run_shell_script("lb_entries.py", switch.grpc_addr, str(BUILD / "lb.p4info.txt"),
                         str(BUILD / "lb.json"))
        ptf = subprocess.run(
            [sys.executable, str(Path(sys.executable).parent / "ptf"),
             "--test-dir", str(ROOT / "tests" / "ptf_shell"), "--platform", "nn",
             "--device-socket", f"0-{{0-3}}@{ipc}", "--disable-ipv6",
             "--log-file", str(tmp_path / "ptf.log")],
            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
            text=True, timeout=300,
        )
    print(ptf.stdout, ptf.stderr)
    assert ptf.returncode == 0
