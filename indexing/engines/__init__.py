"""Where a sync loads, chunks and embeds: in this process (``local``) or on a Ray cluster (``ray``).

The :class:`~indexing.sync.Syncer` decides what to do (hashes, skips, removals, statuses) and writes
every change itself, one write group per transaction; an engine only does the two heavy, pure steps:

- ``load(files)`` → per file, its documents or a :class:`~indexing.report.FileEntry` saying why not;
- ``embed(groups, leads)`` → per write group, in order, its chunks, vectors and lead vectors
  (:class:`~indexing.engines.embedding.Embedded`).

The protocol an engine meets, the engine names and the progress callback live in
:mod:`indexing.engines.protocol`; they are re-exported here.

Example:
    >>> with make_engine("local", Embedder(), ChunkerConfig(), LoadOptions()) as engine:   # doctest: +SKIP
    ...     docs = engine.load([FoundFile(Path("docs/cats.md"), True)])[0]
    ...     [done] = engine.embed([docs], leads=2)
"""

from __future__ import annotations

from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from indexing.engines.embedding import Embedded
from indexing.engines.local import LocalEngine
from indexing.engines.protocol import ENGINES, Engine, Progress
from indexing.engines.ray_engine import RayEngine
from indexing.errors import EngineUnavailableError
from indexing.loaders import LoadOptions
from indexing.manifest import check_choice


def make_engine(
    name: str, embedder: Embedder, chunking: ChunkerConfig, options: LoadOptions, ray_address: str | None = None
) -> Engine:
    """The engine called ``name``; cheap (Ray is only checked for, not started).

    Raises:
        EngineUnavailableError: ``ray`` without Ray installed.
        ConfigError: an unknown engine name.
    """
    check_choice(name, ENGINES, "--engine")
    if name == "ray":
        return RayEngine(embedder, chunking, options, address=ray_address)
    return LocalEngine(embedder, chunking, options)


__all__ = ["ENGINES", "Embedded", "Engine", "EngineUnavailableError", "Progress", "make_engine"]
