"""Runs a script of this directory in p4runtime-shell's own environment.

p4runtime-shell pins protobuf < 3.21 and p4runtime 1.4.1; p4lb runs on
protobuf >= 6, so the shell lives in .venv-shell (``make shell-venv``, which
``make test`` runs) and the tests drive it as a subprocess. The scripts
(``lb_entries.py``, ``srv_features.py``) import p4runtime_sh and nothing of
p4lb: they are what a user of the shell would type.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def shell_python() -> Path:
    """The Python of p4runtime-shell's environment ($P4RUNTIME_SHELL_PYTHON overrides)."""
    python = Path(os.environ.get("P4RUNTIME_SHELL_PYTHON", ROOT / ".venv-shell" / "bin" / "python"))
    if not python.exists():
        raise FileNotFoundError(f"{python} is missing: run `make shell-venv` (make test does)")
    return python


def run_shell_script(script: str, *args: str, timeout: float = 120) -> str:
    """Runs ``script`` (a file of this directory) with ``args``; its stdout. A failing
    script fails the test with the script's own output."""
    proc = subprocess.run([str(shell_python()), str(HERE / script), *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{script} {' '.join(args)} exited with {proc.returncode}\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc.stdout
