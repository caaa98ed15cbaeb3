"""Crash-safe file writes: temp file, fsync, rename, fsync the directory."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from indexing.faults import fault_point


def fsync_dir(path: Path) -> None:
    """Persist a directory entry change (rename/unlink)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Write ``target`` via ``write(tmp_path)``, then fsync and rename over it.

    A crash leaves either the old file or the new one, never a torn file.
    """
    tmp = target.with_name(target.name + ".tmp")
    write(tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fault_point("atomic.before_rename")
    os.replace(tmp, target)
    fsync_dir(target.parent)


def atomic_write_dir(target: Path, write: Callable[[Path], None]) -> None:
    """Like :func:`atomic_write` for a directory of files (a segment's vectors or BM25 postings).

    Raises:
        OSError: with an errno always: a write that stopped short without one (numpy reports a full disk or a
            file-size limit as "N requested and M written") is raised as ENOSPC naming the directory.
    """
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (a write stopped short: {exc})", str(tmp)) from exc
    for child in tmp.iterdir():
        fd = os.open(child, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fault_point("atomic.before_rename")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    fsync_dir(target.parent)


def remove_path(path: Path) -> None:
    """Delete a file or directory if present."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
