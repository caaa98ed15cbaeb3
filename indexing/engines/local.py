"""The local engine: load, chunk and embed in this process, one file and one write group after another.

This is what ``sift index`` does by default; the Ray engine (:mod:`indexing.engines.ray_engine`) does
the same work in Ray tasks and actors and must give the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType

import numpy as np

from indexing.chunker import ChunkerConfig
from indexing.datatypes import Document
from indexing.embedder import Embedder
from indexing.engines.embedding import ChunkEmbedder, Embedded
from indexing.engines.protocol import Progress
from indexing.errors import LoaderError, UnsupportedFileError
from indexing.loaders import LoadOptions, load_file
from indexing.loaders.files import FoundFile
from indexing.report import FileEntry


def read_found(found: FoundFile, options: LoadOptions) -> list[Document] | FileEntry:
    """The file's documents, or its entry (``documents=0``) when the loader cannot read it.

    Example:
        >>> read_found(FoundFile(Path("notes.xyz"), False), LoadOptions()).status   # doctest: +SKIP
        'unsupported'
    """
    try:
        return load_file(
            found.path, text_column=options.text_column, title_column=options.title_column,
            ocr=options.ocr, ocr_lang=options.ocr_lang,
        )
    except UnsupportedFileError as exc:
        return FileEntry(found.key, "unsupported", str(exc))
    except LoaderError as exc:
        return FileEntry(found.key, getattr(exc, "status", "failed"), str(exc))


class LocalEngine:
    """Loads files one by one and embeds each write group with the process's own :class:`Embedder`.

    Example:
        >>> with LocalEngine(Embedder(), ChunkerConfig(), LoadOptions()) as engine:          # doctest: +SKIP
        ...     docs = engine.load([FoundFile(Path("docs/cats.md"), True)])[0]
        ...     done = next(engine.embed([docs], leads=2))
        >>> done.vectors.shape                                                               # doctest: +SKIP
        (1, 384)
    """

    name = "local"

    def __init__(self, embedder: Embedder, chunking: ChunkerConfig, options: LoadOptions) -> None:
        self.embedder = embedder
        self.chunking = chunking
        self.options = options

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: the embedder belongs to the caller."""

    def load(self, files: Sequence[FoundFile]) -> list[list[Document] | FileEntry]:
        """Each file's documents, or its entry when it cannot be read, in the order given."""
        return [read_found(found, self.options) for found in files]

    def embed(
        self, groups: Sequence[Sequence[Document]], leads: int, progress: Progress | None = None
    ) -> Iterator[Embedded]:
        """The chunks and vectors of each group, one group at a time (the caller writes each before the next)."""
        work = ChunkEmbedder(self.embedder, self.chunking)
        encode = self._encoder(progress)
        for docs in groups:
            yield work.run(docs, leads, encode)

    def _encoder(self, progress: Progress | None) -> Callable[[list[str], str], np.ndarray]:
        embedder = self.embedder

        def encode(texts: list[str], stage: str) -> np.ndarray:
            if progress is None:
                return embedder.encode(texts, show_progress=len(texts) > 64)
            if not texts:
                return embedder.encode([])
            # Steps of similar length, as one encode call would batch them: little padding per batch.
            order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
            out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
            step = max(embedder.batch_size * 4, 256)
            for start in range(0, len(texts), step):
                rows = order[start : start + step]
                out[rows] = embedder.encode([texts[i] for i in rows])
                progress(stage, min(start + step, len(texts)), len(texts))
            return out

        return encode
