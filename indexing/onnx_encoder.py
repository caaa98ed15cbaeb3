"""Encoding with ONNX Runtime and the ``tokenizers`` fast tokenizer: no torch, no sentence-transformers.

Why: ONNX Runtime embeds faster than PyTorch with the same fp32 weights (more so with int8), and a process
that finds a verified graph on disk (:mod:`indexing.onnx_cache`) starts encoding without importing torch;
the measurements and the session layout are in ``docs/decisions/onnx-runtime.md``.

The graph is the Hugging Face transformer (``last_hidden_state``); mean pooling and L2 normalisation
run here in NumPy, as in ``sentence_transformers.models.Pooling`` + ``Normalize``. Texts are
tokenized exactly as ``SentenceTransformer.encode`` does (truncation to ``max_seq_length``, padding
to the longest text of the batch), which the cache verifies on probe texts.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from indexing.env import env_int

SMALL_INPUT = 8  # texts; fewer run on the query session (few threads, no spinning)
# Texts per ONNX Runtime call. Small batches are faster here, unlike PyTorch: a batch of 64 x 256 tokens
# spills the attention scores out of cache, and a text padded to its batch's longest wastes work. int8
# runs one text per call: its activations are quantized with one scale per call, so in a batch a text's
# vector depended on its neighbours (cosine 0.989 to the same text alone); alone, bulk and query vectors
# of a text are the same. Measured with the bulk workers below (2 cores, AMD EPYC, 400 wiki chunks):
# fp32 7,475 tokens/s at 1 text per call, 7,051 at 4, 5,609 at 16.
BATCH = {"none": 1, "int8": 1, "int8-all": 1}
MAX_BULK_WORKERS = 8
MAX_QUERY_THREADS = 2


def query_threads() -> int:
    """Threads per query session: ``SIFT_QUERY_THREADS`` (0 or unset: automatic), else the CPUs, at most 2.

    A query is too small to gain from more (``docs/decisions/onnx-runtime.md``).

    Raises:
        ConfigError: ``SIFT_QUERY_THREADS`` is not a whole number ≥ 0.

    Example:
        >>> 1 <= query_threads() <= MAX_QUERY_THREADS
        True
    """
    asked = env_int("SIFT_QUERY_THREADS", 0, minimum=0)
    return max(1, min(MAX_QUERY_THREADS, asked or (os.cpu_count() or 1)))


def cpu_threads() -> int:
    """CPUs this process may run on (its affinity mask), e.g. 2."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def bulk_workers() -> int:
    """Sessions that encode a bulk call side by side: ``SIFT_EMBED_WORKERS``, else one per CPU (at most 8).

    Why data parallel: a model as small as MiniLM splits badly across threads inside one call (the threads
    meet at a barrier after every kernel); measured in ``docs/decisions/onnx-runtime.md``.

    Raises:
        ConfigError: ``SIFT_EMBED_WORKERS`` is not a whole number ≥ 1.
    """
    return env_int("SIFT_EMBED_WORKERS", max(1, min(MAX_BULK_WORKERS, cpu_threads())), minimum=1)


# ONNX Runtime's exact int8 arithmetic on x86 CPUs without VNNI (see make_session); part of the cache keys of
# everything int8 vectors are kept under (indexing.onnx_cache.FORMAT, the classifier's embedding cache).
INT8_PRECISION = ("session.x64quantprecision", "1")


def make_session(graph: bytes, threads: int, spinning: bool) -> Any:
    """An ONNX Runtime CPU session of ``graph`` with ``threads`` intra-op threads.

    Spinning (workers wait busy between kernels) only matters with more than one thread; query sessions
    never spin, so a busy machine's cores are not stolen from the query itself.

    int8 precision (:data:`INT8_PRECISION`): on an x86 CPU without VNNI (AVX2, or AVX-512 without it), ONNX
    Runtime multiplies uint8 activations by int8 weights with an instruction that adds pairs of products into
    16 bits and saturates; where a weight lies outside [-64, 63] the sum can overflow and is clamped. The option
    makes it use its uint8 x uint8 kernels there, which do not saturate. On such a CPU (AVX2, 2-core AMD EPYC)
    it cut the mean 1 - cosine of int8 to fp32 vectors from 0.00412 to 0.00363 (400 wiki summaries) and gave
    identifiers dense hit@1 0.6595 against 0.6417 (fp32 0.6619), for 16 % more embedding time;
    ``docs/decisions/int8-embeddings.md``. On a CPU with VNNI, or for fp32 graphs, it changes nothing.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry(*INT8_PRECISION)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Unit-length float32 vectors from an ONNX transformer graph and its ``tokenizer.json``.

    Sessions over one graph, each made on first use: for queries (:func:`query_threads`, no spinning),
    and for bulk calls :func:`bulk_workers` sessions that take the batches side by side, each on its
    share of the CPUs (one thread each on a machine of up to 8).

    Example:
        >>> enc = OnnxEncoder(graph_bytes, "…/tokenizer.json", ["input_ids", "attention_mask",
        ...                   "token_type_ids"], dimension=384, max_seq_length=256)
        >>> enc.encode(["a cat", "a dog"]).shape
        (2, 384)

    Args:
        graph: the serialized ONNX model (inputs ``input_names``, output ``hidden``: (n, tokens, d)).
        tokenizer_file: the model's ``tokenizer.json``.
        input_names: graph inputs, a subset of input_ids / attention_mask / token_type_ids.
        dimension: vector size.
        max_seq_length: tokens read per text (special tokens included); longer text is truncated.
        quantize: what the graph's weights are: ``"none"``, ``"int8"`` or ``"int8-all"``
            (:data:`indexing.manifest.WEIGHTS`); int8 graphs encode one text per call.
    """

    def __init__(
        self, graph: bytes, tokenizer_file: str, input_names: Sequence[str], dimension: int, max_seq_length: int,
        quantize: str = "none",
    ) -> None:
        from tokenizers import Tokenizer

        self.graph = graph
        self.input_names = list(input_names)
        self.dimension = dimension
        self.max_seq_length = max_seq_length
        self.quantize = quantize
        self._counter = Tokenizer.from_file(tokenizer_file)
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(tokenizer_file)
        self._tokenizer.enable_truncation(max_length=max_seq_length, strategy="longest_first")
        pad = self._tokenizer.padding or {}  # the file's own pad token, padded to the batch's longest text
        self._tokenizer.enable_padding(pad_id=int(pad.get("pad_id", 0)), pad_token=str(pad.get("pad_token", "[PAD]")))
        bulk_workers()  # a bad SIFT_EMBED_WORKERS fails here, before any document is read
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()

    def session(self, kind: str) -> Any:
        """The ``"query"`` session or bulk session ``"bulk-<k>"``, made on first use (not under the lock).

        A bulk session runs on ``CPUs // bulk_workers()`` threads; a later change of ``SIFT_EMBED_WORKERS``
        gets sessions of its own.
        """
        threads = query_threads() if kind == "query" else max(1, cpu_threads() // bulk_workers())
        key = f"{kind}/{threads}"
        with self._lock:
            made = self._sessions.get(key)
        if made is None:
            made = make_session(self.graph, threads, kind != "query" and threads > 1)
            with self._lock:
                made = self._sessions.setdefault(key, made)
        return made

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens excluded, not truncated (as the Hugging Face tokenizer counts)."""
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def encode(
        self, texts: Sequence[str], batch_size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """(n, d) C-contiguous float32 unit vectors of ``texts``; (0, d) for none.

        Texts are sorted by length and batched (``batch_size``, default :data:`BATCH`; int8 always
        one text per call), as ``SentenceTransformer.encode`` does, so a batch pads little; the
        :func:`bulk_workers` sessions take the batches longest first, each the next one when it is
        free. Fewer than :data:`SMALL_INPUT` texts run on the query session. ``progress(k)`` is called
        with the number of texts done after each batch.
        """
        batch_size = 1 if self.quantize != "none" else batch_size or BATCH[self.quantize]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        pending = iter([order[start : start + batch_size] for start in range(0, len(texts), batch_size)])
        lock = threading.Lock()
        stop = threading.Event()  # set on any failure or interrupt: the other sessions stop after their batch

        def take() -> list[int] | None:
            with lock:
                return None if stop.is_set() else next(pending, None)

        def done(n: int) -> None:
            if progress is not None:
                with lock:
                    progress(n)

        workers = 1 if len(texts) < SMALL_INPUT else min(bulk_workers(), -(-len(texts) // batch_size))
        if workers == 1:
            self._drain(self.session("query" if len(texts) < SMALL_INPUT else "bulk-0"), texts, take, out, done)
            return out
        with ThreadPoolExecutor(workers, thread_name_prefix="sift-embed") as pool:
            jobs = [pool.submit(self._worker, f"bulk-{k}", texts, take, out, done, stop) for k in range(workers)]
            try:
                for job in jobs:
                    job.result()
            except BaseException:  # a session failed, or Ctrl-C reached this thread
                stop.set()
                raise
        return out

    def _drain(
        self, session: Any, texts: Sequence[str], take: Callable[[], list[int] | None], out: np.ndarray,
        done: Callable[[int], None],
    ) -> None:
        """Encode the batches ``take`` gives on ``session`` until it gives None (each into its own rows)."""
        while (rows := take()) is not None:
            out[rows] = self._run(session, [texts[i] for i in rows])
            done(len(rows))

    def _worker(
        self, kind: str, texts: Sequence[str], take: Callable[[], list[int] | None], out: np.ndarray,
        done: Callable[[int], None], stop: threading.Event,
    ) -> None:
        """One bulk session's share of :meth:`_drain`; a failure stops the other sessions."""
        try:
            self._drain(self.session(kind), texts, take, out, done)
        except BaseException:
            stop.set()  # the other sessions take no new batch
            raise

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        columns = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            columns["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = session.run(None, {name: columns[name] for name in self.input_names})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
