"""What one server process holds: its Workspace, the lock that orders reads and writes on it, and settings.

Reads (search, ask retrieval, listings) run side by side under a shared lock; writes (upload, sync,
delete, classify or map the index) take it alone, so a request never sees the Workspace's store while
another request of the same server is rewriting it. Writes made by other processes (``sift index``,
``sift watch``) are picked up between requests: a request that finds a newer committed generation
swaps it in under the exclusive lock before it reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.ui.uploads import MAX_UPLOAD_MB  # one uploaded file, as on the Library page
from app.workspace import Workspace

MAX_JSON_BYTES = 1 << 20  # a JSON request body: 1 MiB is far beyond any query, label set or batch of texts


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes first, so a stream of readers cannot starve it.

    Example:
        >>> lock = ReadWriteLock()
        >>> with lock.reading():
        ...     pass
        >>> with lock.writing():
        ...     pass
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@dataclass
class ServerState:
    """The Workspace a server answers from, and how it may be used.

    Attributes:
        workspace: the index and models every route calls.
        api_key: the bearer token clients must send (None: no key asked, loopback only).
        upload_dir: where uploaded files are saved before they are indexed.
        preset: the generator preset for answers (None: the default).
        max_json_bytes / max_upload_mb: request size limits (413 beyond them).
    """

    workspace: Workspace
    api_key: str | None = None
    upload_dir: Path | None = None
    preset: str | None = None
    max_json_bytes: int = MAX_JSON_BYTES
    max_upload_mb: int = MAX_UPLOAD_MB
    lock: ReadWriteLock = field(default_factory=ReadWriteLock)

    @contextmanager
    def reading(self) -> Iterator[Workspace]:
        """The Workspace for a read, on the newest committed generation."""
        if self.workspace.stale():
            with self.lock.writing():
                self.workspace.refresh()
        with self.lock.reading():
            yield self.workspace

    @contextmanager
    def writing(self) -> Iterator[Workspace]:
        """The Workspace for a write, alone."""
        with self.lock.writing():
            yield self.workspace
