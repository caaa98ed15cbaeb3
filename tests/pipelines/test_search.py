"""Search modes, fusion, filters and input errors on a tiny real index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.chunker import ChunkerConfig
from indexing.errors import ConfigError
from indexing.store import Store
from indexing.sync import Syncer
from pipelines.search import SearchConfig, Searcher, rrf, zscore_fusion


@pytest.fixture()
def index_dir(tmp_path: Path, embedder, corpus_dir: Path) -> Path:
    (corpus_dir / "notes.csv").write_text("id,text,kind\n1,Kittens drink milk,pets\n2,Croissants are pastries,food\n")
    Syncer(tmp_path / "idx", embedder, ChunkerConfig(64, 8)).sync([corpus_dir])
    return tmp_path / "idx"


@pytest.fixture()
def searcher(index_dir: Path, embedder) -> Searcher:
    return Searcher(Store.open(index_dir), embedder)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_obvious_document(searcher: Searcher, mode: str) -> None:
    hits = searcher.search("Eiffel Tower in Paris", k=3, mode=mode)
    assert hits[0].title == "paris"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert hits[0].text in Path(hits[0].source).read_text()


def test_dense_understands_paraphrase(searcher: Searcher) -> None:
    assert searcher.search("feline pets that hunt rodents", k=1, mode="dense")[0].title == "Cats"


def test_where_and_source_filters(searcher: Searcher) -> None:
    hits = searcher.search("food", k=5, mode="hybrid", where={"kind": "food"})
    assert [h.meta["kind"] for h in hits] == ["food"]
    md = searcher.search("animals", k=10, mode="dense", source="*.md")
    assert md and all(h.source.endswith(".md") for h in md)
    assert searcher.search("animals", k=10, where={"kind": "nothing"}) == []


def test_rrf_prefers_items_in_both_lists() -> None:
    fused = rrf([[1, 2, 3], [3, 4, 1]], [1.0, 1.0], 60)
    assert [i for i, _ in fused][:2] == [1, 3]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 63)


def test_zscore_fusion_standardises_each_list() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.1)]
    lexical = [(3, 30.0), (2, 20.0)]
    fused = dict(zscore_fusion([dense, lexical], [1.0, 1.0]))
    d = np.array([0.9, 0.8, 0.1])
    zd = (d - d.mean()) / d.std()
    zl = {3: 1.0, 2: -1.0}  # two values standardise to +-1
    assert fused[2] == pytest.approx((zd[1] + zl[2]) / 2)
    assert fused[1] == pytest.approx((zd[0] + min(zl.values())) / 2), "missing from a list: that list's minimum"
    assert max(fused, key=fused.get) == 1, "z = 0.84 (dense) beats 0.56 when both sit at the lexical floor"


def test_rrf_fusion_is_selectable(index_dir: Path, embedder) -> None:
    config = SearchConfig(fusion="rrf")
    rrf_searcher = Searcher(Store.open(index_dir), embedder, config)
    hits = rrf_searcher.search("Eiffel Tower in Paris", k=2, mode="hybrid")
    first_in_both = (config.dense_weight + config.bm25_weight) / (config.rrf_k + 1)
    assert hits[0].title == "paris" and hits[0].score == pytest.approx(first_in_both)


@pytest.mark.parametrize(
    "kwargs,match", [({"mode": "fuzzy"}, "unknown"), ({"k": 0}, "at least 1"), ({"query": " "}, "empty")]
)
def test_bad_queries_are_refused(searcher: Searcher, kwargs: dict, match: str) -> None:
    args = {"query": "cats", "k": 3, "mode": "dense"} | kwargs
    with pytest.raises(ConfigError, match=match):
        searcher.search(**args)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"fusion": "RRF"}, r"search fusion 'RRF' is unknown: use one of zscore, rrf"),
        ({"fusion": "mean"}, r"search fusion 'mean' is unknown"),
        ({"rrf_k": 0}, r"rrf_k must be at least 1, got 0"),
        ({"candidates": 0}, r"candidates must be at least 1"),
        ({"dense_weight": -1.0}, r"weights >= 0"),
        ({"dense_weight": 0.0, "bm25_weight": 0.0}, r"positive sum"),
    ],
)
def test_search_config_refuses_unknown_fusion_and_impossible_numbers(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SearchConfig(**kwargs)
