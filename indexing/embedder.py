"""Sentence embedding with lazy loading, batching and L2 normalisation, on ONNX Runtime or PyTorch.

Runtimes (``SIFT_EMBED_RUNTIME``): ``onnx`` (default) encodes with ONNX Runtime from a graph verified
against PyTorch and cached on disk (:mod:`indexing.onnx_cache`), so a process that finds the cache
imports neither torch nor sentence-transformers; ``torch`` runs ``SentenceTransformer.encode``. ONNX
is the default because it measured faster on the same fp32 weights (``bench/bench_embed.py``); a
model it does not cover, a GPU, or a missing ``onnxruntime`` stays on PyTorch with a log line.
``quantize="int8"`` runs every encode (batches and queries) on the int8 graph, which needs ONNX Runtime;
``quantize="auto"`` (the default for new indexes) is int8 where embedding runs on the CPU, fp32 on a GPU.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.env import env_choice
from indexing.errors import ConfigError, ModelNotAvailableError
from indexing.manifest import WEIGHTS, check_choice
from indexing.models import DEFAULT_MODEL, resolve_embedding_model
from indexing.onnx_encoder import SMALL_INPUT
from indexing.query_runtime import query_runtime

if TYPE_CHECKING:
    from indexing.onnx_encoder import OnnxEncoder

log = logging.getLogger(__name__)

RUNTIMES = ("onnx", "torch")
QUERIES_BEFORE_FAST_PATH = 3  # PyTorch runtime: small encodes after which the ONNX query path is built


def embed_runtime() -> str:
    """``$SIFT_EMBED_RUNTIME`` (``onnx`` unless set), checked.

    Example:
        >>> embed_runtime()
        'onnx'
    """
    return env_choice("SIFT_EMBED_RUNTIME", RUNTIMES, "onnx")


def on_gpu(device: str | None) -> bool:
    """True when embedding would run on a GPU: ``device`` names one, or it is unset and CUDA is available."""
    if device is not None:
        return device != "cpu"
    if "torch" not in sys.modules and not os.path.exists("/dev/nvidiactl"):
        return False  # no GPU driver: no need to import torch to ask
    import torch

    return bool(torch.cuda.is_available())


def resolve_weights(quantize: str, device: str | None = None) -> str:
    """The weights ``quantize`` asks for: ``"auto"`` becomes ``"int8"`` on the CPU and ``"none"`` on a GPU or
    with ``SIFT_EMBED_RUNTIME=torch`` (int8 runs on ONNX Runtime's CPU kernels only); others stay.

    Why int8 by default on the CPU: it embeds at about twice fp32's speed and moved no quality figure the
    project reports by more than 0.01 (``docs/decisions/int8-embeddings.md``).

    Raises:
        ConfigError: ``quantize`` is not ``"auto"`` or one of :data:`~indexing.manifest.WEIGHTS`.

    Example:
        >>> resolve_weights("auto", "cpu"), resolve_weights("auto", "cuda"), resolve_weights("none", "cpu")
        ('int8', 'none', 'none')
    """
    check_choice(quantize, ("auto", *WEIGHTS), "quantize")
    if quantize != "auto":
        return quantize
    return "none" if embed_runtime() == "torch" or on_gpu(device) else "int8"


@contextmanager
def _threads_for(n_texts: int) -> Iterator[None]:
    """Run small encodes (a query) on one torch thread.

    A query is a few dozen tokens: splitting it across OpenMP threads buys nothing, and on a
    busy machine the threads' barrier waits cost whole scheduler slices (``docs/decisions/onnx-runtime.md``).
    Batches keep every core.
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

    The constructor only records the configuration; the runtime loads on first use (or
    :meth:`warm_up`). Thread-safe to share (the UI caches one per process).

    Example:
        >>> emb = Embedder()                      # all-MiniLM-L6-v2 from its PyPI package
        >>> emb.encode(["a cat", "a dog"]).shape
        (2, 384)

    Args:
        model: a name understood by :func:`indexing.models.resolve_embedding_model` or a local path.
        device: torch device ("cpu", "cuda"); None picks CUDA when available. Not "cpu" → PyTorch.
        batch_size: texts per forward pass (PyTorch; ONNX Runtime has its own, see ``onnx_encoder.BATCH``).
        quantize: ``"none"``, ``"int8"`` (int8 weights, ONNX Runtime), ``"int8-all"`` (an index's earlier int8
            layout) or ``"auto"`` (:func:`resolve_weights`); :attr:`name` stays the model's.

    Raises:
        ConfigError: ``quantize`` is not one of those.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, device: str | None = None, batch_size: int = 64, quantize: str = "none"
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.quantize = resolve_weights(quantize, device)
        self.requested = model
        self.resolved = resolve_embedding_model(model)
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._runtime_lock = threading.Lock()
        self._onnx: OnnxEncoder | None = None
        self._runtime: str | None = None
        self._query_encoder: Any = None
        self._query_encoder_built = False
        self._small_calls = 0

    @property
    def name(self) -> str:
        """Canonical model name, as recorded in manifests."""
        return self.resolved.name

    @property
    def runtime(self) -> str:
        """What encodes: ``"onnx"`` or ``"torch"``, chosen on first use (see the module docstring)."""
        self._choose_runtime()
        assert self._runtime is not None
        return self._runtime

    def warm_up(self, queries: bool = False) -> None:
        """Load the runtime now (idempotent); with ``queries``, also the fast path for queries."""
        if self.runtime == "torch":
            self._load()
        if queries:
            self.query_encoder()

    def _choose_runtime(self) -> None:
        if self._runtime is not None:
            return
        with self._runtime_lock:
            if self._runtime is None:
                self._onnx = self._open_onnx()
                self._runtime = "torch" if self._onnx is None else "onnx"

    def _open_onnx(self) -> OnnxEncoder | None:
        wanted = embed_runtime()
        int8 = self.quantize != "none"
        if int8 and wanted == "torch":
            raise ConfigError("SIFT_EMBED_RUNTIME=torch cannot embed with int8 weights (ONNX Runtime only): "
                              "unset it, or use an index built with --quantize none")
        if not int8 and (wanted == "torch" or self._on_gpu()):
            return None
        from indexing.onnx_cache import open_encoder

        encoder = open_encoder(self.resolved, self.quantize, lambda: self.model)
        if encoder is None and int8:
            raise ModelNotAvailableError(f"embedding model {self.requested!r} has no verified int8 ONNX graph "
                                         "(onnxruntime missing, or see the log): build the index with --quantize none")
        if encoder is None:
            log.warning("model %s: ONNX bulk path unavailable; embedding with PyTorch", self.name)
        return encoder

    def _on_gpu(self) -> bool:
        return on_gpu(self.device)

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer

            try:
                # A folder here is read as it is: offline by default without touching HF_HUB_OFFLINE.
                self._model = SentenceTransformer(
                    self.resolved.location, device=self.device, local_files_only=self.resolved.local
                )
            except OSError as exc:
                raise ModelNotAvailableError(
                    f"could not load embedding model {self.requested!r} from {self.resolved.location}: {exc}"
                ) from exc

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads PyTorch, whatever the runtime)."""
        self._load()
        return self._model

    @property
    def dimension(self) -> int:
        """Vector size, e.g. 384 for MiniLM."""
        if self.runtime == "onnx":
            assert self._onnx is not None
            return self._onnx.dimension
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_seq_length(self) -> int:
        """Most tokens (special tokens included) the model reads; longer input is truncated."""
        if self.runtime == "onnx":
            assert self._onnx is not None
            return self._onnx.max_seq_length
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (loads the PyTorch model)."""
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens excluded; long text is measured, not warned about."""
        return self.count_tokens_many([text])[0]

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count_tokens` of many texts in one tokenizer call (the fast tokenizer batches in Rust)."""
        if not texts:
            return []
        if self.runtime == "onnx":
            assert self._onnx is not None
            return self._onnx.count_tokens_many(texts)
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
        if self.runtime == "onnx":
            return self._encode_onnx(texts, show_progress, batch_size)
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

    def _encode_onnx(self, texts: Sequence[str], show_progress: bool, batch_size: int | None) -> np.ndarray:
        assert self._onnx is not None
        if len(texts) < SMALL_INPUT and self.quantize == "none" and not _onnx_queries():
            return self.encode_torch(texts)  # SIFT_QUERY_RUNTIME=torch: queries on PyTorch (int8 has no such path)
        if not show_progress:  # the runtime's own batch size unless one is asked for: see onnx_encoder.BATCH
            return self._onnx.encode(texts, batch_size)
        from tqdm.auto import tqdm

        with tqdm(total=len(texts), unit="text", desc="embedding") as bar:
            return self._onnx.encode(texts, batch_size, bar.update)

    def encode_torch(self, texts: Sequence[str]) -> np.ndarray:
        """``SentenceTransformer.encode`` with fp32 weights, whatever the runtime (for comparisons)."""
        with _threads_for(len(texts)):
            return np.ascontiguousarray(self._encode(texts, False, None), dtype=np.float32)

    def query_encoder(self) -> Any:
        """What encodes a few texts (queries): an object with ``encode(texts)``, built on first use; None → PyTorch.

        ONNX runtime: its encoder (queries run on its few-thread session). PyTorch runtime: the
        in-memory ONNX export of :mod:`indexing.query_runtime` (~2.9x faster per query on CPU,
        ``bench/bench_search.py``).
        """
        if self.runtime == "onnx":
            assert self._onnx is not None
            if self.quantize == "none" and not _onnx_queries():
                return None
            self._onnx.session("query")
            return self._onnx
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


def _onnx_queries() -> bool:
    """False when ``SIFT_QUERY_RUNTIME=torch`` turns the ONNX query path off."""
    return query_runtime() == "onnx"
