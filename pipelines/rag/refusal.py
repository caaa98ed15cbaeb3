"""When to refuse: too little evidence in the index, or the model saying it cannot find the answer.

The evidence gate compares the dense cosine similarity of the best-matching chunk with a
threshold. The default, :data:`DEFAULT_MIN_DENSE_SCORE`, was calibrated on
``data/eval/unanswerable_wiki.jsonl`` (40 answerable, 40 unanswerable questions) against the
Wikipedia summaries corpus indexed with all-MiniLM-L6-v2 (chunk size 200, overlap 32, lead
vectors)::

    sift data fetch wiki && sift index data/corpora/wiki --index data/index-wiki
    sift eval rag --jsonl data/eval/unanswerable_wiki.jsonl --index data/index-wiki --gate-only --min-score T

Best dense cosine below the threshold, on that set and on the Python FAQ (175 answerable
questions, ``sift eval rag --dataset python-faq --gate-only --min-score T``):

=========  ======================  ====================  ======================
threshold  wiki unanswerable       wiki answerable       FAQ answerable
           (refused, want ≥ 0.75)  (refused, want ≤ .15) (refused)
=========  ======================  ====================  ======================
0.45       0.575                   0.000                 0.051
0.50       0.700                   0.000                 0.126
0.55       0.850                   0.000                 0.189
0.60       0.950                   0.050                 0.320
=========  ======================  ====================  ======================

The default is the lowest threshold on a 0.05 grid that meets both targets on the wiki set:
0.55. (Before lead vectors, whose chunks score the better of two cosines, it was 0.50: 0.775
refused, 0.211 of FAQ questions falsely refused.) :func:`calibrate_threshold` (largest refusal −
false-refusal gap) picks 0.566 on the wiki set (5-fold out of sample: 90 % refused, 7.5 % falsely
refused). FAQ answers are long and sit further from their questions in MiniLM space, so any
threshold refuses some of them. The evidence gate is corpus- and model-specific: recalibrate
with ``--gate-only`` on a labelled set of your own, or pass ``sift ask --min-score``. The
model's own refusals come on top of the gate.

That single threshold misses answers that sit in an article about something else:
``data/eval/crossdoc_wiki.jsonl`` holds 20 such questions ("When did Claude Monet die?", answered
by "Water Lilies": "Claude Monet (1840–1926)"), and 0.55 refuses half of them. Between a floor and
the threshold the gate therefore asks the model when one retrieved passage holds enough of the
question's content words (:func:`terms_covered`). Gate refusals (``--gate-only --floor F``; none: no
check), when the check was "every capitalised name of the question in one passage":

=====  =================  ===============  ==============  ==============
floor  wiki unanswerable  wiki answerable  cross-article   FAQ answerable
=====  =================  ===============  ==============  ==============
none   0.850              0.000            0.500           0.189
0.30   0.700              0.000            0.000           0.149
0.40   0.725              0.000            0.000           0.149
0.45   0.750              0.000            0.150           0.149
=====  =================  ===============  ==============  ==============

The default floor, :data:`DEFAULT_FLOOR` = 0.40, is the highest on that grid that refuses no
cross-article question. Names found by capitals made the gate read case: "when did claude monet die"
had no name and was refused (cross-article questions in lower case: 0.500 refused). The check now
takes every word of the question but the shared question words (:data:`terms.QUESTION_WORDS`:
"when", "did", "describe" …), stemmed and case-blind, and asks for a share of them in one passage.
Gate refusals at floor 0.40 (hybrid retrieval, k=5; the same for the questions as written and
lower-cased, ``gate_..._lowercase`` in the report):

===============================  =================  ===============  ==============
content words in one passage     wiki unanswerable  wiki answerable  cross-article
===============================  =================  ===============  ==============
all                              0.850              0.000            0.500
0.75                             0.825              0.000            0.350
2/3                              0.800              0.000            0.000
0.6                              0.750              0.000            0.000
0.5                              0.675              0.000            0.000
===============================  =================  ===============  ==============

The default, :data:`DEFAULT_COVERAGE` = 2/3, is the highest share on that grid that refuses no
cross-article question: their missing word is the event the passage gives as a date ("die" in "When
did Claude Monet die?"). The unanswerable questions it lets through hold most of their words in some
passage ("In which year was the Glimmerfax Treaty signed?": "treaty", "signed"); the model is left to
refuse those.

Example:
    >>> RefusalPolicy(min_dense_score=0.4).gate(0.2)
    'low_evidence'
    >>> is_refusal_text("I cannot find the answer in the provided documents.")
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from indexing.errors import ConfigError
from pipelines.rag.terms import question_terms, tokenize

DEFAULT_MIN_DENSE_SCORE = 0.55
DEFAULT_FLOOR = 0.40
DEFAULT_COVERAGE = 2 / 3
REFUSAL_TEXT = "I cannot find the answer in the provided documents."
_REFUSAL_RE = re.compile(
    r"\b(i|we)\s+(can ?not|can't|could not|couldn't|am unable to|was unable to|do not|don't)\s+"
    r"(find|locate|determine|answer|know|see)\b"
    r"|\b(passages?|documents?|context|texts?|sources?)\s+(do|does|did)\s*(not|n't)\s+"
    r"(contain|mention|provide|say|include|state|answer)\b"
    r"|\bno (information|answer|mention)\b"
    r"|\bnot (mentioned|provided|found|stated|given) in the (passages?|documents?|context|texts?)\b",
    re.IGNORECASE,
)
_OPENING_CHARS = 160  # a refusal says so up front; later "cannot" is part of an answer


def terms_covered(question: str, texts: Sequence[str], share: float = DEFAULT_COVERAGE) -> bool:
    """True when one of ``texts`` holds at least ``share`` of the question's content terms.

    Content terms are the question's words but the shared question words (:func:`terms.question_terms`),
    compared stemmed and case-blind, so a question typed in lower case, without its question mark or
    without a proper name gets the decision it gets when typed with them.

    Example:
        >>> terms_covered("when did claude monet die", ["… by French Impressionist Claude Monet (1840–1926).", "x"])
        True
        >>> terms_covered("Who won the Glimmerfax Cup?", ["The Davis Cup is a tennis event."])
        False
    """
    wanted = question_terms(question)
    if not wanted:
        return False
    need = share * len(wanted) - 1e-9
    for text in texts:
        held = {t for _, t in tokenize(text)}
        if sum(t in held for t in wanted) >= need:
            return True
    return False


@dataclass(frozen=True)
class RefusalPolicy:
    """Refuse before generating when retrieval found nothing close enough.

    Two zones below ``min_dense_score``: under ``floor`` the question is refused whatever was
    retrieved; between the two, the model is asked only when one retrieved passage contains at least
    ``coverage`` of the question's content words (:func:`terms_covered`), because such an answer often
    sits in an article about something else ("When did Claude Monet die?" is answered by "Water
    Lilies": "Claude Monet (1840–1926)") whose cosine to the question is middling; the model then
    decides, and refuses in its own words when the passage does not answer. Case and punctuation do
    not change the decision.

    Attributes:
        min_dense_score: best dense cosine at or above which the model is always asked.
        floor: best dense cosine below which the question is always refused; None, or a floor at
            or above ``min_dense_score``, leaves no middle zone (a single threshold).
        coverage: share of the question's content words one passage must hold in the middle zone.

    Raises:
        ConfigError: ``coverage`` outside (0, 1].
    """

    min_dense_score: float = DEFAULT_MIN_DENSE_SCORE
    floor: float | None = DEFAULT_FLOOR
    coverage: float = DEFAULT_COVERAGE

    def __post_init__(self) -> None:
        if not 0.0 < self.coverage <= 1.0:
            raise ConfigError(f"RefusalPolicy.coverage must be in (0, 1], got {self.coverage}")

    def gate(self, best_dense: float | None, question: str | None = None, texts: Sequence[str] = ()) -> str | None:
        """Why to refuse without calling the model (``"no_hits"``, ``"low_evidence"``), or None.

        Args:
            best_dense: cosine of the best dense hit (None: nothing retrieved).
            question: the question, for the content-word check in the middle zone.
            texts: the retrieved passages' texts.
        """
        if best_dense is None:
            return "no_hits"
        if best_dense >= self.min_dense_score:
            return None
        if self.floor is None or question is None or best_dense < self.floor:
            return "low_evidence"
        return None if terms_covered(question, texts, self.coverage) else "low_evidence"


def absent_note(words: Sequence[str]) -> str:
    """In plain words, that no indexed document holds ``words`` (:attr:`Evidence.absent`); "" for none.

    Example:
        >>> absent_note(["lz4"])
        'no indexed document mentions "lz4"'
        >>> absent_note(["zentrix", "x200"])
        'no indexed document mentions "zentrix" or "x200"'
    """
    quoted = " or ".join(f'"{w}"' for w in words)
    return f"no indexed document mentions {quoted}" if words else ""


def is_refusal_text(text: str) -> bool:
    """True when a generated answer opens by saying it cannot find or answer it.

    Example:
        >>> is_refusal_text("The passages do not mention his birthday.")
        True
        >>> is_refusal_text("Paris is the capital of France [1].")
        False
    """
    opening = text.strip()[:_OPENING_CHARS]
    return not opening or bool(_REFUSAL_RE.search(opening))


@dataclass(frozen=True)
class Calibration:
    """A threshold and what it does on the calibration set.

    Attributes:
        threshold: the chosen ``min_dense_score``.
        refusal_rate: share of unanswerable questions refused at that threshold.
        false_refusal_rate: share of answerable questions refused at that threshold.
    """

    threshold: float
    refusal_rate: float
    false_refusal_rate: float


def calibrate_threshold(
    answerable: Sequence[float], unanswerable: Sequence[float], max_false_refusal: float = 0.15
) -> Calibration:
    """The threshold refusing most unanswerable questions with at most ``max_false_refusal`` false refusals.

    Candidate thresholds lie halfway between consecutive observed scores; among those allowed,
    the one with the largest (refusal rate − false refusal rate) wins, the lower one on ties.

    Args:
        answerable: best dense cosine of each answerable question.
        unanswerable: best dense cosine of each unanswerable question.
        max_false_refusal: most answerable questions refused, as a share.

    Example:
        >>> calibrate_threshold([0.6, 0.7, 0.8], [0.2, 0.3, 0.65], max_false_refusal=0.0)
        Calibration(threshold=0.45, refusal_rate=0.6666666666666666, false_refusal_rate=0.0)
    """
    if not answerable or not unanswerable:
        raise ValueError("calibration needs answerable and unanswerable questions")
    scores = sorted(set(answerable) | set(unanswerable))
    cuts = [scores[0] - 1e-6] + [(a + b) / 2 for a, b in zip(scores, scores[1:])] + [scores[-1] + 1e-6]
    best: Calibration | None = None
    for cut in cuts:
        false_rate = sum(s < cut for s in answerable) / len(answerable)
        if false_rate > max_false_refusal + 1e-12:
            continue
        rate = sum(s < cut for s in unanswerable) / len(unanswerable)
        if best is None or rate - false_rate > best.refusal_rate - best.false_refusal_rate + 1e-12:
            best = Calibration(round(cut, 4), rate, false_rate)
    assert best is not None  # the lowest cut refuses nothing and is always allowed
    return best


def cross_validate(
    answerable: Sequence[float], unanswerable: Sequence[float], folds: int = 5, max_false_refusal: float = 0.15
) -> Calibration:
    """Out-of-sample rates of :func:`calibrate_threshold`: each fold is judged by a threshold fitted on the others.

    Folds interleave (question i goes to fold i mod ``folds``), so the result is deterministic.

    Returns:
        A :class:`Calibration` whose ``threshold`` is the mean fitted threshold and whose rates are
        pooled over the held-out folds.

    Example:
        >>> cross_validate([0.6, 0.7, 0.8, 0.9], [0.1, 0.2, 0.3, 0.4], folds=2).refusal_rate
        1.0
    """
    refused = false_refused = 0
    thresholds = []
    for fold in range(folds):
        fit = calibrate_threshold(
            [s for i, s in enumerate(answerable) if i % folds != fold],
            [s for i, s in enumerate(unanswerable) if i % folds != fold],
            max_false_refusal,
        )
        thresholds.append(fit.threshold)
        refused += sum(s < fit.threshold for i, s in enumerate(unanswerable) if i % folds == fold)
        false_refused += sum(s < fit.threshold for i, s in enumerate(answerable) if i % folds == fold)
    return Calibration(round(sum(thresholds) / folds, 4), refused / len(unanswerable), false_refused / len(answerable))
