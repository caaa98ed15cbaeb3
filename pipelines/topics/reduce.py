"""Dimension reduction before clustering, and 2-D coordinates for the topic map.

Density clustering degrades in hundreds of dimensions (distances concentrate), so embeddings are
first squeezed to a few dimensions with UMAP. UMAP starts from a k-nearest-neighbour graph; up to
:data:`~pipelines.topics.neighbors.EXACT_MAX` vectors it is computed exactly by cosine on the
full vectors (:mod:`pipelines.topics.neighbors`), above that by UMAP's own approximate search
after PCA to 50 dimensions. The 2-D map reuses the same graph.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Protocol

import numpy as np

from pipelines.topics.neighbors import EXACT_MAX, cosine_knn

_CACHE_ENABLED = False


class Reducer(Protocol):
    """Anything with ``fit_transform(X (n, d)) -> (n, m)``; scikit-learn's PCA and UMAP qualify."""

    def fit_transform(self, X: np.ndarray) -> np.ndarray: ...  # noqa: N803 - scikit-learn naming


def pca(X: np.ndarray, n_components: int, seed: int | None = 0) -> np.ndarray:  # noqa: N803
    """PCA to at most ``n_components`` (fewer when n or d is smaller); float32 output.

    Example:
        >>> pca(np.eye(4, dtype=np.float32), 10).shape
        (4, 4)
    """
    from sklearn.decomposition import PCA  # imported where used: scikit-learn costs about a second to import

    k = max(1, min(n_components, X.shape[0], X.shape[1]))
    solver = "randomized" if k < min(X.shape) // 2 else "full"
    out = PCA(n_components=k, svd_solver=solver, random_state=seed).fit_transform(X)
    return np.ascontiguousarray(out, dtype=np.float32)


class PCAReducer:
    """Plain PCA; fast and deterministic, weaker than UMAP for density clustering.

    Example:
        >>> PCAReducer(2).fit_transform(np.random.default_rng(0).normal(size=(20, 8))).shape
        (20, 2)
    """

    def __init__(self, n_components: int = 10, random_state: int | None = 0) -> None:
        self.n_components = n_components
        self.random_state = random_state

    def fit_transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Return (n, min(n_components, n, d)) coordinates."""
        return pca(X, self.n_components, self.random_state)


def enable_umap_jit_cache() -> None:
    """Let numba cache UMAP's compiled functions on disk (once per process; best effort).

    UMAP compiles its numba functions on every start and does not cache them; on a 2-core machine
    that costs ~10 s per fresh process. Results are unchanged (same machine code).
    """
    global _CACHE_ENABLED
    if _CACHE_ENABLED:
        return
    _CACHE_ENABLED = True
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover - numba is a umap dependency
        return
    for name in ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral"):
        for obj in vars(importlib.import_module(name)).values():
            if isinstance(obj, CPUDispatcher):
                try:
                    obj.enable_caching()
                except Exception:  # no writable cache directory: compile as usual
                    return


class UMAPReducer:
    """UMAP to ``n_components`` on a cosine neighbour graph; :meth:`map_2d` reuses the graph.

    With a ``random_state`` UMAP is reproducible but runs single-threaded; ``None`` lets it use
    every core and gives slightly different results each run.

    Example:
        >>> X = np.random.default_rng(0).normal(size=(200, 32)).astype(np.float32)
        >>> r = UMAPReducer(n_components=5, random_state=0)
        >>> r.fit_transform(X).shape, r.map_2d().shape
        ((200, 5), (200, 2))

    Args:
        n_components: output dimensions for clustering (BERTopic uses 5).
        n_neighbors: size of the local neighbourhood UMAP preserves (clipped to n - 1). 50 rather than
            UMAP's 15: the wider graph joins more of each subject (NMI on wiki-topics 0.435 → 0.445 with
            the same HDBSCAN, → 0.490 together with ``min_samples`` 2; docs/topics.md).
        min_dist: 0.0 packs clusters tightly, which density clustering wants.
        random_state: seed, or None for the fast non-deterministic mode.
        exact_max: most vectors for the exact neighbour search; above, PCA-50 + approximate search.
        map_epochs: optimisation epochs of the 2-D display map (UMAP's default for n > 10k is 200;
            on 10k wiki summaries 100 keeps 32 % of each point's 15 cosine neighbours among its 15
            nearest on the map, against 34 % with 200, for half the optimisation work).
    """

    def __init__(
        self,
        n_components: int = 5,
        n_neighbors: int = 50,
        min_dist: float = 0.0,
        random_state: int | None = 0,
        exact_max: int = EXACT_MAX,
        map_epochs: int | None = 100,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state
        self.exact_max = exact_max
        self.map_epochs = map_epochs
        self._knn: tuple[Any, ...] | None = None
        self._input: np.ndarray | None = None

    def _umap(self, n_components: int, n: int, min_dist: float, metric: str, epochs: int | None) -> Any:
        import umap

        enable_umap_jit_cache()
        neighbors = max(2, min(self.n_neighbors, n - 1))
        return umap.UMAP(
            n_components=n_components,
            n_neighbors=neighbors,
            min_dist=min_dist,
            metric=metric,
            random_state=self.random_state,
            # spectral initialisation needs a connected, not-too-small graph
            init="spectral" if n > 4 * neighbors else "random",
            precomputed_knn=self._knn if self._knn is not None else (None, None, None),
            low_memory=False,
            n_epochs=epochs,
        )

    def _run(self, n_components: int, min_dist: float, epochs: int | None = None) -> np.ndarray:
        X = self._input
        assert X is not None
        metric = "cosine" if len(X) <= self.exact_max else "euclidean"
        model = self._umap(n_components, X.shape[0], min_dist, metric, epochs)
        with warnings.catch_warnings():
            # seeded UMAP is serial (said above); a precomputed graph has no search index (no transform)
            warnings.filterwarnings("ignore", message=".*(n_jobs|precomputed_knn|search index).*")
            out = model.fit_transform(X)
        if self._knn is None and getattr(model, "_knn_indices", None) is not None:
            self._knn = (model._knn_indices, model._knn_dists, model._knn_search_index)
        return np.ascontiguousarray(out, dtype=np.float32)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Reduce (n, d) vectors to (n, n_components) float32 coordinates."""
        n = X.shape[0]
        self._knn = None
        if n <= self.exact_max:
            self._input = np.asarray(X, dtype=np.float32)
            if n >= 4096:  # UMAP computes all pairs itself below 4096 rows
                self._knn = cosine_knn(self._input, max(2, min(self.n_neighbors, n - 1)))
        else:
            self._input = pca(X, 50, self.random_state)
        if n <= self.n_components + 2:  # too few points for a neighbour graph
            return pca(self._input, self.n_components, self.random_state)
        return self._run(self.n_components, self.min_dist)

    def map_2d(self) -> np.ndarray:
        """2-D layout of the last fitted input for display (min_dist 0.1 spreads points a little).

        Raises:
            RuntimeError: called before :meth:`fit_transform`.
        """
        if self._input is None:
            raise RuntimeError("call fit_transform before map_2d")
        if self._input.shape[0] <= self.n_components + 2:
            return pca(self._input, 2, self.random_state)
        return self._run(2, 0.1, self.map_epochs)
