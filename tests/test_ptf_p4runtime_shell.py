"""p4runtime-shell writes lb.p4's entries on the switch; PTF sees the GRE packet (issue 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import p4runtime_sh.shell as sh

from p4switch.launch import SwitchProcess

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "p4src" / "build"


def entry(table: str, action: str, match: dict[str, str], params: dict[str, str]) -> None:
    te = sh.TableEntry(table)(action=action)
    for k, v in match.items():
        te.match[k] = v
    for k, v in params.items():
        te.action[k] = v
    te.insert()


def test_gre_packet_from_entries_written_by_p4runtime_shell(tmp_path: Path) -> None:
    ipc = f"ipc://{tmp_path}/shell.ipc"
    with SwitchProcess(None, packet_in=ipc, log_path=tmp_path / "switch.log") as switch:
        sh.setup(device_id=0, grpc_addr=switch.grpc_addr, election_id=(0, 1),
                 config=sh.FwdPipeConfig(str(BUILD / "lb.p4info.txt"), str(BUILD / "lb.json")))
        try:
            entry("vip4", "set_vip", {"dst_addr": "10.0.0.1/32"},
                  {"vip_id": "1", "new_len_mask": "0", "src_ip_sticky": "0"})
            entry("maglev", "use_bucket_as", {"vip_id": "1", "bucket": "0"}, {"as_id": "7"})
            entry("as_encap", "encap_gre4", {"as_id": "7"},
                  {"src_addr": "192.0.2.1", "as_addr": "10.1.0.7"})
            entry("route4", "set_next_hop", {"dst_addr": "10.1.0.0/16"},
                  {"port": "2", "src_mac": "02:4c:42:00:00:02", "dst_mac": "02:00:00:00:00:a5"})
            assert len(list(sh.TableEntry("maglev").read())) == 1
        finally:
            sh.teardown()
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
