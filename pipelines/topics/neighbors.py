"""Exact cosine k-nearest neighbours by blocked matrix products, in the layout UMAP accepts.

For the collection sizes of a local index (up to some tens of thousands of chunks) one pass of
``X @ X.T`` in blocks is faster than approximate search (no JIT compilation, no index to build),
exact, and deterministic. It measures cosine in the full embedding space, so no PCA is needed.
"""

from __future__ import annotations

import numpy as np

# n above which the O(n² d) exact search costs more than approximate search (≈ 40k² × 384 ≈ 6e11 FLOP)
EXACT_MAX = 40_000
_BLOCK_FLOATS = 32_000_000  # similarity rows held at once: 128 MB of float32


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.ascontiguousarray(X / np.maximum(norms, 1e-12))


def cosine_knn(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of every row by cosine distance, the row itself first.

    Args:
        X: (n, d) vectors (any length; they are normalised here).
        k: neighbours per row, itself included; clipped to n.

    Returns:
        (indices (n, k) int64, distances (n, k) float32): ``1 - cosine``, ascending, ``[:, 0]`` is the
        row itself at distance 0.

    Example:
        >>> idx, dist = cosine_knn(np.array([[1, 0], [0.9, 0.1], [0, 1]]), 2)
        >>> idx.tolist(), np.round(dist.astype(float), 3).tolist()
        ([[0, 1], [1, 0], [2, 1]], [[0.0, 0.006], [0.0, 0.006], [0.0, 0.89]])
    """
    U = unit_rows(X)
    n = len(U)
    k = max(1, min(k, n))
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    block = max(1, min(n, _BLOCK_FLOATS // max(n, 1)))
    for start in range(0, n, block):
        sims = U[start : start + block] @ U.T
        rows = np.arange(len(sims))
        sims[rows, rows + start] = np.inf  # the row itself always comes first, even among duplicates
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(sims), 1))
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        indices[start : start + block] = np.take_along_axis(top, order, axis=1)
        dist = 1.0 - np.take_along_axis(top_sims, order, axis=1)
        dist[:, 0] = 0.0
        distances[start : start + block] = np.maximum(dist, 0.0)
    return indices, distances
