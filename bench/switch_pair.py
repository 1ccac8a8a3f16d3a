"""The switches a figure compares, started together and always stopped by PID.

Ours is the embedded switch. The baseline is BMv2 ``simple_switch_grpc``
running the same program when it is on PATH; otherwise the figures say which
baseline stands in (and why) in their rows.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from p4switch.launch import SwitchProcess

EMBEDDED, BMV2 = "embedded", "bmv2"
BMV2_NAME = "BMv2 simple_switch_grpc"


def bmv2_installed() -> bool:
    return shutil.which("simple_switch_grpc") is not None


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"process {pid} has no VmRSS (a zombie?)")


@contextlib.contextmanager
def running_switch(target: str, json_path: Path | None, workdir: Path,
                   packet_port: bool = False) -> Iterator[SwitchProcess]:
    """One switch process for the block; its log is workdir/switch-TARGET-N.log."""
    workdir.mkdir(parents=True, exist_ok=True)
    n = len(list(workdir.glob(f"switch-{target}-*.log")))
    switch = SwitchProcess(
        json_path, target=target,
        packet_in=f"ipc://{workdir}/ports-{target}-{n}.ipc" if packet_port else None,
        log_path=workdir / f"switch-{target}-{n}.log",
    )  # fmt: skip
    try:
        switch.start()
        yield switch
    finally:
        switch.stop()
