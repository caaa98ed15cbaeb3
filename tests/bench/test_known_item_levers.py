"""The known-item levers script (``bench/known_item_levers.py``): its re-mix, its penalty and its dense search."""

from __future__ import annotations

import numpy as np

from bench.known_item_levers import Levers, hub_scores, remix


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class _Store:
    """What the levers read from a store: chunk vectors and lead vectors."""

    def __init__(self, ids: np.ndarray, chunks: np.ndarray, leads: dict[int, np.ndarray]) -> None:
        self._ids, self._chunks, self._leads = ids, chunks, leads

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        return self._ids, self._chunks

    def lead_vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        return {i: self._leads[i] for i in ids if i in self._leads}


def _store(seed: int = 0) -> tuple[_Store, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    chunks, own = _unit(rng.normal(size=(12, 8))), _unit(rng.normal(size=(12, 8)))
    ids = np.arange(1, 13, dtype=np.int64)
    leads = {int(i): _unit((chunks[n] + own[n])[None])[0] for n, i in enumerate(ids) if n % 2 == 0}
    return _Store(ids, chunks, leads), chunks, own


def test_remix_recovers_the_lead_and_keeps_the_stored_mix() -> None:
    _, chunks, own = _store()
    stored = _unit(chunks + own)
    assert np.allclose(remix(chunks, stored, 1.0), own, atol=1e-5)
    assert np.allclose(remix(chunks, stored, 0.5), stored, atol=1e-5)


def test_hub_scores_skip_the_same_owner() -> None:
    vectors = _unit(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]))
    scores = hub_scores(vectors, np.array([1, 1, 2, 3]), knn=1)
    assert np.allclose(scores, [0.6, 0.6, 0.8, 0.8])  # row 0 never counts row 1, its own chunk's other vector


def test_without_levers_a_chunk_scores_the_better_of_its_two_vectors() -> None:
    store, chunks, _ = _store()
    query = _unit(np.random.default_rng(1).normal(size=(1, 8)))[0]
    got = Levers(beta=0.0, knn=3, lead_weight=0.5).search_dense(store, query, k=5)[0]  # type: ignore[arg-type]
    expected = {int(i): float(chunks[n] @ query) for n, i in enumerate(store.vectors()[0])}
    for i, lead in store.lead_vectors(list(expected)).items():
        expected[i] = max(expected[i], float(lead @ query))
    best = sorted(expected.items(), key=lambda item: -item[1])[:5]
    assert [i for i, _ in got] == [i for i, _ in best]
    assert np.allclose([s for _, s in got], [s for _, s in best], atol=1e-6)


def test_the_penalty_lowers_a_hub_below_a_specific_match() -> None:
    hub = _unit(np.array([[1.0, 1.0, 1.0, 0.0]]))[0]
    specific = _unit(np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]))
    chunks = np.vstack([hub, specific]).astype(np.float32)
    store = _Store(np.arange(1, 5, dtype=np.int64), chunks, {})
    query = _unit(np.array([[1.0, 0.5, 0.5, 0.0]]))[0]  # closer to the hub than to chunk 2
    plain = Levers(0.0, 2, 0.5).search_dense(store, query, k=1)[0]  # type: ignore[arg-type]
    penalised = Levers(1.0, 2, 0.5).search_dense(store, query, k=1)[0]  # type: ignore[arg-type]
    assert plain[0][0] == 1 and penalised[0][0] == 2
