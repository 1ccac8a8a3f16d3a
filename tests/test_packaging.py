"""What `pip install .` installs: the packages p4switch and controller, nothing else.

The wheel is built from the checkout and installed into a new venv away from
the repository, so the imports and the entry point below can only come from
the installed wheel. Its dependencies are taken from the test venv's
site-packages (PYTHONPATH does not run the editable install's .pth hook), so
the test needs no second download of grpcio and protobuf.
"""

import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_p4switch_and_controller_only(tmp_path: Path) -> None:
    # A copy of the checkout: setuptools builds in the source's build/, which
    # could hold modules that are gone from the tree.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", ".hypothesis", ".*_cache"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(source)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("p4lb-*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    packages = {name for name in top_level if not name.endswith(".dist-info")}
    assert packages == {"p4switch", "controller"}

    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, cwd=tmp_path)
    deps = {"PYTHONPATH": os.pathsep.join(site.getsitepackages()), "PATH": os.environ["PATH"]}
    probe = ("import importlib.util, p4switch, controller, p4switch.main, controller.daemon;"
             "assert importlib.util.find_spec('target') is None;"
             "print(p4switch.__file__)")
    where = subprocess.run([python, "-c", probe], check=True, cwd=tmp_path, env=deps,
                           capture_output=True, text=True).stdout
    assert str(env_dir) in where
    usage = subprocess.run([env_dir / "bin" / "p4lb-switch", "--help"], check=True, cwd=tmp_path,
                           env=deps, capture_output=True, text=True).stdout
    assert "--grpc-server-addr" in usage
