"""FAISS vector index: inner product over unit vectors (= cosine) with stable int64 chunk ids.

A document's first chunk may hold a second vector, its lead vector (see :mod:`indexing.lead`),
under the id ``chunk id + LEAD_ID_OFFSET``. Searches fold it back: a chunk scores the better of
its two vectors and appears once.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import faiss
import numpy as np

from indexing.store.files import atomic_write

SMALL_BATCH = 8  # query rows; below this FAISS runs on one OpenMP thread
LEAD_ID_OFFSET = 1 << 40  # lead vector id = chunk id + this (chunk ids stay far below it)
_OMP_LOCK = threading.Lock()


def empty_index(dimension: int) -> faiss.IndexIDMap2:
    """A flat inner-product index keyed by chunk id (exact search; ~1 ms per query at 20k x 384)."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def check_vectors(vectors: np.ndarray, dimension: int, what: str = "vectors") -> np.ndarray:
    """Validate at the boundary: (n, dimension) float32, C-contiguous, finite.

    Returns:
        The same array, or a float32 C-contiguous copy of it.

    Raises:
        ValueError: wrong rank or dimension, or non-finite values.
    """
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != dimension:
        raise ValueError(f"{what} must have shape (n, {dimension}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return arr


def save_index(index: faiss.Index, path: Path) -> None:
    """Write crash-safely (temp + fsync + rename).

    Raises:
        OSError: the file could not be written (FAISS's RuntimeError for a full disk, a file-size limit, a
            read-only folder, turned into the OSError it stands for, so callers see one kind of failure).
    """

    def write(tmp: Path) -> None:
        try:
            faiss.write_index(index, str(tmp))
        except RuntimeError as exc:
            for code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES):
                if os.strerror(code) in str(exc):
                    raise OSError(code, os.strerror(code), str(tmp)) from exc
            raise

    atomic_write(path, write)


def load_index(path: Path) -> faiss.IndexIDMap2:
    """Read an index written by :func:`save_index`."""
    return faiss.read_index(str(path))


def lead_ids(chunk_ids: np.ndarray) -> np.ndarray:
    """The ids under which these chunks' lead vectors are stored."""
    return np.asarray(chunk_ids, dtype=np.int64) + LEAD_ID_OFFSET


def search(
    index: faiss.Index, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k chunks by inner product, each chunk scored by the best of its vectors.

    Args:
        index: the id-mapped index.
        queries: (q, d) float32 unit vectors.
        k: results per query.
        allowed: if given, only these chunk ids (int64) may be returned.

    Returns:
        D: (q, k) scores, I: (q, k) chunk ids, -1 where fewer than k results.
    """
    # A chunk has at most two vectors, so the best 2k hold the best vector of each of the top k chunks.
    fetch = max(1, min(2 * k, index.ntotal)) if index.ntotal else 1
    params = None
    if allowed is not None:
        ids = np.ascontiguousarray(allowed, dtype=np.int64)
        selector = faiss.IDSelectorBatch(np.concatenate([ids, lead_ids(ids)]))
        params = faiss.SearchParameters(sel=selector)
    if len(queries) >= SMALL_BATCH:
        return fold_leads(*index.search(queries, fetch, params=params), k)
    # One query is microseconds of work; OpenMP's barrier across threads costs far more on a busy
    # machine (measured on the 10k-chunk default index: 22 ms with 2 threads, 1.1 ms with 1).
    with _OMP_LOCK:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            found = index.search(queries, fetch, params=params)
        finally:
            faiss.omp_set_num_threads(before)
    return fold_leads(*found, k)


def fold_leads(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Map lead ids to their chunk ids and keep each chunk's first (best) row, k per query.

    Example:
        >>> d, i = fold_leads(np.array([[0.9, 0.8, 0.5]]), np.array([[LEAD_ID_OFFSET + 7, 7, 3]]), 2)
        >>> i.tolist(), [round(float(x), 2) for x in d[0]]
        ([[7, 3]], [0.9, 0.5])
    """
    chunk_ids = np.where(ids >= LEAD_ID_OFFSET, ids - LEAD_ID_OFFSET, ids)
    out_d = np.full((len(ids), k), -np.inf, dtype=np.float32)
    out_i = np.full((len(ids), k), -1, dtype=np.int64)
    for row in range(len(ids)):
        seen: set[int] = set()
        for score, cid in zip(scores[row], chunk_ids[row]):
            if cid < 0 or cid in seen:
                continue
            seen.add(int(cid))
            out_d[row, len(seen) - 1] = score
            out_i[row, len(seen) - 1] = cid
            if len(seen) == k:
                break
    return out_d, out_i


def reconstruct(index: faiss.IndexIDMap2, ids: np.ndarray) -> np.ndarray:
    """Stored vectors for chunk ids, (n, d) float32."""
    if len(ids) == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return np.vstack([index.reconstruct(int(i)) for i in ids]).astype(np.float32, copy=False)


def all_ids(index: faiss.IndexIDMap2) -> np.ndarray:
    """Every chunk id in insertion order, int64 (lead vectors' ids left out)."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    return ids[ids < LEAD_ID_OFFSET]


def all_lead_chunk_ids(index: faiss.IndexIDMap2) -> np.ndarray:
    """The chunk ids that have a lead vector, int64."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    return ids[ids >= LEAD_ID_OFFSET] - LEAD_ID_OFFSET


def count_leads(index: faiss.IndexIDMap2) -> int:
    """How many lead vectors the index holds."""
    return len(all_lead_chunk_ids(index))
