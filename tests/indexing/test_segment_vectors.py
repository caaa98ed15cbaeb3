"""VectorSegment: flat is exact, ANN kinds reach recall, filters and tombstones hold, files round-trip or fail."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.errors import ConfigError, IndexCorruptError
from indexing.store import segment_vectors as sv
from indexing.store.segment_vectors import KINDS, VectorSegment, choose_kind

N, D, Q, K = 4000, 384, 40, 10


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids shuffled, vectors (N, D), queries (Q, D)): noisy copies of seeded centres, queries held out."""
    rng = np.random.default_rng(3)
    # Embeddings have a low intrinsic dimension: seeded 24-d structure lifted into 384-d, then copies with noise.
    base = _unit(rng.standard_normal((400, 24)) @ rng.standard_normal((24, D)))
    picks = rng.choice(len(base), N + Q, replace=len(base) < N + Q)
    noisy = base[picks] + rng.standard_normal((N + Q, D)).astype(np.float32) * (0.2 / np.sqrt(D))
    vectors, queries = _unit(noisy[:N]), _unit(noisy[N:])
    ids = (rng.permutation(N) * 7 + 3).astype(np.int64)
    return ids, vectors, queries


@pytest.fixture(scope="module")
def segments(data) -> dict[str, VectorSegment]:
    ids, vectors, _ = data
    return {kind: VectorSegment.build(ids, vectors, kind) for kind in KINDS}


def _truth(ids, vectors, queries, keep=None, k=K):
    scores = queries @ vectors.T
    if keep is not None:
        scores[:, ~keep] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, top, axis=1), ids[top]


def _recall(found, truth) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())]))


@pytest.mark.parametrize("batch", [1, Q])  # one query runs single-threaded, a batch on all threads
def test_flat_equals_numpy_brute_force(data, segments, batch):
    ids, vectors, queries = data
    exp_scores, exp_ids = _truth(ids, vectors, queries[:batch])
    scores, found = segments["flat"].search(queries[:batch], K)
    np.testing.assert_array_equal(found, exp_ids)
    np.testing.assert_allclose(scores, exp_scores, atol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivf-pq"])
def test_ann_recall_and_exact_scores(data, segments, kind):
    ids, vectors, queries = data
    _, exp_ids = _truth(ids, vectors, queries)
    scores, found = segments[kind].search(queries, K)
    assert _recall(found, exp_ids) >= 0.9
    rows = np.searchsorted(np.sort(ids), found)
    exact = np.einsum("qkd,qd->qk", segments[kind].reconstruct(found.ravel()).reshape(Q, K, D), queries)
    np.testing.assert_allclose(scores, exact, atol=1e-5)  # re-scored, not PQ/SQ estimates
    assert (np.diff(scores, axis=1) <= 0).all() and (rows >= 0).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("brute_rows", [sv.BRUTE_FORCE_ROWS, 100])  # 100: forces the FAISS selector path
def test_allowed_only_and_dead_never(data, segments, kind, brute_rows, monkeypatch):
    monkeypatch.setattr(sv, "BRUTE_FORCE_ROWS", brute_rows)
    ids, vectors, queries = data
    rng = np.random.default_rng(5)
    allowed_mask = rng.random(N) < 0.6
    _, top = segments["flat"].search(queries, 3)
    dead = np.unique(top[:, :2])  # ids that would otherwise come first
    keep = allowed_mask & ~np.isin(ids, dead)
    outsiders = np.array([2, 10**9])  # ids no segment holds: ignored
    allowed = np.concatenate([ids[allowed_mask], outsiders])
    scores, found = segments[kind].search(queries, K, allowed=allowed, dead=np.concatenate([dead, outsiders]))
    assert np.isin(found, ids[keep]).all()
    exp_scores, exp_ids = _truth(ids, vectors, queries, keep)
    if kind == "flat" or brute_rows != 100:  # brute force and flat are exact
        np.testing.assert_array_equal(found, exp_ids)
        np.testing.assert_allclose(scores, exp_scores, atol=1e-5)
    else:
        assert _recall(found, exp_ids) >= 0.9


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("overfetch_max", [sv.DEAD_OVERFETCH_MAX, 0])  # 0: flat uses the selector too
@pytest.mark.parametrize("width", [1, 5])  # ~40 dead rows: hash-set selector; ~200: bitmap selector
def test_dead_without_filter(data, segments, kind, overfetch_max, width, monkeypatch):
    monkeypatch.setattr(sv, "DEAD_OVERFETCH_MAX", overfetch_max)
    ids, vectors, queries = data
    _, top = segments["flat"].search(queries, width)
    dead = np.unique(top)
    scores, found = segments[kind].search(queries, K, dead=dead)
    assert not np.isin(found, dead).any() and (found >= 0).all()
    _, exp_ids = _truth(ids, vectors, queries, ~np.isin(ids, dead))
    if kind == "flat":
        np.testing.assert_array_equal(found, exp_ids)
    else:
        assert _recall(found, exp_ids) >= 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_few_allowed_pads_with_minus_one(data, segments, kind):
    ids, _, queries = data
    scores, found = segments[kind].search(queries[:2], K, allowed=ids[:3], dead=ids[:1])
    assert sorted(found[0, :2].tolist()) == sorted(ids[1:3].tolist())
    assert (found[:, 2:] == -1).all() and np.isneginf(scores[:, 2:]).all()
    _, none = segments[kind].search(queries[:2], K, allowed=np.array([], dtype=np.int64))
    assert (none == -1).all()


def test_flat_selector_over_few_allowed_rows(data, segments, monkeypatch):
    monkeypatch.setattr(sv, "BRUTE_FORCE_ROWS", 0)  # 2 live rows through FAISS's IDSelectorBatch
    ids, _, queries = data
    scores, found = segments["flat"].search(queries[:2], K, allowed=ids[:3], dead=ids[:1])
    assert sorted(found[0, :2].tolist()) == sorted(ids[1:3].tolist())
    assert (found[:, 2:] == -1).all() and np.isneginf(scores[:, 2:]).all()


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(data, segments, kind, tmp_path):
    ids, _, queries = data
    seg = segments[kind]
    before = seg.search(queries, K)
    seg.save(tmp_path / "seg")
    loaded = VectorSegment.load(tmp_path / "seg", D)
    assert (loaded.kind, loaded.rows, loaded.dimension) == (kind, N, D)
    np.testing.assert_array_equal(loaded.ids, np.sort(ids))
    for got, want in zip(loaded.search(queries, K), before):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(loaded.reconstruct(ids[:5]), seg.reconstruct(ids[:5]))
    assert isinstance(loaded._vectors, np.memmap) == (kind != "flat")  # ANN rows stay on disk


def test_ann_memory_below_flat(segments):
    assert segments["ivf-pq"].nbytes < 0.25 * segments["flat"].nbytes
    assert segments["hnsw"].nbytes < 0.6 * segments["flat"].nbytes  # 8-bit rows + links, not a float32 copy


FILES = [(kind, name) for kind in ("flat", "ivf-pq") for name in ("segment.json", "ids.npy", "vectors.npy")]


@pytest.mark.parametrize(("kind", "name"), [*FILES, ("ivf-pq", "ann.faiss")])  # flat has no ann.faiss
@pytest.mark.parametrize("damage", ["missing", "torn"])
def test_missing_or_torn_file_raises_corrupt(data, kind, name, damage, tmp_path):
    ids, vectors, _ = data  # a segment of its own: after save() an ANN segment maps the file damaged below
    VectorSegment.build(ids[:1000], vectors[:1000], kind).save(tmp_path / "seg")
    target = tmp_path / "seg" / name
    if damage == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(IndexCorruptError, match=name.replace(".", r"\.")):
        VectorSegment.load(tmp_path / "seg", D)


def test_wrong_dimension_raises_corrupt(segments, tmp_path):
    segments["flat"].save(tmp_path / "seg")
    with pytest.raises(IndexCorruptError, match=r"segment\.json: dimension 384, the index expects 768"):
        VectorSegment.load(tmp_path / "seg", 768)


@pytest.mark.parametrize("kind", KINDS)
def test_merge_with_drop(data, kind):
    ids, vectors, queries = data
    a = VectorSegment.build(ids[:2000], vectors[:2000], "flat")
    b = VectorSegment.build(ids[2000:], vectors[2000:], "ivf-pq")
    drop = np.concatenate([ids[10:20], ids[2500:2600], [10**9]])
    merged = VectorSegment.merge([a, b], drop, kind)
    keep = ~np.isin(ids, drop)
    assert merged.kind == kind
    np.testing.assert_array_equal(merged.ids, np.sort(ids[keep]))
    np.testing.assert_array_equal(merged.reconstruct(ids[keep][:50]), vectors[keep][:50])
    assert not merged.contains(drop).any()
    _, found = merged.search(queries, K)
    assert not np.isin(found, drop).any()


def test_merge_rejects_an_id_in_two_parts(data):
    ids, vectors, _ = data
    a = VectorSegment.build(ids[:10], vectors[:10], "flat")
    b = VectorSegment.build(ids[5:15], vectors[5:15], "flat")
    with pytest.raises(ValueError, match="duplicate ids"):
        VectorSegment.merge([a, b], None, "flat")


def test_reconstruct_and_contains(data, segments):
    ids, vectors, _ = data
    seg = segments["hnsw"]
    np.testing.assert_array_equal(seg.reconstruct(ids[[9, 3, 7]]), vectors[[9, 3, 7]])
    assert seg.contains(np.array([ids[0], 2, ids[1], 10**9])).tolist() == [True, False, True, False]
    with pytest.raises(KeyError, match="id 2 "):
        seg.reconstruct(np.array([ids[0], 2]))


def test_build_validates(data):
    ids, vectors, _ = data
    with pytest.raises(ValueError, match="duplicate ids"):
        VectorSegment.build(np.array([1, 2, 1]), vectors[:3], "flat")
    with pytest.raises(ValueError, match="'annoy' is not one of"):
        VectorSegment.build(ids[:3], vectors[:3], "annoy")
    empty = VectorSegment.build(np.zeros(0, np.int64), np.zeros((0, D), np.float32), "flat")
    scores, found = empty.search(vectors[:2], 3, dead=np.array([1]))
    assert empty.rows == 0 and (found == -1).all() and np.isneginf(scores).all()


def test_choose_kind_rules():
    assert choose_kind("auto", sv.AUTO_FLAT_BELOW - 1) == "flat"
    assert choose_kind("auto", sv.AUTO_FLAT_BELOW) == "ivf-pq"
    assert choose_kind("hnsw", sv.MIN_ANN_ROWS - 1) == "flat"
    assert choose_kind("ivf-pq", sv.MIN_ANN_ROWS) == "ivf-pq"
    assert choose_kind("hnsw", 5_000_000) == "hnsw"
    assert choose_kind("flat", 5_000_000) == "flat"
    with pytest.raises(ConfigError, match="'fast' is not one of"):
        choose_kind("fast", 10)
