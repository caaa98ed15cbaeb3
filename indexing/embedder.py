"""Sentence-transformers embedding with lazy loading, batching and L2 normalisation."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from indexing.errors import ModelNotAvailableError
from indexing.models import DEFAULT_MODEL, resolve_embedding_model

# Offline by default: every default model ships in a package. A user with network can set
# HF_HUB_OFFLINE=0 to let hub names through.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


SMALL_INPUT = 8  # texts; below this a single intra-op thread is faster (see _threads_for)


@contextmanager
def _threads_for(n_texts: int) -> Iterator[None]:
    """Run small encodes (a query) on one torch thread.

    A query is a few dozen tokens: splitting it across OpenMP threads buys nothing, and on a
    busy machine the threads' barrier waits cost whole scheduler slices (measured here under
    load: 2.2 s per query with 2 threads vs 0.18 s with 1). Batches keep every core.
    """
    import torch

    if n_texts >= SMALL_INPUT or torch.get_num_threads() == 1:
        yield
        return
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


_THREADS_LOCK = threading.Lock()


class Embedder:
    """Turns texts into unit-length float32 vectors.

    The constructor only records the configuration; the model loads on first use (or
    :meth:`warm_up`). Thread-safe to share (the UI caches one per process).

    Example:
        >>> emb = Embedder()                      # all-MiniLM-L6-v2 from its PyPI package
        >>> emb.encode(["a cat", "a dog"]).shape
        (2, 384)

    Args:
        model: a name understood by :func:`indexing.models.resolve_embedding_model` or a local path.
        device: torch device ("cpu", "cuda"); None picks CUDA when available.
        batch_size: texts per forward pass.
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str | None = None, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.requested = model
        self.resolved = resolve_embedding_model(model)
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """Canonical model name, as recorded in manifests."""
        return self.resolved.name

    def warm_up(self) -> None:
        """Load the model now (idempotent)."""
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(self.resolved.location, device=self.device)
            except OSError as exc:
                raise ModelNotAvailableError(
                    f"could not load embedding model {self.requested!r} from {self.resolved.location}: {exc}"
                ) from exc

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer``."""
        self.warm_up()
        return self._model

    @property
    def dimension(self) -> int:
        """Vector size, e.g. 384 for MiniLM."""
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_seq_length(self) -> int:
        """Most tokens (special tokens included) the model reads; longer input is truncated."""
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer."""
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens excluded."""
        return len(self.tokenizer.tokenize(text))

    def encode(self, texts: Sequence[str], *, show_progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        """Embed texts.

        Args:
            texts: n strings.
            show_progress: draw a tqdm bar.
            batch_size: override the configured batch size.

        Returns:
            (n, d) C-contiguous float32 array with unit-length rows; (0, d) for no texts.
        """
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with _threads_for(len(texts)):
            vectors = self._encode(texts, show_progress, batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode(self, texts: Sequence[str], show_progress: bool, batch_size: int | None) -> np.ndarray:
        return self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
