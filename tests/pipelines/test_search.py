"""Search modes, fusion, filters and input errors on a tiny real index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.chunker import ChunkerConfig
from indexing.errors import ConfigError
from indexing.store import Store
from indexing.sync import Syncer
from pipelines.search import SearchConfig, Searcher, identifier_words, lift, rrf, zscore_fusion


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


def test_a_one_hit_lexical_list_is_lifted_above_the_fused_order() -> None:
    dense = [(1, 0.61), (2, 0.60), (3, 0.59), (4, 0.58)]  # look-alikes: dense cannot tell them apart
    lexical = [(4, 9.3)]  # BM25's only hit: the one chunk holding the query's identifier
    fused = zscore_fusion([dense, lexical], [1.5, 1.0])
    assert [i for i, _ in fused] == [1, 2, 3, 4], "alone in its list the hit standardises to 0, a miss's value"
    lifted = lift(fused, {4})
    assert [i for i, _ in lifted] == [4, 1, 2, 3]
    assert all(a[1] >= b[1] for a, b in zip(lifted, lifted[1:])), "scores stay in rank order"
    assert dict(lifted)[1] == dict(fused)[1], "the rest keep their fused scores"


@pytest.mark.parametrize(
    ("fused", "certain", "order"),
    [([(1, 2.0), (2, 1.0)], set(), [1, 2]), ([(1, 2.0), (2, 1.0)], {1}, [1, 2]), ([], {5}, [5]),
     ([(1, 2.0), (2, 1.0)], {9}, [9, 1, 2])],  # a certain chunk neither list returned still comes first
)
def test_lift_edge_cases(fused: list, certain: set, order: list) -> None:
    assert [i for i, _ in lift(fused, certain)] == order


@pytest.mark.parametrize(
    ("query", "words"),
    [("OPS-4821", ["ops", "4821"]), ("what does error E2071 mean?", ["e2071"]), ("parse_invoice()", ["parse_invoice"]),
     ("is parseInvoice slow", ["parseinvoice"]), ("ssh db07-fra.internal", ["db07", "fra", "internal"]),
     ("Italian poet (1304–1374)", []), ("Eiffel Tower", []), ("", [])],
)
def test_identifier_words(query: str, words: list[str]) -> None:
    assert identifier_words(query) == words


@pytest.fixture(scope="module")
def plum_searcher(tmp_path_factory: pytest.TempPathFactory, embedder) -> Searcher:
    """Forty look-alike notes, each with one code word ``plumN`` (``n7.md`` holds ``plum7``), and one long
    note that names ``plum99`` in two of its chunks."""
    root = tmp_path_factory.mktemp("plums")
    docs = root / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"n{i}.md").write_text(f"Meeting note: the team reviewed the rollout plan. Code word plum{i}.\n")
    filler = " ".join(f"The rollout of step {j} went to plan." for j in range(30))
    (docs / "long.md").write_text(f"Code word plum99 opens it. {filler} Code word plum99 closes it.\n")
    Syncer(root / "idx", embedder, ChunkerConfig(64, 8)).sync([docs])
    return Searcher(Store.open(root / "idx"), embedder)


@pytest.mark.parametrize("query", ["plum7", "PLUM23", "which note has code word plum31?", "plum99"])
def test_the_document_that_alone_holds_a_query_word_ranks_first(plum_searcher: Searcher, query: str) -> None:
    lexical_top = plum_searcher.search(query, k=1, mode="bm25")[0]
    hits = plum_searcher.search(query, k=5, mode="hybrid")
    assert hits[0].source == lexical_top.source
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_lifting_can_be_turned_off(plum_searcher: Searcher) -> None:
    plain = Searcher(plum_searcher._store, plum_searcher.encoder, SearchConfig(lift_certain=False))
    queries = [f"plum{i}" for i in range(40)]
    firsts = [plain.search(q, k=1, mode="hybrid")[0].source.endswith(f"/n{i}.md") for i, q in enumerate(queries)]
    assert not all(firsts), "without the lift the fused order puts some other look-alike first"


@pytest.mark.parametrize("seed", range(5))
def test_fetching_more_candidates_keeps_the_first_results_in_order(seed: int) -> None:
    """Fusion with ``top`` standardises over each list's first ``top`` items, so the lists a larger k fetches
    give the same first results, in the same order, as the lists k ≤ top / 2 fetches."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(2000)
    dense = sorted(((int(i), float(s)) for i, s in zip(ids[:600], rng.random(600))), key=lambda kv: -kv[1])
    lexical = sorted(((int(i), float(s)) for i, s in zip(ids[300:900], 20 * rng.random(600))), key=lambda kv: -kv[1])
    for fuse in (lambda d, b: zscore_fusion([d, b], [1.5, 1.0], 100),
                 lambda d, b: rrf([[c for c, _ in d], [c for c, _ in b]], [1.5, 1.0], 60, 100)):
        short, long = fuse(dense[:100], lexical[:100]), fuse(dense, lexical)
        assert [i for i, _ in long[:50]] == [i for i, _ in short[:50]]
        assert [s for _, s in long[:50]] == pytest.approx([s for _, s in short[:50]])
    assert [i for i, _ in zscore_fusion([dense, lexical], [1.5, 1.0])[:50]] != [i for i, _ in short[:50]], (
        "without top the statistics move with the number fetched"
    )


def test_a_larger_k_starts_with_the_smaller_ks_results(tmp_path: Path, embedder) -> None:
    """What a user sees first does not depend on how many results were asked for (nor does MRR@10 in an eval
    that fetches 300 chunks). Without ``top`` in the fusion most of these queries reorder their first ten."""
    import random

    from classify_testkit import TEXTS

    folder = tmp_path / "notes"
    folder.mkdir()
    rng = random.Random(0)
    for n in range(240):
        first, second = rng.sample(TEXTS, 2)
        (folder / f"n{n:03d}.md").write_text(f"{first} {second}\n")
    Syncer(tmp_path / "idx", embedder, ChunkerConfig(64, 8)).sync([folder])
    searcher = Searcher(Store.open(tmp_path / "idx"), embedder)
    for fusion in ("zscore", "rrf"):
        searcher.config = SearchConfig(fusion=fusion)
        for text in TEXTS[:12]:
            query = " ".join(text.split()[:5])
            first = [c for c, _ in searcher.rank(query, 10, "hybrid")]
            assert [c for c, _ in searcher.rank(query, 150, "hybrid")[:10]] == first, (fusion, query)


@pytest.mark.parametrize(("query", "absent"), [
    ("What is the default compression level of lz4?", ["lz4"]),  # a name in pieces, in no document
    ("when was the eiffel tower in paris finished", []),  # every word held (case-blind)
    ("Where was the Eiffel Tower finished yesterday?", []),  # 'yesterday': in no document, but a whole word
    ("Who signed the Glimmerfax Treaty with the GLIMMERFAX league?", ["glimmerfax"]),  # once, lower-cased
    ("Do cats purr?", []),  # stemmed as the index is: 'purr' and 'cats'
])
def test_absent_words_are_the_rare_words_no_document_holds(searcher: Searcher, query: str, absent: list) -> None:
    assert searcher.absent_words(query) == absent


@pytest.mark.parametrize("query", ["cats that hunt at night", "the tower of flour and yeast", "python in paris"])
def test_the_best_dense_match_keeps_its_seat_in_hybrid_results(searcher: Searcher, query: str) -> None:
    best = searcher.search(query, k=1, mode="dense")[0].chunk_id
    for rank in (1, 2):
        seated = Searcher(searcher._store, searcher.encoder, SearchConfig(dense_seat=rank))
        assert best in [h.chunk_id for h in seated.search(query, k=rank, mode="hybrid")]
        hits = seated.search(query, k=4, mode="hybrid")
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:])), "scores stay in descending order"


@pytest.mark.parametrize(("fused", "item", "rank", "order"), [
    ([(1, 3.0), (2, 2.0), (3, 1.0)], 3, 1, [3, 1, 2]),
    ([(1, 3.0), (2, 2.0), (3, 1.0)], 9, 2, [1, 9, 2, 3]),  # missing from the list: it joins at the seat
    ([(1, 3.0), (2, 2.0), (3, 1.0)], 2, 5, [1, 2, 3]),  # already above the seat: nothing moves
    ([], 4, 3, [4]),
])
def test_seat_edge_cases(fused: list, item: int, rank: int, order: list) -> None:
    from pipelines.search import seat

    got = seat(fused, item, rank)
    assert [i for i, _ in got] == order and all(a[1] >= b[1] for a, b in zip(got, got[1:]))
