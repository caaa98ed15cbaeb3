"""Vector ids and checks shared by the segments: inner product over unit vectors (= cosine), int64 chunk ids.

A document's first chunk may hold a second vector, its lead vector (see :mod:`indexing.lead`),
under the id ``chunk id + LEAD_ID_OFFSET``. Searches fold it back (:func:`fold_leads`): a chunk scores
the better of its two vectors and appears once. Storage and search per segment: :mod:`indexing.store.segment_vectors`.
"""

from __future__ import annotations

import numpy as np

LEAD_ID_OFFSET = 1 << 40  # lead vector id = chunk id + this (chunk ids stay far below it)


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


def lead_ids(chunk_ids: np.ndarray) -> np.ndarray:
    """The ids under which these chunks' lead vectors are stored."""
    return np.asarray(chunk_ids, dtype=np.int64) + LEAD_ID_OFFSET


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
