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
QUERIES_BEFORE_FAST_PATH = 3  # small encodes after which the ONNX query path is built (see Embedder.encode)


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
        self._query_encoder: Any = None
        self._query_encoder_built = False
        self._small_calls = 0

    @property
    def name(self) -> str:
        """Canonical model name, as recorded in manifests."""
        return self.resolved.name

    def warm_up(self, queries: bool = False) -> None:
        """Load the model now (idempotent); with ``queries``, also build the fast path for queries."""
        self._load()
        if queries:
            self.query_encoder()

    def _load(self) -> None:
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
        self._load()
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
        """Tokens the model sees for ``text``, special tokens excluded; long text is measured, not warned about."""
        return self.count_tokens_many([text])[0]

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count_tokens` of many texts in one tokenizer call (the fast tokenizer batches in Rust)."""
        if not texts:
            return []
        ids = self.tokenizer(
            list(texts), add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False,
            verbose=False,
        )["input_ids"]
        return [len(row) for row in ids]

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
        if len(texts) < SMALL_INPUT and not show_progress:
            self._small_calls += 1
            # Building the fast path costs ~2 s: worth it in a process that serves queries (the UI, an
            # API user, an evaluation), not in a one-shot `sift search`. Three queries tell them apart.
            if self._query_encoder_built or self._small_calls >= QUERIES_BEFORE_FAST_PATH:
                fast = self.query_encoder()
                if fast is not None:
                    return fast.encode(list(texts))
        with _threads_for(len(texts)):
            vectors = self._encode(texts, show_progress, batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_torch(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`encode` without the ONNX query path (for comparisons)."""
        with _threads_for(len(texts)):
            return np.ascontiguousarray(self._encode(texts, False, None), dtype=np.float32)

    def query_encoder(self) -> Any:
        """The ONNX Runtime encoder for a few texts (queries), built on first use; None → PyTorch is used.

        See :mod:`indexing.query_runtime`: same weights, same vectors to float rounding, ~2.9x faster
        per query on CPU (``bench/bench_search.py``).
        """
        if not self._query_encoder_built:
            model = self.model
            with self._lock:
                if not self._query_encoder_built:
                    from indexing.query_runtime import build_query_encoder

                    with _threads_for(1):
                        self._query_encoder = build_query_encoder(model)
                    self._query_encoder_built = True
        return self._query_encoder

    def _encode(self, texts: Sequence[str], show_progress: bool, batch_size: int | None) -> np.ndarray:
        return self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
