"""Optional TF-IDF word/bigram features that a logistic classifier can add to the embeddings.

Sentence embeddings of small models mostly encode *what* a text is about; cue words ("dull",
"masterpiece") carry much of a label like sentiment. Stacking sparse TF-IDF features next to the
dense vector (the classifier-side analogue of hybrid BM25 + dense search) lets logistic
regression use both. Only the vocabulary and IDF weights are stored (JSON + npz, no pickle).

Example:
    >>> feats = LexicalFeatures().fit(["a good film", "a bad film"])
    >>> feats.transform(["good"]).shape[0]
    1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported where used: scikit-learn and SciPy cost over 1 s to import
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

from indexing.errors import ConfigError


class LexicalFeatures:
    """L2-normalised TF-IDF over word unigrams and bigrams (sublinear term frequency).

    Args:
        min_df: a term must occur in at least this many training texts (fewer when the
            training set is tiny).
        max_features: keep at most this many terms, the most frequent.
    """

    def __init__(self, min_df: int = 2, max_features: int = 200_000) -> None:
        self.min_df = min_df
        self.max_features = max_features
        self._vectorizer: TfidfVectorizer | None = None

    def _new_vectorizer(self, min_df: int) -> TfidfVectorizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            ngram_range=(1, 2), min_df=min_df, max_features=self.max_features, sublinear_tf=True
        )

    def fit(self, texts: list[str]) -> LexicalFeatures:
        """Learn the vocabulary and IDF weights from training texts."""
        min_df = self.min_df if len(texts) >= 20 * self.min_df else 1
        vectorizer = self._new_vectorizer(min_df)
        try:
            vectorizer.fit(texts)
        except ValueError as exc:  # empty vocabulary: only stop words / empty texts
            raise ConfigError(f"cannot build word features from the training texts: {exc}") from exc
        self._vectorizer = vectorizer
        return self

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """(n, vocabulary size) sparse TF-IDF rows."""
        if self._vectorizer is None:
            raise ConfigError("word features are not fitted")
        return self._vectorizer.transform(texts).tocsr()

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON config, arrays): vocabulary in column order and the IDF weights."""
        if self._vectorizer is None:
            raise ConfigError("word features are not fitted")
        vocab = self._vectorizer.vocabulary_
        terms = sorted(vocab, key=vocab.__getitem__)
        config = {"min_df": self.min_df, "max_features": self.max_features, "terms": terms}
        return config, {"idf": np.asarray(self._vectorizer.idf_, dtype=np.float64)}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> LexicalFeatures:
        """Inverse of :meth:`state`; transforms exactly as the fitted original."""
        feats = cls(min_df=config["min_df"], max_features=config["max_features"])
        vectorizer = feats._new_vectorizer(1)
        vectorizer.vocabulary_ = {term: i for i, term in enumerate(config["terms"])}
        vectorizer.idf_ = arrays["idf"]
        feats._vectorizer = vectorizer
        return feats


def stack(vectors: np.ndarray, lexical: sp.csr_matrix | None) -> np.ndarray | sp.csr_matrix:
    """Dense vectors alone, or ``[lexical | vectors]`` as one sparse matrix."""
    if lexical is None:
        return vectors
    import scipy.sparse as sp

    return sp.hstack([lexical, sp.csr_matrix(vectors)], format="csr")
