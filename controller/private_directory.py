"""The directory that holds the controller's socket and state file.

The default, /tmp/p4lb, is a name any local user can create first; whoever
owns it could then swap the socket for one of their own, or read the state.
So a missing directory is created 0700, and an existing one is refused when
someone else owns it or others may write to it (the checks OpenSSH's
StrictModes makes). A shared sticky directory such as /tmp itself is fine:
nobody else can remove or replace what we create there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnsafeDirectoryError(OSError):
    """The directory exists but is not ours to trust."""


def ensure_private_directory(path: Path) -> None:
    """Creates ``path`` (mode 0700) or checks that the existing one is safe to use."""
    try:
        path.mkdir(mode=0o700, parents=True)
        return
    except FileExistsError:
        pass
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeDirectoryError(f"{path} is a symbolic link; refusing to use it")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectoryError(f"{path} exists and is not a directory")
    me = os.geteuid()
    if info.st_uid not in (me, 0):
        raise UnsafeDirectoryError(
            f"{path} belongs to uid {info.st_uid}, not to you (uid {me}); "
            "refusing to use it (remove it, or choose another --socket / --state)")
    others_write = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if others_write and not info.st_mode & stat.S_ISVTX:
        raise UnsafeDirectoryError(
            f"{path} is writable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            "refusing to use it")
