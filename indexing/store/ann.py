"""Approximate nearest-neighbour structures for one vector segment: HNSW and IVF-PQ, built with FAISS.

An ANN structure here only *proposes* candidates; :class:`indexing.store.segment_vectors.VectorSegment`
re-scores them exactly against the stored float32 rows. So the structure may be lossy (quantized codes)
as long as the true top-k land among the candidates. The structures are keyed by *row number* (0..n-1
of the segment's id-sorted rows), never by chunk id.

* ``hnsw``: ``IndexHNSWSQ`` (``HNSW32,SQ8`` with inner product): the graph walks over 8-bit copies of the
  rows, not a second float32 copy of rows that already sit memory-mapped for re-scoring.
* ``ivf-pq``: ``IndexIVFPQ`` with an ``IndexFlatIP`` coarse quantizer of ~sqrt(n) lists (a power of two),
  PQ with d/8 sub-quantizers of 8 bits, residual encoding.

Memory and recall of each: ``docs/decisions/vector-indexes.md``.

Search parameters (``efSearch``, ``nprobe``) and the row selector travel in a per-call
``faiss.SearchParameters``; nothing shared is mutated, so concurrent readers are safe.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 32)).astype(np.float32)
    >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
    >>> index = build_ann(x, "ivf-pq")
    >>> _, rows = index.search(x[:1], 5, params=search_params(index, "ivf-pq", 5))
    >>> int(rows[0, 0])
    0
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import faiss
import numpy as np

ANN_KINDS = ("hnsw", "ivf-pq")
HNSW_M = 32  # neighbours per node; 32 is FAISS's usual choice for d in the hundreds
HNSW_EF_CONSTRUCTION = 40  # FAISS's default; higher builds slower on 2 cores for little recall after re-scoring
HNSW_EF_MIN = 64  # efSearch floor; efSearch is max(this, candidates)
RERANK_FACTOR = 10  # ANN candidates per wanted result, re-scored exactly
RERANK_MIN = 100  # at least this many candidates (recall@10 needs ~100 under PQ's score error)
IVF_TRAIN_PER_LIST = 64  # k-means training rows per inverted list (FAISS warns below 39)
PQ_TRAIN_ROWS = 256 * 40  # 8-bit codebooks want >= 39 rows per centroid
SEED = 1234
SMALL_BATCH = 8  # query rows; below this FAISS runs on one OpenMP thread
OMP_LOCK = threading.Lock()  # guards the process-wide OpenMP thread count


def ivf_lists(rows: int) -> int:
    """Inverted lists for ``rows`` vectors: the power of two nearest sqrt(rows), at least 16.

    Example:
        >>> ivf_lists(1_000_000), ivf_lists(50_000), ivf_lists(3_000)
        (1024, 256, 64)
    """
    return max(16, 1 << int(round(np.log2(max(rows, 1)) / 2)))


def ivf_probes(nlist: int) -> int:
    """Lists visited per query: 1/16 of them, at least 16 (measured: recall@10 >= 0.95 at 1M, see bench_ann)."""
    return min(nlist, max(16, nlist // 16))


def pq_shape(dimension: int, rows: int) -> tuple[int, int]:
    """(sub-quantizers, bits per code) for PQ: 8 dims per sub-quantizer, 8 bits unless too few rows to train.

    Example:
        >>> pq_shape(384, 1_000_000), pq_shape(384, 3_000)
        ((48, 8), (48, 6))
    """
    m = next(m for m in range(max(1, dimension // 8), dimension + 1) if dimension % m == 0)
    nbits = 8
    while nbits > 4 and rows < 40 * (1 << nbits):
        nbits -= 1
    return m, nbits


def candidates(fetch: int) -> int:
    """How many ANN candidates to re-score for ``fetch`` results."""
    return max(RERANK_MIN, RERANK_FACTOR * fetch)


def _sample(vectors: np.ndarray, n: int) -> np.ndarray:
    if len(vectors) <= n:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    rows = np.sort(np.random.default_rng(SEED).choice(len(vectors), n, replace=False))
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def build_ann(vectors: np.ndarray, kind: str) -> faiss.Index:
    """Train (on a sample) and fill an ANN structure over ``vectors`` (n, d) float32 unit rows; ids = row numbers.

    Raises:
        ValueError: ``kind`` is not ``"hnsw"`` or ``"ivf-pq"``, or there are fewer than 2 rows to train on.
    """
    rows, dimension = vectors.shape
    if kind not in ANN_KINDS:
        raise ValueError(f"ANN kind {kind!r} is not one of {ANN_KINDS}")
    if rows < 2:
        raise ValueError(f"an {kind} structure needs at least 2 rows, got {rows}; use kind 'flat'")
    if kind == "hnsw":
        index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.train(_sample(vectors, 100_000))
    else:
        nlist = min(ivf_lists(rows), max(1, rows // 39))
        m, nbits = pq_shape(dimension, rows)
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFPQ(quantizer, dimension, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = SEED
        index.pq.cp.seed = SEED
        index.train(_sample(vectors, max(PQ_TRAIN_ROWS, IVF_TRAIN_PER_LIST * nlist)))
    for start in range(0, rows, 65_536):  # bounded temporary copies when rows are memory-mapped
        index.add(np.ascontiguousarray(vectors[start : start + 65_536], dtype=np.float32))
    return index


def search_params(
    index: faiss.Index, kind: str, wanted: int, selector: faiss.IDSelector | None = None
) -> faiss.SearchParameters:
    """Per-call parameters for ``wanted`` candidates, with an optional row selector.

    HNSW with a selector keeps walking through excluded nodes but returns only selected ones; under a
    selective filter its result list runs dry, which is why the caller brute-forces small allowed sets.
    """
    if kind == "hnsw":
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(HNSW_EF_MIN, wanted)
    elif kind == "ivf-pq":
        params = faiss.SearchParametersIVF()
        params.nprobe = ivf_probes(faiss.extract_index_ivf(index).nlist)
    else:
        raise ValueError(f"ANN kind {kind!r} is not one of {ANN_KINDS}")
    if selector is not None:
        params.sel = selector
        params.referenced_objects = [selector]  # SWIG keeps a raw pointer; the selector must outlive the call
    return params


def ann_nbytes(index: faiss.Index) -> int:
    """Bytes the structure occupies (its serialized size, which FAISS keeps resident as-is)."""
    return int(faiss.serialize_index(index).nbytes)


def top_k(scores: np.ndarray, rows: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``fetch`` per query of candidate ``scores`` (q, c) at row numbers ``rows`` (q, c) or (c,).

    Example:
        >>> s, r = top_k(np.array([[0.1, 0.9, 0.5]], dtype=np.float32), np.array([7, 8, 9]), 2)
        >>> r.tolist()
        [[8, 9]]
    """
    rows = np.broadcast_to(rows, scores.shape)
    k = min(fetch, scores.shape[1])
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(k), (len(scores), k))
    picked = np.take_along_axis(scores, part, axis=1)
    order = np.take_along_axis(part, np.argsort(-picked, axis=1, kind="stable"), axis=1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)


def rescore(vectors: np.ndarray, queries: np.ndarray, rows: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner products of ``queries`` (q, d) with candidate ``rows`` (q, c; -1 = none); the best ``fetch``.

    ``vectors`` may be memory-mapped: only the candidate rows are read.
    """
    valid = rows >= 0
    gathered = np.asarray(vectors[np.where(valid, rows, 0).ravel()]).reshape(*rows.shape, -1)
    scores = np.matmul(gathered, queries[:, :, None])[..., 0]
    scores[~valid] = -np.inf
    return top_k(scores, rows, fetch)


@contextlib.contextmanager
def threads_for(queries: int) -> Iterator[None]:
    """Run FAISS on one OpenMP thread for fewer than ``SMALL_BATCH`` queries (the barrier costs more than 1 query)."""
    if queries >= SMALL_BATCH:
        yield
        return
    with OMP_LOCK:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)
