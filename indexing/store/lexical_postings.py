"""BM25 postings of one immutable segment: the terms of each row, stored term-major (CSC) for query-time walks.

A segment is written once and never changed: a write adds a new segment, a delete becomes a tombstone in
:class:`indexing.store.lexical.LexicalIndex`, and :meth:`LexicalSegment.merge` folds segments (and drops
tombstoned rows) without tokenizing again. Terms are exactly bm25s's: its tokenizer (lowercase, ``\\w\\w+``,
English stop words out), then PyStemmer's English Snowball stemmer.

Example:
    >>> seg = LexicalSegment.build([7, 9], ["red apples", "green apples and pears"])
    >>> seg.rows, seg.df("appl"), seg.lengths.tolist()
    (2, 2, [2, 3])
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import Stemmer

from indexing.store.files import atomic_write_dir

_TOKENS = re.compile(r"(?u)\b\w\w+\b").findall  # bm25s's (and scikit-learn's) token pattern
# bm25s's English stop words (``bm25s.stopwords.STOPWORDS_EN``), matched before stemming as bm25s does. The
# tokenizer is bm25s's, written out here: importing bm25s costs ~0.5 s (numba) in every command that searches.
_STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
))
_STEM = Stemmer.Stemmer("english").stemWords
_FORMAT = "sift-lexical-segment/1"
_ARRAYS = ("ids", "lengths", "indptr", "rows", "tf")
# Tokenizing one batch keeps the per-token Python lists (8 bytes a token) bounded; batches merge cheaply.
_BATCH = 100_000


def tokenize_query(query: str) -> list[str]:
    """The terms of ``query`` in order, duplicates kept (bm25s sums a repeated term twice).

    Example:
        >>> tokenize_query("The apples, the APPLE!")
        ['appl', 'appl']
    """
    return list(_STEM([t for t in _TOKENS(query.lower()) if t not in _STOPWORDS]))


def query_words(query: str) -> list[tuple[str, str]]:
    """(word as typed, lower-cased; its term) for each term of :func:`tokenize_query`, in order.

    Example:
        >>> query_words("Default level of LZ4?")
        [('default', 'default'), ('level', 'level'), ('lz4', 'lz4')]
    """
    words = [t for t in _TOKENS(query.lower()) if t not in _STOPWORDS]
    return list(zip(words, _STEM(words)))


def tokenize(texts: Sequence[str]) -> tuple[list[list[int]], dict[str, int]]:
    """(per text its term ids in order, term -> id): bm25s.tokenize's terms (lowercase, ``\\w\\w+``, stop
    words out, each distinct word stemmed once with PyStemmer's English stemmer).

    Example:
        >>> tokenize(["Red apples", "an apple"])
        ([[0, 1], [1]], {'red': 0, 'appl': 1})
    """
    word_ids: dict[str, int] = {}
    docs: list[list[int]] = []
    for text in texts:
        docs.append([word_ids.setdefault(w, len(word_ids)) for w in _TOKENS(text.lower()) if w not in _STOPWORDS])
    vocab: dict[str, int] = {}
    stem_of = [vocab.setdefault(stem, len(vocab)) for stem in _STEM(list(word_ids))]
    return [[stem_of[w] for w in doc] for doc in docs], vocab


def _smallest_uint(values: np.ndarray) -> np.ndarray:
    return values.astype(np.min_scalar_type(int(values.max(initial=0))), copy=False)


class LexicalSegment:
    """BM25 postings of one immutable segment: per-row term frequencies, row lengths, row -> chunk id.

    Attributes:
        ids: (rows,) int64 chunk ids, one per row, in row order.
        lengths: (rows,) row lengths in terms (stop words out, repeats counted): BM25's ``dl``.
        terms: the segment's vocabulary, sorted; column ``j`` of the postings is ``terms[j]``.
        indptr, postings_rows, tf: the CSC postings: term ``j``'s rows are
            ``postings_rows[indptr[j]:indptr[j + 1]]`` (ascending) with frequencies ``tf[...]`` there.

    Example:
        >>> seg = LexicalSegment.build([5], ["bread and more bread"])
        >>> seg.postings("bread")
        (array([0], dtype=int32), array([2], dtype=uint8))
    """

    def __init__(
        self, ids: np.ndarray, lengths: np.ndarray, terms: list[str], indptr: np.ndarray, rows: np.ndarray,
        tf: np.ndarray,
    ) -> None:
        if not (len(ids) == len(lengths) and len(indptr) == len(terms) + 1 and len(rows) == len(tf) == indptr[-1]):
            raise ValueError(
                f"inconsistent lexical segment: {len(ids)} ids, {len(lengths)} lengths, {len(terms)} terms, "
                f"indptr of {len(indptr)}, {len(rows)} posting rows, {len(tf)} frequencies"
            )
        self.ids, self.lengths, self.terms = ids, lengths, terms
        self.indptr, self.postings_rows, self.tf = indptr, rows, tf
        self.vocab = {t: j for j, t in enumerate(terms)}
        self.total_length = int(lengths.sum(dtype=np.int64))

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str]) -> LexicalSegment:
        """Tokenize ``texts`` (one per chunk id, same order) into a new segment.

        Raises:
            ValueError: ``ids`` and ``texts`` differ in length.
        """
        if len(ids) != len(texts):
            raise ValueError(f"lexical segment: {len(ids)} chunk ids but {len(texts)} texts; pass one text per id")
        if len(texts) > _BATCH:
            starts = range(0, len(ids), _BATCH)
            return cls.merge([cls.build(ids[i : i + _BATCH], texts[i : i + _BATCH]) for i in starts])
        token_ids, vocab = tokenize(list(texts))
        lengths = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(texts))
        cols = np.fromiter(itertools.chain.from_iterable(token_ids), dtype=np.int32, count=int(lengths.sum()))
        terms = sorted(vocab)
        to_sorted = np.empty(max(len(vocab), 1), dtype=np.int32)
        to_sorted[[vocab[t] for t in terms]] = np.arange(len(terms), dtype=np.int32)
        rows = np.repeat(np.arange(len(texts), dtype=np.int32), lengths)
        return cls._from_coo(np.asarray(ids, dtype=np.int64), lengths, terms, rows, to_sorted[cols])

    @classmethod
    def _from_coo(
        cls, ids: np.ndarray, lengths: np.ndarray, terms: list[str], rows: np.ndarray, cols: np.ndarray,
        tf: np.ndarray | None = None,
    ) -> LexicalSegment:
        """Postings from (row, column[, tf]) triples; repeated pairs add up (one per token when ``tf`` is None)."""
        data = np.ones(len(rows), dtype=np.uint32) if tf is None else tf.astype(np.uint32)
        import scipy.sparse as sp

        csc = sp.coo_matrix((data, (rows, cols)), shape=(len(ids), len(terms))).tocsc()
        csc.sum_duplicates()  # also sorts each term's rows
        return cls(
            ids, _smallest_uint(lengths), terms, csc.indptr.astype(np.int64), csc.indices.astype(np.int32),
            _smallest_uint(csc.data),
        )

    @classmethod
    def merge(cls, parts: Sequence[LexicalSegment], drop: np.ndarray | None = None) -> LexicalSegment:
        """One segment holding every row of ``parts`` in order, minus rows whose chunk id is in ``drop``.

        Works on the postings alone (never tokenizes); terms left with no row are dropped from the vocabulary.

        Example:
            >>> a, b = LexicalSegment.build([1], ["red apples"]), LexicalSegment.build([2], ["pears"])
            >>> LexicalSegment.merge([a, b], drop=np.array([1])).terms
            ['pear']
        """
        drop_ids = np.unique(np.asarray(drop if drop is not None else [], dtype=np.int64))
        terms = sorted(set().union(*(p.terms for p in parts)))
        index = {t: j for j, t in enumerate(terms)}
        ids, lengths, rows, cols, tfs, offset = [], [], [], [], [], 0
        for part in parts:
            keep = ~np.isin(part.ids, drop_ids)
            new_row = np.cumsum(keep, dtype=np.int64) - 1 + offset  # valid where keep
            local_cols = np.repeat(np.arange(len(part.terms), dtype=np.int32), np.diff(part.indptr))
            to_global = np.fromiter((index[t] for t in part.terms), dtype=np.int32, count=len(part.terms))
            live = keep[part.postings_rows]
            rows.append(new_row[part.postings_rows[live]].astype(np.int32))
            cols.append(to_global[local_cols[live]])
            tfs.append(part.tf[live])
            ids.append(part.ids[keep])
            lengths.append(part.lengths[keep].astype(np.int64))
            offset += int(keep.sum())
        cat = (lambda arrs, dt: np.concatenate(arrs) if arrs else np.zeros(0, dtype=dt))  # noqa: E731
        merged = cls._from_coo(
            cat(ids, np.int64), cat(lengths, np.int64), terms, cat(rows, np.int32), cat(cols, np.int32),
            cat(tfs, np.uint32),
        )
        return merged._without_empty_terms()

    def _without_empty_terms(self) -> LexicalSegment:
        df = np.diff(self.indptr)
        if df.all():
            return self
        alive = np.flatnonzero(df)
        indptr = np.concatenate([[0], np.cumsum(df[alive])]).astype(np.int64)
        terms = [self.terms[j] for j in alive]
        return LexicalSegment(self.ids, self.lengths, terms, indptr, self.postings_rows, self.tf)

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Bytes held: the arrays, plus the vocabulary's strings, list pointers and dict (CPython sizes)."""
        arrays = sum(a.nbytes for a in (self.ids, self.lengths, self.indptr, self.postings_rows, self.tf))
        strings = sum(sys.getsizeof(t) for t in self.terms)
        return arrays + strings + 8 * len(self.terms) + sys.getsizeof(self.vocab)

    def df(self, term: str) -> int:
        """How many rows hold ``term`` (0 if none)."""
        j = self.vocab.get(term)
        return 0 if j is None else int(self.indptr[j + 1] - self.indptr[j])

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, term frequencies) of ``term``, rows ascending; empty arrays if absent."""
        j = self.vocab.get(term)
        start, end = (0, 0) if j is None else (self.indptr[j], self.indptr[j + 1])
        return self.postings_rows[start:end], self.tf[start:end]

    def save(self, path: Path) -> None:
        """Write crash-safely into directory ``path`` (``.npy`` arrays, ``terms.txt``, ``segment.json``)."""

        def write(tmp: Path) -> None:
            arrays = dict(zip(_ARRAYS, (self.ids, self.lengths, self.indptr, self.postings_rows, self.tf)))
            for name, arr in arrays.items():
                np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
            # Terms are \w runs, so a newline never occurs inside one.
            (tmp / "terms.txt").write_text("\n".join(self.terms), encoding="utf-8")
            meta = {"format": _FORMAT, "rows": self.rows, "terms": len(self.terms), "postings": len(self.tf)}
            (tmp / "segment.json").write_text(json.dumps(meta))

        atomic_write_dir(Path(path), write)

    @classmethod
    def load(cls, path: Path) -> LexicalSegment:
        """Read what :meth:`save` wrote.

        Raises:
            OSError: a file is missing. ValueError: a file is torn, foreign or disagrees with ``segment.json``.
            KeyError: ``segment.json`` lacks a field.
        """
        path = Path(path)
        meta = json.loads((path / "segment.json").read_text())
        if meta["format"] != _FORMAT:
            raise ValueError(f"{path}: format {meta['format']!r}, expected {_FORMAT!r}")
        try:
            arrays = [np.load(path / f"{name}.npy", allow_pickle=False) for name in _ARRAYS]
        except EOFError as exc:  # an empty .npy file
            raise ValueError(f"{path}: torn array file ({exc})") from exc
        text = (path / "terms.txt").read_text(encoding="utf-8")
        terms = text.split("\n") if text else []
        ids, lengths, indptr, rows, tf = arrays
        if (len(ids), len(terms), len(tf)) != (meta["rows"], meta["terms"], meta["postings"]):
            raise ValueError(f"{path}: files disagree with segment.json ({meta}); the segment is torn")
        return cls(ids, lengths, terms, indptr, rows, tf)
