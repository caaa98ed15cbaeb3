"""Where a sync loads, chunks and embeds: in this process (``local``) or on a Ray cluster (``ray``).

The :class:`~indexing.sync.Syncer` decides what to do (hashes, skips, removals, statuses) and writes
every change itself, one write group per transaction; an engine only does the two heavy, pure steps:

- ``load(files)`` → per file, its documents or a :class:`~indexing.report.FileEntry` saying why not;
- ``embed(groups, leads)`` → per write group, in order, its chunks, vectors and lead vectors
  (:class:`~indexing.engines.embedding.Embedded`).

Example:
    >>> with make_engine("local", Embedder(), ChunkerConfig(), LoadOptions()) as engine:   # doctest: +SKIP
    ...     docs = engine.load([FoundFile(Path("docs/cats.md"), True)])[0]
    ...     [done] = engine.embed([docs], leads=True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Protocol

from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from indexing.engines.embedding import Embedded
from indexing.errors import EngineUnavailableError
from indexing.loaders import LoadOptions
from indexing.loaders.files import FoundFile
from indexing.report import FileEntry
from indexing.types import Document

ENGINES = ("local", "ray")
Progress = Callable[[str, int, int], None]


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
        self, groups: Sequence[Sequence[Document]], leads: bool, progress: Progress | None = None
    ) -> Iterator[Embedded]:
        """One :class:`Embedded` per group, in the groups' order, each as soon as it is complete."""
        ...


def make_engine(
    name: str, embedder: Embedder, chunking: ChunkerConfig, options: LoadOptions, ray_address: str | None = None
) -> Engine:
    """The engine called ``name``; cheap (Ray is only checked for, not started).

    Raises:
        EngineUnavailableError: ``ray`` without Ray installed.
        ConfigError: an unknown engine name.
    """
    from indexing.manifest import check_choice

    check_choice(name, ENGINES, "--engine")
    if name == "ray":
        from indexing.engines.ray_engine import RayEngine

        return RayEngine(embedder, chunking, options, address=ray_address)
    from indexing.engines.local import LocalEngine

    return LocalEngine(embedder, chunking, options)


__all__ = ["ENGINES", "Embedded", "Engine", "EngineUnavailableError", "Progress", "make_engine"]
