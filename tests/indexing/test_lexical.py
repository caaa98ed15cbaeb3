"""BM25 over segments: equal to bm25s on one segment, global statistics across segments, tombstones, files."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer

from app.corpora import fetch_corpus
from indexing.store import lexical_postings
from indexing.store.lexical import K1, B, LexicalIndex, LexicalSegment, _sum_by_row


@pytest.fixture(scope="module")
def corpus() -> tuple[list[int], list[str], list[str]]:
    """300 real wiki chunks (title line + text) with sparse chunk ids, and 40 queries: titles and phrases."""
    articles = json.loads((fetch_corpus("wiki") / "summaries_en-us.json").read_text(encoding="utf-8"))
    picked = list(articles.values())[:300]
    texts = [f"{a['title']}\n{a['extract']}" for a in picked]
    ids = [1000 + 3 * i for i in range(len(texts))]
    queries = [a["title"] for a in picked[::15]]
    queries += [" ".join(a["extract"].split()[5:11]) for a in picked[7::15]]  # a mid-sentence phrase
    queries.append("music music history")  # a repeated term counts twice, as in bm25s
    return ids, texts, queries


def _split(ids: list[int], texts: list[str], cuts: tuple[int, ...]) -> list[LexicalSegment]:
    bounds = [0, *cuts, len(ids)]
    return [LexicalSegment.build(ids[a:b], texts[a:b]) for a, b in zip(bounds, bounds[1:])]


def test_one_segment_equals_bm25s_lucene(corpus) -> None:  # noqa: ANN001
    ids, texts, queries = corpus
    stem = Stemmer.Stemmer("english").stemWords
    reference = bm25s.BM25(k1=K1, b=B)
    assert reference.method == "lucene"
    reference.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)
    lex, full = LexicalIndex.build(ids, texts), 0
    for query in queries:
        terms = lex.query_tokens(query)
        assert terms == [t for t in bm25s.tokenize(query, stopwords="en", stemmer=stem, return_ids=False,
                                                    show_progress=False)[0] if t in reference.vocab_dict]
        scores = reference.get_scores(terms)
        best = np.lexsort((np.arange(len(scores)), -scores))[:10]  # ties: lower row (= lower id) first
        want = [(ids[r], float(scores[r])) for r in best if scores[r] > 0]
        got = lex.search(query, k=10)
        assert got and len(got) == len(want), query
        full += len(got) == 10
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=0, atol=1e-4), query
        for rank, ((got_id, _), (want_id, score)) in enumerate(zip(got, want)):
            neighbours = [s for _, s in want[max(rank - 1, 0) : rank + 2] if _ != want_id]
            if all(abs(score - s) > 1e-4 for s in neighbours):  # an order among near-ties is float noise
                assert got_id == want_id, (query, rank)
    assert full >= len(queries) // 2, "most queries fill all ten places"


def test_three_segments_score_exactly_like_one(corpus) -> None:  # noqa: ANN001
    ids, texts, queries = corpus
    one = LexicalIndex.build(ids, texts)
    three = LexicalIndex(_split(ids, texts, (40, 200)))
    assert [seg.rows for seg in three.segments] == [40, 160, 100]
    for query in queries:
        assert three.search(query, k=20) == one.search(query, k=20), query
        assert three.query_tokens(query) == one.query_tokens(query)


def test_dead_ids_are_never_returned_but_still_count_until_a_merge(corpus) -> None:  # noqa: ANN001
    ids, texts, queries = corpus
    segments = _split(ids, texts, (100, 200))
    full = LexicalIndex(segments)
    dead = np.array(sorted({chunk for q in queries for chunk, _ in full.search(q, k=3)}), dtype=np.int64)
    with_dead = LexicalIndex(segments, dead=dead[::-1])
    assert with_dead.dead.tolist() == dead.tolist()
    assert len(with_dead.ids) == len(ids) - len(dead) and not set(with_dead.ids) & set(dead.tolist())
    for query in queries:
        # Lucene's statistics: the dead rows still count in N, df and avgdl, so survivors keep their scores.
        survivors = [hit for hit in full.search(query, k=len(ids)) if hit[0] not in set(dead.tolist())]
        assert with_dead.search(query, k=10) == survivors[:10], query


def test_merge_with_drop_ranks_like_a_fresh_build_of_the_survivors(corpus) -> None:  # noqa: ANN001
    ids, texts, queries = corpus
    segments = _split(ids, texts, (100, 200))
    dead = np.array(ids[5:60] + ids[150:152] + [999_999], dtype=np.int64)  # an unknown id is ignored
    merged = LexicalSegment.merge(segments, drop=dead)
    keep = [i for i, chunk in enumerate(ids) if chunk not in set(dead.tolist())]
    fresh = LexicalSegment.build([ids[i] for i in keep], [texts[i] for i in keep])
    assert merged.ids.tolist() == fresh.ids.tolist() and merged.terms == fresh.terms
    for name in ("lengths", "indptr", "postings_rows", "tf"):
        assert np.array_equal(getattr(merged, name), getattr(fresh, name)), name
    for query in queries:
        assert LexicalIndex([merged]).search(query, k=10) == LexicalIndex([fresh]).search(query, k=10)


def test_the_tokenizer_gives_bm25s_terms(corpus) -> None:  # noqa: ANN001
    _, texts, queries = corpus
    stem = Stemmer.Stemmer("english").stemWords
    odd = ["", "a an the", "Ünïcödé Straße 1994 x y", "don't re-index e-mail", "THE Cats' cats, CATS!"]
    for batch in (texts, queries, odd):
        expected = bm25s.tokenize(list(batch), stopwords="en", stemmer=stem, return_ids=False, show_progress=False)
        ids, vocab = lexical_postings.tokenize(list(batch))
        term = {i: t for t, i in vocab.items()}
        assert [[term[i] for i in doc] for doc in ids] == [list(doc) for doc in expected]
        assert [lexical_postings.tokenize_query(text) for text in batch] == [list(doc) for doc in expected]


def test_merge_never_tokenizes(corpus, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    ids, texts, _ = corpus
    segments = _split(ids, texts, (120,))
    whole = LexicalSegment.build(ids, texts)

    def no_tokenizer(*args: object, **kwargs: object) -> None:
        raise AssertionError("merge called the tokenizer")

    monkeypatch.setattr(lexical_postings, "tokenize", no_tokenizer)
    merged = LexicalSegment.merge(segments)
    assert merged.terms == whole.terms and np.array_equal(merged.tf, whole.tf)
    with pytest.raises(AssertionError, match="tokenizer"):  # the patch does reach the tokenizer we use
        LexicalSegment.build([1], ["text"])


def test_a_batched_build_equals_one_batch(corpus, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    ids, texts, _ = corpus
    whole = LexicalSegment.build(ids, texts)
    monkeypatch.setattr(lexical_postings, "_BATCH", 64)
    batched = LexicalSegment.build(ids, texts)
    assert batched.terms == whole.terms
    for name in ("ids", "lengths", "indptr", "postings_rows", "tf"):
        assert np.array_equal(getattr(batched, name), getattr(whole, name)), name


def test_allowed_restricts_to_those_ids(corpus) -> None:  # noqa: ANN001
    ids, texts, _ = corpus
    lex = LexicalIndex(_split(ids, texts, (150,)), dead=np.array(ids[:3]))
    every = lex.search("music", k=len(ids))
    allowed = np.array([chunk for chunk, _ in every[1::2]] + ids[:3] + [5])  # dead and unknown ids stay out
    got = lex.search("music", k=5, allowed=allowed)
    assert got == every[1::2][:5]
    assert lex.search("music", k=5, allowed=np.array([], dtype=np.int64)) == []
    assert lex.search("music", k=5, allowed=np.array(ids[:3])) == []


def test_ties_break_by_lower_chunk_id_and_k_bounds() -> None:
    lex = LexicalIndex([LexicalSegment.build([9, 4], ["red apples"] * 2), LexicalSegment.build([6], ["red apples"])])
    assert [chunk for chunk, _ in lex.search("apples", k=2)] == [4, 6]
    assert lex.search("apples", k=0) == []
    with pytest.raises(ValueError, match="k=-1"):
        lex.search("apples", k=-1)


@pytest.mark.parametrize("texts", [[], [""], ["", "the and of"]])
def test_segments_without_terms(texts: list[str]) -> None:
    empty = LexicalSegment.build(list(range(len(texts))), texts)
    assert (empty.rows, empty.terms, empty.nbytes > 0) == (len(texts), [], True)
    assert LexicalIndex([empty]).search("anything", k=3) == [] and LexicalIndex([empty]).query_tokens("and") == []
    apple = LexicalSegment.build([50], ["apple"])
    both = LexicalIndex([empty, apple])
    assert [chunk for chunk, _ in both.search("apple", k=3)] == [50]
    # The empty rows count in N (raising idf) and in avgdl's denominator, as a fresh build with them would.
    fresh = LexicalIndex.build([*range(len(texts)), 50], [*texts, "apple"])
    assert both.search("apple", k=3) == fresh.search("apple", k=3)
    assert LexicalSegment.merge([empty, apple]).ids.tolist() == [*range(len(texts)), 50]


def test_an_empty_index() -> None:
    for lex in (LexicalIndex(), LexicalIndex.build([], [])):
        assert lex.search("bread", k=5) == [] and lex.query_tokens("bread") == [] and len(lex.ids) == 0
    assert LexicalSegment.merge([]).rows == 0
    with pytest.raises(ValueError, match="2 chunk ids but 1 texts"):
        LexicalSegment.build([1, 2], ["one"])


def test_save_load_round_trip(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    ids, texts, queries = corpus
    seg = LexicalSegment.build(ids, texts)
    seg.save(tmp_path / "seg")
    assert not (tmp_path / "seg.tmp").exists()
    back = LexicalSegment.load(tmp_path / "seg")
    assert back.terms == seg.terms and back.nbytes == seg.nbytes
    for name in ("ids", "lengths", "indptr", "postings_rows", "tf"):
        assert np.array_equal(getattr(back, name), getattr(seg, name)), name
        assert getattr(back, name).dtype == getattr(seg, name).dtype
    for query in queries:
        assert LexicalIndex([back]).search(query, k=10) == LexicalIndex([seg]).search(query, k=10)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (lambda d: (d / "tf.npy").unlink(), OSError),
        (lambda d: (d / "segment.json").unlink(), OSError),
        (lambda d: _truncate(d / "rows.npy"), ValueError),
        (lambda d: (d / "ids.npy").write_bytes(b""), ValueError),
        (lambda d: _truncate(d / "segment.json"), ValueError),
        (lambda d: _truncate(d / "terms.txt"), ValueError),
        (lambda d: (d / "segment.json").write_text('{"format": "sift-lexical-segment/1"}'), KeyError),
    ],
)
def test_a_torn_segment_does_not_load(tmp_path: Path, damage, error: type[Exception]) -> None:  # noqa: ANN001
    LexicalSegment.build([1, 2, 3], ["red apples", "green pears", "ripe red plums"]).save(tmp_path / "seg")
    damage(tmp_path / "seg")
    with pytest.raises(error):
        LexicalSegment.load(tmp_path / "seg")


def test_nbytes_counts_every_segment(corpus) -> None:  # noqa: ANN001
    ids, texts, _ = corpus
    segments = _split(ids, texts, (100,))
    arrays = sum(s.ids.nbytes + s.lengths.nbytes + s.indptr.nbytes + s.postings_rows.nbytes + s.tf.nbytes
                 for s in segments)
    lex = LexicalIndex(segments, dead=np.array(ids[:4]))
    assert lex.nbytes == sum(s.nbytes for s in segments) + 32
    assert sum(s.nbytes for s in segments) > arrays + sum(len(t) for s in segments for t in s.terms)


def test_both_ways_of_summing_rows_agree_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 500, size=400)
    scores, ids = rng.random(400) * 7, keys * 10 + 3
    dense = _sum_by_row(keys, scores, ids, n_rows=500)  # 400 postings >= 500 / 8: one slot per row
    sparse = _sum_by_row(keys, scores, ids, n_rows=400 * 8 + 1)  # fewer than an eighth: sort the postings
    assert np.array_equal(dense[0], sparse[0]) and np.array_equal(dense[1], sparse[1])
    assert dense[0].tolist() == sorted(set((keys * 10 + 3).tolist()))
    want = {i: 0.0 for i in dense[0].tolist()}
    for i, s in zip(ids.tolist(), scores.tolist()):  # in input order, as a reader adds a row's terms
        want[i] += s
    assert dense[1].tolist() == [want[i] for i in dense[0].tolist()]
