"""The code that runs inside Ray: the embedder actor and the loader task of :mod:`indexing.engines.ray_engine`.

Kept apart from the driver side so a worker process imports only what it runs. Rows travel pickled
(``bytes`` columns): documents, chunks and vectors come back exactly as they were made.
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from indexing.engines.embedding import ChunkEmbedder
from indexing.engines.local import read_found
from indexing.loaders import LoadOptions


class EmbedWorker:
    """A Ray Data actor: builds the model once, then chunks and embeds batches of pickled documents.

    Example:
        >>> worker = EmbedWorker("all-MiniLM-L6-v2", None, 64, "none", (200, 32), True, None, None)  # doctest: +SKIP
        >>> worker({"i": np.array([0]), "doc": np.array([pickle.dumps(doc)], dtype=object)})["i"]  # doctest: +SKIP
        array([0])
    """

    def __init__(
        self, model: str, device: str | None, batch_size: int, quantize: str, chunking: tuple[int, int],
        leads: int, threads: int | None, fault_marker: str | None,
    ) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        # ONNX Runtime keeps one session per CPU this process may use (at most 8), not per CPU of the
        # actor's share. Limited to its share, 2 actors on 2 cores took 37.7 s against 25.7 s (bench_ray,
        # 1,000 docs): an actor waiting for its next batch leaves its core idle, and the other actor's
        # second session uses it.
        self.embedder = Embedder(model, device=device, batch_size=batch_size, quantize=quantize)
        self.embedder.warm_up()
        self.work = ChunkEmbedder(self.embedder, ChunkerConfig(*chunking))
        self.leads = leads
        self.fault_marker = fault_marker

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.fault_marker:
            die_once(self.fault_marker)
        docs = [pickle.loads(b) for b in batch["doc"]]
        done = self.work.run(docs, self.leads)
        out = [pickle.dumps((done.chunks[n], done.rows(n), done.leads.get(n))) for n in range(len(docs))]
        return {"i": batch["i"], "out": np.array(out, dtype=object)}


def die_once(marker: str) -> None:
    """Exit the process (no clean-up) unless ``marker`` exists; create it first, so only one process dies."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(1)


def load_batch(batch: dict[str, np.ndarray], options: LoadOptions) -> dict[str, np.ndarray]:
    """A Ray Data task: read pickled FoundFiles into their documents (or entries), pickled."""
    out = [pickle.dumps(read_found(pickle.loads(b), options)) for b in batch["file"]]
    return {"i": batch["i"], "out": np.array(out, dtype=object)}
