"""Atomic writes: the one place that writes a file or folder so a kill never leaves half of it.

``hold_lock(path)`` takes an exclusive lock without following a planted link.

``atomic_path(target)`` yields a temporary sibling path; the caller writes a file
(or a folder) there; on success every file under it is fsynced, it is renamed
over ``target`` and the parent folder is fsynced so the rename itself survives a
power cut. On any failure the temporary path is removed. A full disk becomes
one ``SelfMoaError`` line that names the file, with nothing half-written left.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selfmoa.core.errors import SelfMoaError


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
        return
    for child in sorted(path.rglob("*")):
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(path)


def _remove(path: Path) -> None:
    """Remove a file or folder; a symbolic link is removed itself, never followed."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def disk_error(error: OSError, path: Path) -> SelfMoaError:
    """One-line error for an OSError while writing ``path`` (full disk named as such)."""
    if error.errno == errno.ENOSPC:
        return SelfMoaError(f"disk full while writing {path}; free some space and run again")
    return SelfMoaError(f"cannot write {path}: {error.strerror or error}")


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    _remove(staging)
    try:
        yield staging
        _fsync_tree(staging)
        if target.is_dir() and staging.is_dir():
            _remove(target)  # os.replace cannot swap a non-empty folder
        os.replace(staging, target)
        fsync_dir(target.parent)
    except OSError as error:
        _remove(staging)
        raise disk_error(error, target) from None
    except BaseException:
        _remove(staging)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as staging:
        staging.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def open_regular(path: Path, mode: int, what: str) -> int:
    """A descriptor on ``path`` (created if missing), refusing anything but a regular file:
    a symbolic link is not followed (O_NOFOLLOW) and a FIFO or device neither blocks
    (O_NONBLOCK) nor is used. ``mode``: os.O_WRONLY, os.O_RDWR, with os.O_APPEND etc."""
    flags = mode | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError as error:
        found = "a symbolic link" if path.is_symlink() else error.strerror or str(error)
        raise SelfMoaError(f"cannot use {what} {path} ({found}); remove it") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise SelfMoaError(f"{what} {path} is not a regular file; remove it")
    os.set_blocking(descriptor, True)
    return descriptor


def hold_lock(path: Path, busy: str, wait: bool = False) -> Any:
    """An exclusive ``flock`` on ``path``, created if missing. The file is opened without
    following a symbolic link and never truncated, so a planted link harms nothing. With
    ``wait=False`` a lock held elsewhere is the one-line error ``busy``."""
    descriptor = open_regular(path, os.O_WRONLY, "the lock file")
    handle = os.fdopen(descriptor, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SelfMoaError(f"{busy}; wait for it or stop it") from None
    return handle
