"""Semantic, lexical and hybrid search over a Store.

- ``dense``: FAISS inner product of unit vectors (cosine); a chunk with a lead vector
  (``indexing.lead``) scores the better of its two.
- ``bm25``: BM25 over title + chunk text (bm25s's terms and Lucene scoring, :mod:`indexing.store.lexical`).
- ``hybrid``: fusion of the two candidate lists. Default ``zscore``: each list's scores are
  standardised (mean 0, sd 1 over its candidates; a chunk missing from a list gets that list's
  lowest score) and combined in a weighted mean, dense 1.5 to BM25 1.0. The statistics come from each
  list's first ``SearchConfig.candidates`` (100) whatever k is: asking for more results never reorders the
  first ones. ``rrf`` (reciprocal rank fusion, ``Σ 1 / (rrf_k + rank)``) is available too. On the
  wiki known-item dev sample (1,000 queries, seed 1; the test sample is seed 0), before lead vectors:
  z-score 0.716 against 0.693 for RRF. With lead vectors (``indexing.lead``) the dense list got
  better, and dense weights 0.75 / 1.0 / 1.25 / 1.5 / 2.0 gave MRR@10 0.748 / 0.754 / 0.758 / 0.762 /
  0.763 on the dev sample (0.745 / 0.757 / 0.761 / 0.761 / 0.758 on the test sample); 1.5 is the
  default, and stayed best with definition leads (1.0 / 1.5 / 2.0 / 3.0: 0.772 / 0.782 / 0.779 / 0.778).
  After fusion, a document that alone holds a query word ranks first (:func:`lift`), and the dense list's
  best chunk ranks no lower than :data:`DENSE_SEAT` (:func:`seat`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

import numpy as np

from indexing.datatypes import Hit
from indexing.errors import ConfigError
from indexing.store import Store
from indexing.store.lexical import LexicalIndex, query_words

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[str, ...] = ("dense", "bm25", "hybrid")
Fusion = Literal["zscore", "rrf"]
FUSIONS: tuple[str, ...] = get_args(Fusion)
SOLE_HOLDER_CHUNKS = 8  # a word in more chunks than this is not one document's, whatever they are
# The dense list's best chunk ranks no lower than this in hybrid mode. Ask's 768-token passage budget holds
# 2-3 passages of a man page (of k=5), so the seat is 3rd. On a man page where every passage says "xargs" and
# "command", BM25 put the one answering "What command does xargs run when none is given?" 25th and the fusion
# 6th, while dense search put it first (docs/decisions/hybrid-fusion.md).
DENSE_SEAT = 3
# BM25's own word pattern (bm25s's, :mod:`indexing.store.lexical_postings`): each word searched alone is
# then tokenized exactly as it was inside the query (a stop word finds nothing).
_BM25_WORDS = re.compile(r"(?u)\b\w\w+\b").findall
# An identifier: letters and digits in one token (E2071, OPS-4821, db07-fra), an underscore (parse_invoice)
# or camelCase (parseInvoice). Plain words and plain numbers are not: a year or a rare word that one document
# alone holds is no sign that it is the one asked for (the wiki known-item task loses 0.01 MRR@10 if they count).
_IDENTIFIER = re.compile(r"[^\W\d_].*\d|\d.*[^\W\d_]|\w_\w|[a-z][A-Z]")


def identifier_words(query: str) -> list[str]:
    """BM25's words of the query's identifier-shaped tokens (whitespace-separated), without repeats.

    Example:
        >>> identifier_words("Why does OPS-4821 fail with E2071 in parse_invoice() since 1994?")
        ['ops', '4821', 'e2071', 'parse_invoice']
    """
    words = (w for token in query.split() if _IDENTIFIER.search(token) for w in _BM25_WORDS(token.lower()))
    return list(dict.fromkeys(words))


class QueryEncoder(Protocol):
    """Anything that embeds texts into unit vectors (an :class:`indexing.embedder.Embedder`)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """How many of the model's tokens each text is (special tokens excluded)."""
        ...


@dataclass(frozen=True)
class SearchConfig:
    """Fusion settings.

    Attributes:
        fusion: "zscore" (default) or "rrf".
        rrf_k: the RRF constant (60 in Cormack et al. 2009).
        candidates: how many results each list contributes to fusion (at least 2k), and how many of each list
            set its statistics whatever k is, so a larger k keeps the first results' order.
        dense_weight / bm25_weight: per-list weights in the fused sum.
        lift_certain: in hybrid mode, rank first the chunks that alone hold a query word (see
            :func:`lift`); off, the fused order stands.
        dense_seat: in hybrid mode, the dense list's best chunk ranks no lower than this (:func:`seat`); 0: off.

    Raises:
        ConfigError: an unknown fusion, ``rrf_k`` or ``candidates`` below 1, or a negative weight.

    Example:
        >>> SearchConfig(fusion="rrf").fusion
        'rrf'
    """

    fusion: Fusion = "zscore"
    rrf_k: int = 60
    candidates: int = 100
    dense_weight: float = 1.5
    bm25_weight: float = 1.0
    lift_certain: bool = True
    dense_seat: int = DENSE_SEAT

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ConfigError(f"search fusion {self.fusion!r} is unknown: use one of {', '.join(FUSIONS)}")
        for name in ("rrf_k", "candidates"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SearchConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.dense_seat < 0:
            raise ConfigError(f"SearchConfig.dense_seat must be 0 (off) or a rank from 1, got {self.dense_seat}")
        if self.dense_weight < 0 or self.bm25_weight < 0 or self.dense_weight + self.bm25_weight == 0:
            raise ConfigError(
                f"search weights dense {self.dense_weight}, bm25 {self.bm25_weight}: "
                "use weights >= 0 with a positive sum"
            )


def zscore_fusion(
    lists: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float], top: int | None = None
) -> list[tuple[int, float]]:
    """Weighted mean of per-list standardised scores; an item missing from a list gets its minimum.

    A list of one item standardises it to 0, the value of an item it misses: alone, a list says nothing
    of how much better its hit is than the rest. That is when BM25 is most certain (one document holds
    the query's words), so hybrid search puts such a document first with :func:`lift`.

    With ``top``, each list is standardised over its first ``top`` items and an item further down counts as
    missed (it only breaks ties among the rest, by its own score): fetching more candidates, for a larger k,
    then leaves the order of the first results as it was.

    Example:
        >>> zscore_fusion([[(1, 0.9), (2, 0.5)], [(2, 12.0), (3, 4.0)]], [1.0, 2.0])[0][0]
        2
        >>> [i for i, _ in zscore_fusion([[(1, 0.9), (2, 0.8)], [(2, 7.5)]], [1.0, 1.0])]  # BM25's only hit: z = 0
        [1, 2]
    """
    head = top if top is not None else max((len(scored) for scored in lists), default=0)
    normed: list[dict[int, float]] = []
    floors: list[float] = []
    lowest: list[float] = []
    for scored in lists:
        values = np.array([s for _, s in scored[:head]], dtype=np.float64)
        mu, sd = (values.mean(), values.std()) if len(values) else (0.0, 0.0)
        sd = sd if sd > 1e-12 else 1.0
        z = {item: (score - mu) / sd for item, score in scored}
        normed.append(z)
        floors.append(float((values.min() - mu) / sd) if len(values) else 0.0)
        lowest.append(min(z.values()) if z else 0.0)
    items = set().union(*normed) if normed else set()
    total = sum(weights) or 1.0
    fused = {i: sum(w * max(z.get(i, f), f) for z, f, w in zip(normed, floors, weights)) / total for i in items}
    raw = {i: sum(w * z.get(i, f) for z, f, w in zip(normed, lowest, weights)) for i in items}
    return sorted(fused.items(), key=lambda kv: (-kv[1], -raw[kv[0]], kv[0]))


def lift(fused: Sequence[tuple[int, float]], certain: Collection[int]) -> list[tuple[int, float]]:
    """Move the ``certain`` items ahead of the rest, keeping their order and the scores descending.

    The lifted items' scores are raised by one shift, just enough to put the lowest of them above the
    best other item; an item of ``certain`` missing from ``fused`` joins at the lowest fused score.

    Example:
        >>> lift([(1, 2.0), (2, 1.5), (3, -0.5)], {3})
        [(3, 2.0), (1, 2.0), (2, 1.5)]
    """
    floor = min((s for _, s in fused), default=0.0)
    present = {item for item, _ in fused}
    ahead = [(i, s) for i, s in fused if i in certain] + [(i, floor) for i in sorted(set(certain) - present)]
    rest = [(i, s) for i, s in fused if i not in certain]
    if not ahead or not rest:
        return ahead + rest
    shift = max(0.0, rest[0][1] - min(s for _, s in ahead))
    return sorted(((i, s + shift) for i, s in ahead), key=lambda kv: -kv[1]) + rest


def seat(fused: Sequence[tuple[int, float]], item: int, rank: int) -> list[tuple[int, float]]:
    """``item`` moved up to ``rank`` (1-based) when it stands lower or is missing, at the score of the item it
    displaces (so the scores stay in descending order); the others keep their order.

    Example:
        >>> seat([(1, 3.0), (2, 2.0), (3, 1.0), (4, 0.5)], 4, 2)
        [(1, 3.0), (4, 2.0), (2, 2.0), (3, 1.0)]
        >>> seat([(1, 3.0), (2, 2.0)], 2, 2)
        [(1, 3.0), (2, 2.0)]
    """
    order = [i for i, _ in fused]
    if item in order and order.index(item) < rank:
        return list(fused)
    rest = [(i, s) for i, s in fused if i != item]
    place = min(rank - 1, len(rest))
    score = rest[place][1] if place < len(rest) else (rest[-1][1] if rest else 0.0)
    return rest[:place] + [(item, score)] + rest[place:]


def rrf(
    lists: Sequence[Sequence[int]], weights: Sequence[float], rrf_k: int, top: int | None = None
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of ranked id lists; with ``top``, ranks below it add nothing but break ties
    (as in :func:`zscore_fusion`: a larger k leaves the first results' order as it was).

    Example:
        >>> rrf([[1, 2], [2, 3]], [1.0, 1.0], 60)[0][0]
        2
    """
    scores: dict[int, float] = {}
    tail: dict[int, float] = {}
    for ranked, weight in zip(lists, weights):
        for rank, item in enumerate(ranked, start=1):
            target = scores if top is None or rank <= top else tail
            target[item] = target.get(item, 0.0) + weight / (rrf_k + rank)
            scores.setdefault(item, 0.0)
    # Only the items ranked below ``top`` everywhere (score 0) are ordered by their tail ranks.
    return sorted(scores.items(), key=lambda kv: (-kv[1], -tail.get(kv[0], 0.0) if kv[1] == 0 else 0.0, kv[0]))


class Searcher:
    """Runs queries against one store.

    Example:
        >>> Searcher(store, embedder).search("who painted the Mona Lisa", k=3, mode="hybrid")  # doctest: +SKIP
        [Hit(chunk_id=..., title='Mona Lisa', ...), ...]
    """

    def __init__(self, store: Store, encoder: QueryEncoder, config: SearchConfig | None = None) -> None:
        self._store = store
        self.encoder = encoder
        self.config = config or SearchConfig()

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        where: dict[str, str] | None = None,
        source: str | None = None,
    ) -> list[Hit]:
        """Top-k chunks for ``query``.

        Args:
            query: free text.
            k: number of hits (≥ 1).
            mode: "dense", "bm25" or "hybrid".
            where: metadata equality filters, e.g. ``{"topic": "Arts"}``.
            source: glob on the source path, e.g. ``"*.md"``.

        Raises:
            ConfigError: unknown mode, k < 1 or empty query.
        """
        return self.search_with_gate(query, k, mode, where, source, gate=False)[0]

    def search_with_gate(
        self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None,
        source: str | None = None, *, gate: bool = True,
    ) -> tuple[list[Hit], float | None]:
        """:meth:`search`, and the best dense cosine of the same query (what an evidence gate needs).

        One embedding of the query serves both: in ``hybrid`` and ``dense`` mode the cosine is the top of
        the dense list the ranking already made; in ``bm25`` mode one dense lookup is added.

        Returns:
            (hits, best dense cosine; None when nothing matched or ``gate`` is False).
        """
        ranked, best = self._rank(query, k, mode, where, source, gate)
        records = {r.id: r for r in self._store.get_chunks([cid for cid, _ in ranked])}
        hits = []
        for cid, score in ranked:
            r = records.get(cid)
            if r is not None:
                hits.append(
                    Hit(r.id, r.doc_id, r.source, r.title, score, r.text, r.start, r.end, len(hits) + 1, r.meta)
                )
        return hits, best

    def absent_words(self, query: str) -> list[str]:
        """Words of ``query`` that no indexed chunk holds (text or title, as BM25 compares them: case-blind,
        stemmed) and that the embedding model knows only in pieces, in order, each once.

        Those are names, identifiers and rare terms the collection never mentions: "lz4" asked of manuals
        that cover gzip and bzip2, "Glimmerfax" of an encyclopaedia. A passage can still be close to such a
        question ("the default compression level" of gzip), so Ask does not let a word borrowed from it ground
        an answer (:class:`~pipelines.rag.checked_text.CheckedText`). A word the model's vocabulary holds whole
        ("yesterday", "automobile") is left out: the documents may say the same in other words.

        Example:
            >>> searcher.absent_words("What is the default compression level of lz4?")  # doctest: +SKIP
            ['lz4']
        """
        index = self._store.lexical()
        missing: dict[str, None] = {}
        for word, term in query_words(query):
            if not index.holds(term):
                missing.setdefault(word)
        words = list(missing)
        if not words:
            return []
        return [w for w, n in zip(words, self.encoder.count_tokens_many(words)) if n > 1]

    def rank(
        self, query: str, k: int, mode: str, where: dict[str, str] | None = None, source: str | None = None
    ) -> list[tuple[int, float]]:
        """Like :meth:`search` but only (chunk id, score) pairs — the fast path for evaluation."""
        return self._rank(query, k, mode, where, source, False)[0]

    def _rank(
        self, query: str, k: int, mode: str, where: dict[str, str] | None, source: str | None, gate: bool
    ) -> tuple[list[tuple[int, float]], float | None]:
        if mode not in MODES:
            raise ConfigError(f"search mode {mode!r} is unknown: use one of {', '.join(MODES)}")
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if not query.strip():
            raise ConfigError("the query is empty: type some words to search for")
        allowed = self._store.filter_ids(where, source)
        if allowed is not None and len(allowed) == 0:
            return [], None
        if mode == "dense":
            dense = self._dense(query, k, allowed)
            return dense, _top(dense) if gate else None
        if mode == "bm25":
            lexical = self._store.lexical().search(query, k, allowed)
            return lexical, _top(self._dense(query, 1, allowed)) if gate else None
        n = max(self.config.candidates, 2 * k)
        dense = self._dense(query, n, allowed)
        index = self._store.lexical()
        lexical = index.search(query, n, allowed)
        weights = (self.config.dense_weight, self.config.bm25_weight)
        top = self.config.candidates  # what k ≤ candidates / 2 fetches: a larger k keeps their order
        if self.config.fusion == "rrf":
            fused = rrf([[c for c, _ in dense], [c for c, _ in lexical]], weights, self.config.rrf_k, top)
        else:
            fused = zscore_fusion([dense, lexical], weights, top)
        if self.config.lift_certain:
            fused = lift(fused, self._sole_holders(query, index, lexical, allowed))
        if self.config.dense_seat and dense:  # the best semantic match keeps a seat among the first results
            fused = seat(fused, dense[0][0], self.config.dense_seat)
        return fused[:k], _top(dense) if gate else None

    def _sole_holders(
        self, query: str, index: LexicalIndex, lexical: list[tuple[int, float]], allowed: np.ndarray | None
    ) -> set[int]:
        """The chunks of a document that alone holds what the query asks for lexically: every BM25 match of
        the query, or a word of one of its identifiers (:func:`identifier_words`)."""
        held = self._one_document([c for c, _ in lexical])
        for word in identifier_words(query):
            held |= self._one_document([c for c, _ in index.search(word, SOLE_HOLDER_CHUNKS + 1, allowed)])
        return held

    def _one_document(self, ids: list[int]) -> set[int]:
        """``ids`` when they are at most :data:`SOLE_HOLDER_CHUNKS` chunks of one document, else nothing."""
        if not ids or len(ids) > SOLE_HOLDER_CHUNKS:
            return set()
        if len(ids) == 1 or len({r.doc_id for r in self._store.get_chunks(ids)}) == 1:
            return set(ids)
        return set()

    def _dense(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        vector = self.encoder.encode([query])
        return self._store.search_dense(vector, k, allowed)[0]

    def query_terms(self, query: str) -> list[str]:
        """Stemmed query terms the lexical index knows (for highlighting)."""
        return self._store.lexical().query_tokens(query)


def _top(scored: list[tuple[int, float]]) -> float | None:
    return float(scored[0][1]) if scored else None
