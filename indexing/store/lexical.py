"""BM25 over chunk texts, searched across immutable segments with tombstones (the Lucene layout).

Terms are bm25s's (English stop words, Snowball stemming; see :mod:`indexing.store.lexical_postings`); the
postings walk and the scoring are ours, because bm25s precomputes each posting's score from one corpus's N and
avgdl, so every write would rebuild the whole index, and each query scores every row.

Scoring is global, as in Lucene: at query time the statistics are summed over all segments — N = total rows,
df(t) = the segments' document frequencies added up, avgdl = total length / N — and a tombstoned row still
counts in N, df and avgdl until a merge drops it (Lucene's ``maxDoc``/``docFreq`` count deleted documents until
their segment merges). It never appears in results. The formula is bm25s's "lucene" variant:
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, ``score = idf * tf / (tf + K1 * (1 - B + B * dl / avgdl))``,
summed over the query's terms (a repeated query term counts each time, as in bm25s).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexing.store.lexical_postings import LexicalSegment, query_words, tokenize_query

__all__ = ["B", "K1", "LexicalIndex", "LexicalSegment", "query_words"]

# Anserini's BM25 defaults (also Pyserini's), tuned for passages rather than long documents; bm25s
# defaults to k1=1.5, b=0.75. On the wiki known-item task (1,000 queries, MiniLM, whole summaries):
# BM25 MRR@10 0.665 vs 0.652 (seed 0) and 0.690 vs 0.672 (seed 1); fused with dense, +0.02 on both.
K1, B = 0.9, 0.4


def _in_sorted(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` occur in the sorted array ``sorted_ids`` (O(len(values) log n))."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return sorted_ids[pos] == values


def _sum_by_row(keys: np.ndarray, scores: np.ndarray, ids: np.ndarray, n_rows: int) -> tuple[np.ndarray, ...]:
    """(chunk ids, summed scores) per distinct row key of the walked postings, adding in the order given.

    Both paths add with ``bincount`` in input order, so a row's sum is bit-identical whichever path runs.
    The dense path allocates ``n_rows`` slots, but only when the postings walked already number at least an
    eighth of the rows, so a query's cost stays proportional to its postings.
    """
    if len(keys) * 8 >= n_rows:
        sums = np.bincount(keys, scores, minlength=n_rows)
        id_of = np.empty(n_rows, dtype=np.int64)  # uninitialised: only the keys' slots are written and read
        id_of[keys] = ids
        hit = np.flatnonzero(sums)  # every contribution is > 0 (idf > 0, tf > 0)
        return id_of[hit], sums[hit]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return ids[first], np.bincount(inverse, scores)


class LexicalIndex:
    """What readers search: a committed list of segments plus the chunk ids deleted from them (tombstones).

    Immutable: a writer makes the next index from ``segments + (new,)`` and a larger ``dead``, and readers keep
    the one they hold.

    Example:
        >>> lex = LexicalIndex.build([7, 9], ["red apples", "green pears"])
        >>> [chunk for chunk, _ in lex.search("apple", k=1)]
        [7]
        >>> more = LexicalIndex(lex.segments + (LexicalSegment.build([11], ["apple pie"]),), dead=np.array([7]))
        >>> [chunk for chunk, _ in more.search("apples", k=5)], more.query_tokens("apple tart")
        ([11], ['appl'])
    """

    def __init__(self, segments: Sequence[LexicalSegment] = (), dead: np.ndarray | None = None) -> None:
        self.segments: tuple[LexicalSegment, ...] = tuple(segments)
        self.dead: np.ndarray = np.unique(np.asarray(dead if dead is not None else [], dtype=np.int64))
        self._n = sum(seg.rows for seg in self.segments)
        self._total_length = sum(seg.total_length for seg in self.segments)

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str]) -> LexicalIndex:
        """One segment over ``texts`` (one per chunk id), nothing dead."""
        return cls([LexicalSegment.build(ids, texts)])

    @property
    def ids(self) -> np.ndarray:
        """(live rows,) int64 chunk ids searchable now: every segment's rows in order, tombstones out."""
        if not self.segments:
            return np.zeros(0, dtype=np.int64)
        every = np.concatenate([seg.ids for seg in self.segments])
        return every[~_in_sorted(every, self.dead)]

    @property
    def nbytes(self) -> int:
        """Bytes of memory the segments and tombstones hold."""
        return sum(seg.nbytes for seg in self.segments) + self.dead.nbytes

    def query_tokens(self, query: str) -> list[str]:
        """The terms BM25 matches for ``query`` (lowercased, stop words out, stemmed), present in any segment.

        A term held only by tombstoned rows still counts until a merge drops them, as in Lucene's term dictionary.
        """
        return [t for t in tokenize_query(query) if self.holds(t)]

    def holds(self, term: str) -> bool:
        """True when some segment's rows hold ``term`` (a term from :func:`tokenize_query`), tombstoned rows
        included until a merge drops them, as :meth:`query_tokens` counts."""
        return any(term in seg.vocab for seg in self.segments)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score) with score > 0, best first (ties: lower chunk id first).

        Args:
            query: free text, tokenized as the chunks were.
            k: how many results at most.
            allowed: only these chunk ids may be returned (None: any live chunk).

        Returns:
            Up to ``k`` pairs; never a tombstoned chunk id.

        Raises:
            ValueError: ``k`` is negative.
        """
        if k < 0:
            raise ValueError(f"search k={k}: pass k >= 0")
        terms = self.query_tokens(query)
        allowed_ids = None if allowed is None else np.unique(np.asarray(allowed, dtype=np.int64))
        if not terms or k == 0 or (allowed_ids is not None and not len(allowed_ids)):
            return []
        ids, scores = self._walk(terms)
        keep = ~_in_sorted(ids, self.dead)
        if allowed_ids is not None:
            keep &= _in_sorted(ids, allowed_ids)
        return _top_k(ids[keep], scores[keep], k)

    def _walk(self, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, scores) of every row holding a query term, from those terms' postings alone.

        Per segment: dictionary look-ups, then one gather of the rows' lengths and chunk ids; the scoring and
        the summing run once over all segments' postings, in query-term order within each row (a repeated
        term counts twice, as in bm25s).
        """
        distinct = list(dict.fromkeys(terms))
        df = dict.fromkeys(distinct, 0)
        spans: list[tuple[str, int, int]] = []  # (term, global row offset, postings walked), in walk order
        rows, tfs, lengths, ids = [], [], [], []
        offset = 0
        for seg in self.segments:
            held = {}
            for term in distinct:
                j = seg.vocab.get(term)
                if j is not None:
                    held[term] = (int(seg.indptr[j]), int(seg.indptr[j + 1]))
                    df[term] += held[term][1] - held[term][0]
            walk = [(t, *held[t]) for t in terms if t in held]
            if walk:
                seg_rows = np.concatenate([seg.postings_rows[a:b] for _, a, b in walk])
                rows.append(seg_rows)
                tfs.append(np.concatenate([seg.tf[a:b] for _, a, b in walk]))
                lengths.append(seg.lengths[seg_rows])
                ids.append(seg.ids[seg_rows])
                spans.extend((t, offset, b - a) for t, a, b in walk)
            offset += seg.rows
        if not spans:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        counts = np.array([n for _, _, n in spans], dtype=np.int64)
        idf = {t: np.log(1.0 + (self._n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        weights = np.repeat(np.array([idf[t] for t, _, _ in spans]), counts)
        tf, dl = np.concatenate(tfs).astype(np.float64), np.concatenate(lengths).astype(np.float64)
        scores = weights * tf / (tf + K1 * (1.0 - B + B * dl / (self._total_length / self._n)))
        chunk_ids = np.concatenate(ids)
        if len(terms) == 1:  # one term: each row appears once
            return chunk_ids, scores
        keys = np.concatenate(rows).astype(np.int64) + np.repeat(np.array([o for _, o, _ in spans]), counts)
        return _sum_by_row(keys, scores, chunk_ids, self._n)


def _top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best (id, score) with score > 0, by score descending then id ascending."""
    positive = scores > 0
    ids, scores = ids[positive], scores[positive]
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        near = scores >= kth  # all ties at the cut, so the id tie-break decides, not partition order
        ids, scores = ids[near], scores[near]
    order = np.lexsort((ids, -scores))[:k]
    return [(int(i), float(s)) for i, s in zip(ids[order], scores[order])]
