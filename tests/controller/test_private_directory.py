"""The controller's directory: created 0700, refused when others could meddle with it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from controller.private_directory import UnsafeDirectoryError, ensure_private_directory


def test_a_missing_directory_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "p4lb"
    ensure_private_directory(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    ensure_private_directory(path)  # ours already: fine


def test_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p4lb"
    path.mkdir()
    path.chmod(0o777)
    with pytest.raises(UnsafeDirectoryError, match="writable by others"):
        ensure_private_directory(path)
    path.chmod(0o1777)  # sticky, like /tmp: nobody can replace what we put there
    ensure_private_directory(path)


def test_a_symbolic_link_or_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafeDirectoryError, match="symbolic link"):
        ensure_private_directory(tmp_path / "link")
    (tmp_path / "file").write_text("")
    with pytest.raises(UnsafeDirectoryError, match="not a directory"):
        ensure_private_directory(tmp_path / "file")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_a_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p4lb"
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)
    with pytest.raises(UnsafeDirectoryError, match="uid 65534"):
        ensure_private_directory(path)
