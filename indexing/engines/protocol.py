"""What the Syncer asks of an engine: the :class:`Engine` protocol, the engine names, the progress callback.

Its own module so the engines (:mod:`indexing.engines.local`, :mod:`indexing.engines.ray_engine`) and the
package that builds them (:func:`indexing.engines.make_engine`) all import these types from here, and no
engine imports the package that imports it.

Example:
    >>> "ray" in ENGINES
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Protocol

from indexing.datatypes import Document
from indexing.engines.embedding import Embedded
from indexing.loaders.files import FoundFile
from indexing.report import FileEntry

ENGINES = ("local", "ray")
Progress = Callable[[str, int, int], None]  # (stage, done, total), e.g. ("embedding documents", 120, 400)


class Engine(Protocol):
    """What the Syncer asks of an engine (a context manager: leaving it releases what it started)."""

    name: str

    def __enter__(self) -> Engine: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def load(self, files: Sequence[FoundFile]) -> list[list[Document] | FileEntry]:
        """Each file's documents, or its entry (``documents=0``) when it cannot be read, in the order given."""
        ...

    def embed(
        self, groups: Sequence[Sequence[Document]], leads: int, progress: Progress | None = None
    ) -> Iterator[Embedded]:
        """One :class:`Embedded` per group, in the groups' order, each as soon as it is complete."""
        ...
