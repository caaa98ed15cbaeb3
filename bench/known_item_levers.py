"""Known-item search levers measured without rebuilding an index: a hubness penalty, the lead's weight, fusion weight.

Runs ``sift eval retrieval`` (any of its arguments) with the dense search of the index replaced by one that

- re-mixes each lead vector with its chunk at ``--lead-weight`` for the lead (the index stores the 1:1 mix
  ``unit(c + d)`` of the chunk vector ``c`` and the lead's ``d``; for unit vectors ``d = 2 (L·c) L - c``);
- lowers every vector's cosine by ``--beta`` times its mean cosine to its ``--knn`` nearest vectors of other
  chunks, its own chunk's other vector aside (CSLS, the hubness correction of cross-lingual word retrieval:
  a category article close to many specific ones, "Spice" near every spice, stops outranking them);

and the hybrid fusion's dense weight set to ``--dense-weight``. Exact search over every vector, so this is for
indexes of tens of thousands of vectors (the wiki corpus), not a product path. Figures and the decision:
``docs/decisions/lead-vectors.md``.

Usage::

    python bench/known_item_levers.py --beta 0.5 --knn 30 --lead-weight 0.8 --dense-weight 2.0 -- \\
        eval retrieval --dataset wiki-known-item --index IDX --seed 2 --mode hybrid
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pipelines.search as search  # noqa: E402
from indexing.store.store import Store  # noqa: E402


def remix(chunks: np.ndarray, leads: np.ndarray, weight: float) -> np.ndarray:
    """Lead vectors stored as ``unit(c + d)`` re-mixed as ``unit((1 - weight) c + weight d)``.

    Example:
        >>> c, d = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
        >>> stored = (c + d) / np.linalg.norm(c + d)
        >>> [round(float(x), 3) + 0.0 for x in remix(c, stored, 0.8)[0]]
        [0.243, 0.97]
    """
    own = 2 * np.sum(leads * chunks, axis=1, keepdims=True) * leads - chunks
    mixed = (1 - weight) * chunks + weight * own
    return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)


def hub_scores(vectors: np.ndarray, owners: np.ndarray, knn: int, block: int = 1024) -> np.ndarray:
    """Each row's mean cosine to its ``knn`` nearest rows of other owners (chunk ids: a chunk and its lead vector
    share one)."""
    out = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), block):
        sims = vectors[start : start + block] @ vectors.T
        sims[owners[start : start + block, None] == owners[None, :]] = -1.0
        out[start : start + block] = np.partition(sims, -knn, axis=1)[:, -knn:].mean(axis=1)
    return out


class Levers:
    """The replacement dense search, its vectors computed once per store."""

    def __init__(self, beta: float, knn: int, lead_weight: float) -> None:
        self.beta, self.knn, self.lead_weight = beta, knn, lead_weight
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def table(self, store: Store) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk id per row, vectors, penalties): every chunk vector, then every lead vector."""
        if id(store) not in self._tables:
            ids, vectors = store.vectors()
            leads = store.lead_vectors(ids.tolist())
            lead_ids = np.array(sorted(leads), dtype=np.int64)
            lead_rows = np.array([leads[i] for i in lead_ids.tolist()], dtype=np.float32).reshape(-1, vectors.shape[1])
            if len(lead_ids) and self.lead_weight != 0.5:
                position = {int(i): n for n, i in enumerate(ids.tolist())}
                lead_rows = remix(vectors[[position[int(i)] for i in lead_ids]], lead_rows, self.lead_weight)
            owners = np.concatenate([ids, lead_ids])
            table = np.vstack([vectors, lead_rows]).astype(np.float32)
            penalty = hub_scores(table, owners, self.knn) if self.beta else np.zeros(len(table), np.float32)
            self._tables[id(store)] = (owners, table, penalty)
        return self._tables[id(store)]

    def search_dense(
        self, store: Store, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        owners, table, penalty = self.table(store)
        keep = np.ones(len(owners), bool) if allowed is None else np.isin(owners, np.asarray(allowed))
        results = []
        for query in np.atleast_2d(queries).astype(np.float32):
            scores = np.where(keep, table @ query - self.beta * penalty, -np.inf)
            best: dict[int, float] = {}
            for row in np.argsort(-scores):
                if not np.isfinite(scores[row]) or len(best) == k:
                    break
                best.setdefault(int(owners[row]), float(scores[row]))
            results.append(list(best.items()))
        return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beta", type=float, default=0.0, help="hubness penalty weight (0: none)")
    parser.add_argument("--knn", type=int, default=10, help="neighbours whose mean cosine is the penalty")
    parser.add_argument("--lead-weight", type=float, default=0.5, help="the lead's share (as built: 0.5)")
    parser.add_argument("--dense-weight", type=float, default=None, help="hybrid fusion's dense weight (sift's: 1.5)")
    parser.add_argument("sift", nargs=argparse.REMAINDER, help="-- then the sift command, e.g. eval retrieval ...")
    args = parser.parse_args(argv)
    levers = Levers(args.beta, args.knn, args.lead_weight)

    def dense(store: Store, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Any:
        return levers.search_dense(store, queries, k, allowed)

    Store.search_dense = dense  # type: ignore[method-assign]
    if args.dense_weight is not None:
        fuse, weight = search.zscore_fusion, args.dense_weight

        def weighted(lists: Any, weights: Sequence[float], top: int | None = None) -> Any:
            return fuse(lists, (weight, *weights[1:]), top)

        search.zscore_fusion = weighted  # type: ignore[assignment]
    from app.cli.main import main as sift

    return sift([a for a in args.sift if a != "--"])


if __name__ == "__main__":
    sys.exit(main())
