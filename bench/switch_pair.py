"""The switches a figure compares, started together and always stopped by PID.

Ours is the embedded switch. The baseline is BMv2 ``simple_switch_grpc``
running the same program when it is on PATH; otherwise the figures say which
baseline stands in (and why) in their rows. Both run with ``--log-level off``
(BMv2 at its best; its default level is measured beside it once, in the
data-plane figure), and ``bmv2_build`` says how the BMv2 found was built:
its version and whether its logging macros were compiled in (they cost
packet rate even with logging off).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from p4switch.launch import SwitchProcess

EMBEDDED, BMV2 = "embedded", "bmv2"
BMV2_NAME = "BMv2 simple_switch_grpc"
BEST_LOG_LEVEL = "off"
# bm/config.h defines these when BMv2 was configured without --disable-logging-macros
# (BM_LOG_*) or --disable-elogger (BM_ELOG_ON).
BMV2_BUILD_MACROS = ("BM_LOG_DEBUG_ON", "BM_LOG_TRACE_ON", "BM_ELOG_ON")


def bmv2_installed() -> bool:
    return shutil.which("simple_switch_grpc") is not None


def bmv2_build() -> dict | None:
    """How the simple_switch_grpc on PATH was built: its --version, and which of
    BMV2_BUILD_MACROS its installed bm/config.h defines (None: header not found)."""
    exe = shutil.which("simple_switch_grpc")
    if exe is None:
        return None
    out: dict = {"binary": exe}
    for name in ("simple_switch_grpc", "simple_switch"):
        path = shutil.which(name) or exe
        try:
            done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
            out[f"{name} --version"] = (done.stdout.strip() or done.stderr.strip())
        except (OSError, subprocess.TimeoutExpired) as e:
            out[f"{name} --version"] = f"unknown ({e})"
    prefix = Path(exe).resolve().parent.parent
    header = next((h for h in (prefix / "include" / "bm" / "config.h",
                               Path("/usr/local/include/bm/config.h"),
                               Path("/usr/include/bm/config.h")) if h.exists()), None)
    out["config_h"] = str(header) if header else None
    if header is not None:
        text = header.read_text(errors="replace")
        out["macros"] = {m: re.search(rf"^\s*#\s*define\s+{m}\b", text, re.M) is not None
                         for m in BMV2_BUILD_MACROS}
    else:
        out["macros"] = None
    return out


def describe_bmv2_build(build: dict | None) -> str:
    if build is None:
        return "BMv2 not installed"
    macros = build["macros"]
    flags = ("logging macros unknown (no bm/config.h found)" if macros is None else
             ", ".join(f"{m} {'on' if on else 'off'}" for m, on in macros.items()))
    return (f"{build['binary']} {build.get('simple_switch_grpc --version', '')}; {flags}; "
            f"run with --log-level {BEST_LOG_LEVEL}")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"process {pid} has no VmRSS (a zombie?)")


@contextlib.contextmanager
def running_switch(target: str, json_path: Path | None, workdir: Path,
                   packet_port: bool = False,
                   log_level: str | None = BEST_LOG_LEVEL) -> Iterator[SwitchProcess]:
    """One switch process for the block; its log is workdir/switch-TARGET-N.log.
    ``log_level`` None: the switch's default level."""
    workdir.mkdir(parents=True, exist_ok=True)
    n = len(list(workdir.glob(f"switch-{target}-*.log")))
    switch = SwitchProcess(
        json_path, target=target,
        packet_in=f"ipc://{workdir}/ports-{target}-{n}.ipc" if packet_port else None,
        log_path=workdir / f"switch-{target}-{n}.log", log_level=log_level,
    )  # fmt: skip
    try:
        switch.start()
        yield switch
    finally:
        switch.stop()
