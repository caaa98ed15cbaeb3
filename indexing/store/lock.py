"""The one-writer-at-a-time lock of an index directory, which names the process holding it.

Example:
    >>> with write_lock(Path("data/index")):    # doctest: +SKIP
    ...     ...                                  # another `sift index` on the same index waits here
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexing.errors import IndexBusyError

log = logging.getLogger(__name__)
LOCK_NAME = ".lock"


def holder(index_dir: Path) -> str:
    """The PID written by the process that holds (or last held) the lock, or ``"?"``."""
    try:
        return (Path(index_dir) / LOCK_NAME).read_text().strip() or "?"
    except OSError:
        return "?"


@contextmanager
def write_lock(index_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the index's write lock (an ``flock`` on ``.lock``), waiting for another writer to finish.

    A writer that has to wait logs ``index DIR is being written by PID N; waiting`` once. The lock is released
    by the kernel if its holder dies, so a killed writer never blocks the next one.

    Raises:
        IndexBusyError: ``timeout`` seconds passed and the other writer still holds it.
    """
    path = Path(index_dir) / LOCK_NAME
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _wait(handle, index_dir, timeout)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait(handle, index_dir: Path, timeout: float | None) -> None:  # type: ignore[no-untyped-def]
    pid = holder(index_dir)
    log.warning("index %s is being written by PID %s; waiting for it to finish", index_dir, pid)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() > deadline:
                raise IndexBusyError(
                    f"index {index_dir} is being written by PID {pid}: wait for it to finish, or stop it"
                ) from None
            time.sleep(0.05)
