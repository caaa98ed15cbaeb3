"""Check an answer sentence by sentence: which passage span supports it, or "not found in the sources".

Every answer sentence (citations stripped) is scored against each passage sentence and each window of two
adjacent sentences by embedding cosine and stemmed word recall; numbers, years and names the span lacks, and
a negation on one side only, count against it, and a sentence of several clauses is as supported as its
weakest clause. With ``embed=None`` the score is word recall alone. Refusals, questions, fragments and
sentences without a content word are not checked (``checked=False``).

Why this design and how well it does (precision / recall on ``tests/pipelines/support_dev.jsonl``, where
:data:`DEFAULT_THRESHOLD` comes from, the known misses, the cost): ``docs/decisions/sentence-support.md``.

Example:
    >>> p = Passage(1, "d", "d.txt", "D", "The tower was finished in 1889. It is tall.", 0, 43, (1,), 0.9)
    >>> report = check_support("The tower was completed in 1889 [1]. It opened in 1890.", [p])
    >>> [(s.supported, s.passage, s.span_start, s.span_end) for s in report.sentences]
    [(True, 1, 0, 31), (False, None, None, None)]
    >>> p.text[0:31]
    'The tower was finished in 1889.'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from indexing.errors import ConfigError
from pipelines.rag.citations import find_citations
from pipelines.rag.prompt import Passage
from pipelines.rag.refusal import is_refusal_text
from pipelines.rag.sentences import split_sentences, strip_citations
from pipelines.rag.terms import OPENERS, has_content, is_content, is_negation, tokenize

Embed = Callable[[list[str]], np.ndarray]
DEFAULT_THRESHOLD = 0.5  # best on the development set with all-MiniLM-L6-v2 and without embeddings alike
EMBED_WEIGHT = 0.5
NEAR_MISS = 0.85
FAR_MISS = 0.5
POLARITY_MISMATCH = 0.4  # below the threshold: a word-for-word match of opposite polarity is not support
CITED_TIE = 0.01  # a cited passage this close to the best one is preferred
NOT_FOUND = "not found in the sources"

_CLAUSE_BREAK = re.compile(r"\s*;\s*|,?\s+(?:and|but|while|whereas|although|though|which|who|where)\s+", re.I)


@dataclass(frozen=True)
class SentenceSupport:
    """One answer sentence and the passage span that supports it.

    Attributes:
        sentence: the sentence as written, citations included; ``answer[start:end] == sentence``.
        start, end: offsets of the sentence in the answer.
        supported: ``score >= threshold`` (False for a sentence not checked).
        passage: number of the supporting passage (None when unsupported or not checked).
        span_start, span_end: offsets of the supporting span in that passage's ``text``.
        score: the support score compared with the threshold (0.0 when not checked).
        cited: passage numbers the sentence cites.
        checked: False for sentences that claim nothing (they do not count in the rate).
        skip_reason: why it was not checked: ``"refusal"``, ``"question"``, ``"fragment"``, ``"no_content"``.
        doc_start, doc_end: the span in the passage's document (``passage.start + span_start`` …).
    """

    sentence: str
    start: int
    end: int
    supported: bool
    passage: int | None
    span_start: int | None
    span_end: int | None
    score: float
    cited: tuple[int, ...]
    checked: bool = True
    skip_reason: str | None = None
    doc_start: int | None = None
    doc_end: int | None = None

    @property
    def label(self) -> str:
        """``"supported"``, ``"not found in the sources"`` or ``"not checked"``."""
        return "not checked" if not self.checked else "supported" if self.supported else NOT_FOUND

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "sentence": self.sentence, "start": self.start, "end": self.end, "checked": self.checked,
            "skip_reason": self.skip_reason, "supported": self.supported, "label": self.label,
            "score": round(float(self.score), 6), "cited": list(self.cited), "passage": self.passage,
            "span_start": self.span_start, "span_end": self.span_end, "doc_start": self.doc_start,
            "doc_end": self.doc_end,
        }


@dataclass(frozen=True)
class SupportReport:
    """Support of every sentence of one answer.

    Attributes:
        sentences: in answer order.
        threshold: the score a sentence needed.
        mode: ``"embedding"`` (cosine and words) or ``"lexical"`` (words only).
    """

    sentences: list[SentenceSupport]
    threshold: float = DEFAULT_THRESHOLD
    mode: str = "embedding"

    @property
    def checked(self) -> list[SentenceSupport]:
        """Sentences that make a claim."""
        return [s for s in self.sentences if s.checked]

    @property
    def rate(self) -> float | None:
        """Supported share of the checked sentences; None when none was checked."""
        checked = self.checked
        return sum(s.supported for s in checked) / len(checked) if checked else None

    @property
    def unsupported(self) -> list[SentenceSupport]:
        """Checked sentences no span supports."""
        return [s for s in self.checked if not s.supported]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        rate = self.rate
        return {"rate": None if rate is None else round(rate, 6), "checked": len(self.checked),
                "unsupported": len(self.unsupported), "threshold": self.threshold, "mode": self.mode,
                "sentences": [s.to_dict() for s in self.sentences]}


@dataclass(frozen=True)
class _Claim:
    """What a sentence or clause asserts: its content terms, the numbers and names among them, its polarity."""

    text: str
    words: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]
    negated: bool


@dataclass(frozen=True)
class _Span:
    """``passages[passage].text[start:end]``: one passage sentence, or two adjacent ones (``parts``)."""

    passage: int
    start: int
    end: int
    terms: frozenset[str]
    negated: bool
    parts: tuple[_Span, ...] = ()


@dataclass(frozen=True)
class _Sources:
    """The candidate spans of all passages, each passage's terms, and the terms capitalised mid-sentence."""

    passages: Sequence[Passage]
    spans: list[_Span]
    terms: list[frozenset[str]]
    capitalised: frozenset[str]

    def text(self, span: _Span) -> str:
        return self.passages[span.passage].text[span.start : span.end]


def check_support(
    answer: str,
    passages: Sequence[Passage],
    embed: Embed | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    window_vectors: Literal["embed", "mean"] = "embed",
) -> SupportReport:
    """Find the passage span that supports each sentence of ``answer``, or flag it "not found in the sources".

    Args:
        answer: the answer text, ``[n]`` citations included.
        passages: the numbered passages the answer was written from.
        embed: maps a list of texts to unit row vectors ``(n, d)`` float32 (``Embedder().encode``); called
            once, on the de-duplicated sentences, clauses and spans. ``None`` scores words alone ("lexical").
        threshold: the score a sentence needs to count as supported, in [0, 1].
        window_vectors: ``"embed"`` embeds each two-sentence window; ``"mean"`` uses the normalised mean
            of its two sentences' vectors instead, so only sentences are embedded.

    Returns:
        One :class:`SentenceSupport` per answer sentence, in order, and the mode.

    Raises:
        ConfigError: ``threshold`` outside [0, 1], an unknown ``window_vectors``, or ``embed`` output that
            is not one row per text.

    Example:
        >>> p = Passage(1, "c", "c.txt", "C", "Cats purr when content. Dogs bark.", 0, 34, (1,), 0.9)
        >>> [s.label for s in check_support("Cats purr when content [1]. Cats hate water.", [p]).sentences]
        ['supported', 'not found in the sources']
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be between 0 and 1, got {threshold}: try {DEFAULT_THRESHOLD}")
    if window_vectors not in ("embed", "mean"):
        raise ConfigError(f"window_vectors must be 'embed' or 'mean', got {window_vectors!r}")
    sources = _sources(passages)
    rows: list[tuple[int, int, list[_Claim] | str]] = []
    for start, end in split_sentences(answer):
        text = strip_citations(answer[start:end])
        rows.append((start, end, _skip_reason(text) or _claims(text, sources.capitalised)))
    claims = [claim for *_, found in rows if not isinstance(found, str) for claim in found]
    cosines = _cosines(embed, claims, sources, window_vectors) if embed is not None and claims else {}
    weight = EMBED_WEIGHT if embed is not None else 0.0
    results = []
    for start, end, found in rows:
        sentence = answer[start:end]
        cited = tuple(dict.fromkeys(n for numbers in find_citations(sentence) for n in numbers))
        if isinstance(found, str):
            results.append(SentenceSupport(sentence, start, end, False, None, None, None, 0.0, cited,
                                           checked=False, skip_reason=found))
            continue
        whole = cosines.get(found[0].text)
        best = [_best(c, whole if whole is None else np.maximum(whole, cosines[c.text]), sources, weight, cited)
                for c in found]
        # the span shown is the whole sentence's best; the score is its weakest clause's
        span, score = best[0][1], min(s for s, _ in best[1:]) if len(best) > 1 else best[0][0]
        if span is None or score < threshold:
            results.append(SentenceSupport(sentence, start, end, False, None, None, None, score, cited))
            continue
        passage = passages[span.passage]
        results.append(SentenceSupport(sentence, start, end, True, passage.number, span.start, span.end, score, cited,
                                       doc_start=passage.start + span.start, doc_end=passage.start + span.end))
    return SupportReport(results, threshold, "embedding" if embed is not None else "lexical")


def _best(claim: _Claim, cosine: np.ndarray | None, sources: _Sources, weight: float,
          cited: tuple[int, ...]) -> tuple[float, _Span | None]:
    """The best span for ``claim``: the first of equals, or a cited one within :data:`CITED_TIE` of it."""
    best: tuple[float, _Span | None] = (0.0, None)
    best_cited = best
    for i, span in enumerate(sources.spans):
        score = _score(claim, 0.0 if cosine is None else float(cosine[i]), span, sources.terms[span.passage], weight)
        if score > best[0]:
            best = (score, span)
        if score > best_cited[0] and sources.passages[span.passage].number in cited:
            best_cited = (score, span)
    return best_cited if best_cited[1] is not None and best_cited[0] >= best[0] - CITED_TIE else best


def _score(claim: _Claim, cosine: float, span: _Span, passage_terms: frozenset[str], weight: float) -> float:
    """``(w·cosine + (1 − w)·recall) × NEAR_MISS^near × FAR_MISS^far``, × POLARITY_MISMATCH on a polarity clash.

    Example:
        >>> claim = _claims("She met Curie in 1935.", frozenset())[0]
        >>> span = _sources([Passage(1, "c", "c", "C", "She met him in 1934.", 0, 20, (1,), 1.0)]).spans[0]
        >>> round(_score(claim, 0.0, span, frozenset({"curi"}), 0.0), 3)  # recall 2/3; Curie near, 1935 far
        0.283
    """
    missing = claim.words - span.terms
    names = missing & claim.names
    near = len(names & passage_terms)
    far = len(missing & claim.numbers) + len(names) - near
    recall = (len(claim.words) - len(missing) + near) / len(claim.words)
    score = (weight * max(cosine, 0.0) + (1.0 - weight) * recall) * NEAR_MISS**near * FAR_MISS**far
    return score * POLARITY_MISMATCH if claim.negated != span.negated else score


def _cosines(embed: Embed, claims: list[_Claim], sources: _Sources, window_vectors: str) -> dict[str, np.ndarray]:
    """Cosine of each claim text with every span ``(len(spans),)``, from one ``embed`` call."""
    mean = window_vectors == "mean"
    span_texts = [sources.text(s) for s in sources.spans if not (mean and s.parts)]
    texts = list(dict.fromkeys([c.text for c in claims] + span_texts))
    vectors = np.asarray(embed(texts), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ConfigError(f"embed returned shape {vectors.shape} for {len(texts)} texts: it must return one unit "
                          "row vector per text, shape (n, d)")
    row = dict(zip(texts, vectors))
    rows = []
    for span in sources.spans:
        if mean and span.parts:
            total = row[sources.text(span.parts[0])] + row[sources.text(span.parts[1])]
            rows.append(total / max(float(np.linalg.norm(total)), 1e-12))
        else:
            rows.append(row[sources.text(span)])
    matrix = np.stack(rows) if rows else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    return {c.text: matrix @ row[c.text] for c in claims}


def _sources(passages: Sequence[Passage]) -> _Sources:
    """Each passage's sentences, then its two-sentence windows; offsets index ``passage.text``."""
    spans: list[_Span] = []
    terms: list[frozenset[str]] = []
    capitalised: set[str] = set()
    for index, passage in enumerate(passages):
        singles = []
        for start, end in split_sentences(passage.text):
            tokens = tokenize(passage.text[start:end])
            capitalised.update(term for i, (raw, term) in enumerate(tokens) if i and raw[0].isupper())
            negated = any(is_negation(raw) for raw, _ in tokens)
            singles.append(_Span(index, start, end, frozenset(term for _, term in tokens), negated))
        spans += singles + [_Span(index, a.start, b.end, a.terms | b.terms, a.negated or b.negated, (a, b))
                            for a, b in zip(singles, singles[1:])]
        terms.append(frozenset().union(*(s.terms for s in singles)))
    return _Sources(passages, spans, terms, frozenset(capitalised))


def _claims(text: str, capitalised: frozenset[str]) -> list[_Claim]:
    """The sentence's claim, then one per clause when it has several (each with the sentence's polarity:
    in "X came out in 2008 and was not Y" the "not" is Y's, not a clash for X).

    Example:
        >>> [c.text for c in _claims("Cats purr, and they are swimmers; dogs bark.", frozenset())]
        ['Cats purr, and they are swimmers; dogs bark.', 'Cats purr', 'they are swimmers', 'dogs bark.']
    """
    whole = _claim(text, capitalised, True, None)
    cuts = list(_CLAUSE_BREAK.finditer(text))
    ranges = list(zip([0] + [m.end() for m in cuts], [m.start() for m in cuts] + [len(text)]))
    merged: list[list[int]] = []
    for start, end in ranges:  # a piece without a content word joins its neighbour
        if merged and not (has_content(text[start:end]) and has_content(text[merged[-1][0] : merged[-1][1]])):
            merged[-1][1] = end
        else:
            merged.append([start, end])
    if len(merged) == 1:
        return [whole]
    return [whole] + [_claim(text[a:b].strip(), capitalised, i == 0, whole.negated) for i, (a, b) in enumerate(merged)]


def _claim(text: str, capitalised: frozenset[str], initial: bool, negated: bool | None) -> _Claim:
    """Content terms of ``text``; names are capitalised ones, but an opening word only if it is also
    capitalised mid-sentence in a passage ("Tolkien died …" yes, "Bananas are …" no)."""
    tokens = tokenize(text)
    words = {term for raw, term in tokens if is_content(raw, term)}
    numbers = {term for term in words if term[0].isdigit()}
    names = {term for i, (raw, term) in enumerate(tokens) if raw[0].isupper() and term in words - numbers
             and raw.lower() not in OPENERS and (i > 0 or not initial or term in capitalised)}
    if negated is None:
        negated = any(is_negation(raw) for raw, _ in tokens)
    return _Claim(text, frozenset(words), frozenset(numbers), frozenset(names), negated)


def _skip_reason(text: str) -> str | None:
    if is_refusal_text(text):
        return "refusal"
    if text.rstrip("\"'”’)").endswith("?"):
        return "question"
    if len(tokenize(text)) <= 2:
        return "fragment"
    return None if has_content(text) else "no_content"
