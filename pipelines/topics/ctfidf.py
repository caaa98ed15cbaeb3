"""Class-based TF-IDF (c-TF-IDF): the words that set one topic apart from the others.

All documents of a topic are treated as one class document. For term ``t`` and class ``c``::

    W(t, c) = tf(t, c) * log(1 + A / f(t))

where ``tf(t, c)`` is the frequency of ``t`` in ``c`` divided by the number of words in ``c``,
``f(t)`` is the frequency of ``t`` over all classes and ``A`` the average number of words per
class (BERTopic's formula; BERTopic truncates ``A`` to an integer, here it is kept exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: scikit-learn and SciPy cost over a second to import
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer


def ctfidf_weights(class_counts: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    """Weight a class × term count matrix with c-TF-IDF.

    Args:
        class_counts: (k, V) term counts, one row per class.

    Returns:
        (k, V) float64 CSR matrix of c-TF-IDF weights; all-zero rows stay zero.

    Example:
        >>> w = ctfidf_weights(np.array([[2, 0], [1, 1]]))   # A = 2, f = [3, 1]
        >>> np.round(w.toarray(), 4).tolist()
        [[0.5108, 0.0], [0.2554, 0.5493]]
    """
    import scipy.sparse as sp

    counts = sp.csr_matrix(class_counts, dtype=np.float64)
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        return counts
    words_per_class = np.asarray(counts.sum(axis=1)).ravel()
    term_freq = np.asarray(counts.sum(axis=0)).ravel()
    avg_words = float(words_per_class.mean())
    idf = np.log1p(avg_words / np.maximum(term_freq, 1e-12))
    row_scale = np.divide(1.0, words_per_class, out=np.zeros_like(words_per_class), where=words_per_class > 0)
    return sp.csr_matrix(sp.diags(row_scale) @ counts @ sp.diags(idf))


def default_vectorizer(min_df: int = 2) -> CountVectorizer:
    """Unigram counter without English stop words; ``min_df`` drops words seen in too few documents."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(stop_words="english", min_df=min_df, lowercase=True)


@dataclass(frozen=True)
class ClassKeywords:
    """Top c-TF-IDF terms of one class, best first.

    Attributes:
        label: the class (topic id).
        words: terms, e.g. ``["music", "album", "band"]``.
        scores: their c-TF-IDF weights, same order.
    """

    label: int
    words: list[str]
    scores: list[float]


def _count(texts: Sequence[str], vectorizer: CountVectorizer | None) -> tuple[sp.csr_matrix, np.ndarray]:
    """Document × term counts; falls back to a permissive counter when the vocabulary comes out empty."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    candidates = [vectorizer] if vectorizer is not None else [default_vectorizer(2), default_vectorizer(1)]
    candidates.append(CountVectorizer(min_df=1, token_pattern=r"(?u)\b\w+\b"))
    for vec in candidates:
        try:
            counts = vec.fit_transform(texts)
        except ValueError:  # "empty vocabulary": too few documents or only stop words
            continue
        return sp.csr_matrix(counts), np.asarray(vec.get_feature_names_out(), dtype=object)
    return sp.csr_matrix((len(texts), 0)), np.zeros(0, dtype=object)


def class_keywords(
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    top_n: int = 10,
    vectorizer: CountVectorizer | None = None,
) -> dict[int, ClassKeywords]:
    """c-TF-IDF keywords per class; every label, outliers (-1) included, counts as a class.

    Args:
        texts: n documents.
        labels: (n,) int class of each document.
        top_n: keywords kept per class.
        vectorizer: a (fresh) scikit-learn ``CountVectorizer``; default English unigrams, ``min_df=2``.

    Returns:
        label → :class:`ClassKeywords` (terms with weight 0 are never listed).

    Example:
        >>> kw = class_keywords(["cats purr", "cats meow", "dogs bark", "dogs growl"], np.array([0, 0, 1, 1]))
        >>> kw[0].words[0], kw[1].words[0]
        ('cats', 'dogs')
    """
    import scipy.sparse as sp

    labels = np.asarray(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    classes = np.unique(labels)
    doc_counts, terms = _count(texts, vectorizer)
    member = sp.csr_matrix(
        (np.ones(len(labels)), (np.searchsorted(classes, labels), np.arange(len(labels)))),
        shape=(len(classes), len(labels)),
    )
    weights = ctfidf_weights(member @ doc_counts).toarray()
    result: dict[int, ClassKeywords] = {}
    for row, label in enumerate(classes):
        # stable sort on -weight: ties keep vocabulary (alphabetical) order, so results are reproducible
        order = [j for j in np.argsort(-weights[row], kind="stable")[:top_n] if weights[row, j] > 0]
        result[int(label)] = ClassKeywords(
            int(label), [str(terms[j]) for j in order], [float(weights[row, j]) for j in order]
        )
    return result
