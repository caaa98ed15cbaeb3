"""Per-sentence support checking of RAG answers: sentence splitting, scoring, offsets and calibration.

``python tests/pipelines/test_support.py`` prints the threshold sweep on the development set
(``support_dev.jsonl``) without and with the real embedder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from indexing.errors import ConfigError
from pipelines.rag.prompt import Passage
from pipelines.rag.support import (
    DEFAULT_THRESHOLD,
    NOT_FOUND,
    SupportReport,
    check_support,
    split_sentences,
    strip_citations,
)

DEV_SET = Path(__file__).with_name("support_dev.jsonl")
GRID = [round(0.30 + 0.05 * i, 2) for i in range(11)]  # 0.30 … 0.80

TOWER = ("The Eiffel Tower stands in Paris. It was completed in 1889 for the World's Fair. "
         "The tower is 330 metres tall and is named after Gustave Eiffel.")
CATS = "The cat is a small carnivorous mammal. Cats purr when content. Unlike dogs, cats do not taste sweetness."
PASSAGES = [Passage(1, "tower", "/d/tower.txt", "Tower", TOWER, 100, 100 + len(TOWER), (4,), 0.8),
            Passage(2, "cats", "/d/cats.txt", "Cats", CATS, 0, len(CATS), (9,), 0.7)]


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith arrived. He sat down.", ["Dr. Smith arrived.", "He sat down."]),
        ("The rod is 3.5 m long. It is steel.", ["The rod is 3.5 m long.", "It is steel."]),
        ("J. R. R. Tolkien wrote it. He was English.", ["J. R. R. Tolkien wrote it.", "He was English."]),
        ("The U.S. Senate met. It voted.", ["The U.S. Senate met.", "It voted."]),
        ("He moved to the U.S. in 1990.", ["He moved to the U.S. in 1990."]),
        ("He lived in the U.S. The move was hard.", ["He lived in the U.S.", "The move was hard."]),
        ("Paris is big [1]. Rome is old [2, 3].", ["Paris is big [1].", "Rome is old [2, 3]."]),
        ("Paris is big. [1] Rome is old. [2][3]", ["Paris is big. [1]", "Rome is old. [2][3]"]),
        ("Paris is big. [1]. Rome is old.", ["Paris is big. [1].", "Rome is old."]),
        ("Fruit, e.g. apples, is sweet. Yes!", ["Fruit, e.g. apples, is sweet.", "Yes!"]),
        ("Is it? Yes. It is!", ["Is it?", "Yes.", "It is!"]),
        ("He said \"Go.\" Then he left.", ["He said \"Go.\"", "Then he left."]),
        ("Answer:\n- Paris is big.\n- Rome is old\n2. Oslo is cold.", ["Answer:", "Paris is big.", "Rome is old",
                                                                       "Oslo is cold."]),
        ("  Trailing space.   ", ["Trailing space."]),
        ("No full stop at the end", ["No full stop at the end"]),
        ("Version 3.11 and 1,000 items. Done.", ["Version 3.11 and 1,000 items.", "Done."]),
        ("", []),
        (" \n\n ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_sentence_offsets_slice_the_answer() -> None:
    answer = "  Dr. Who met J. Smith [1].\n\n* It was 3.5 m tall. [2] Was it?  "
    report = check_support(answer, PASSAGES)
    assert [s.sentence for s in report.sentences] == ["Dr. Who met J. Smith [1].", "It was 3.5 m tall. [2]", "Was it?"]
    for item in report.sentences:
        assert answer[item.start : item.end] == item.sentence


def test_strip_citations() -> None:
    assert strip_citations("Paris is big [1, 2] and old [3].") == "Paris is big and old."


def check_one(sentence: str, embed: Callable[[list[str]], np.ndarray] | None = None):
    report = check_support(sentence, PASSAGES, embed)
    assert len(report.sentences) == 1
    return report.sentences[0]


def test_copy_is_supported_with_exact_span() -> None:
    result = check_one("The tower is 330 metres tall and is named after Gustave Eiffel [1].")
    assert result.supported and result.passage == 1 and result.cited == (1,)
    span = TOWER[result.span_start : result.span_end]
    assert span == "The tower is 330 metres tall and is named after Gustave Eiffel."
    assert (result.doc_start, result.doc_end) == (100 + result.span_start, 100 + result.span_end)
    assert result.score == pytest.approx(1.0)


def test_paraphrase_is_supported() -> None:
    result = check_one("The Eiffel Tower was finished in 1889 for the World's Fair.")
    assert result.supported and result.passage == 1
    # the window: the second sentence says "It", the first names the tower
    assert TOWER[result.span_start : result.span_end] == ("The Eiffel Tower stands in Paris. It was completed in 1889 "
                                                          "for the World's Fair.")


@pytest.mark.parametrize(
    "sentence",
    [
        "The Eiffel Tower was completed in 1899.",  # wrong year
        "The tower is 300 metres tall.",  # wrong number
        "The tower is named after Le Corbusier.",  # wrong name
        "The Eiffel Tower stands in Lyon.",  # wrong place
        "Cats purr when content, and they are excellent swimmers.",  # one clause supported, one not
        "The tower was completed in 1889 and is painted red every year.",  # same, with a number right
        "Cats can taste sweetness.",  # the passage says they cannot
        "Bananas are an excellent source of potassium.",  # unrelated
    ],
)
def test_unsupported(sentence: str) -> None:
    result = check_one(sentence)
    assert result.checked and not result.supported
    assert (result.passage, result.span_start, result.span_end, result.doc_start) == (None, None, None, None)
    assert result.score < DEFAULT_THRESHOLD
    assert result.label == NOT_FOUND


def test_negated_claim_matching_negated_passage_is_supported() -> None:
    result = check_one("Cats do not taste sweetness, unlike dogs [2].")
    assert result.supported and result.passage == 2
    assert CATS[result.span_start : result.span_end] == "Unlike dogs, cats do not taste sweetness."


def test_synthesis_of_two_passages_is_supported() -> None:
    result = check_one("The tower is 330 metres tall, while cats purr when content.")
    assert result.supported


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("I cannot find the answer in the provided documents.", "refusal"),
        ("The passages do not mention his birthday.", "refusal"),
        ("Paris [1].", "fragment"),
        ("Is the tower tall?", "question"),
        ("That is all.", "no_content"),
    ],
)
def test_sentences_without_a_claim_are_not_checked(sentence: str, reason: str) -> None:
    report = check_support(sentence, PASSAGES)
    (result,) = report.sentences
    assert (result.checked, result.skip_reason, result.supported, result.label) == (False, reason, False, "not checked")
    assert report.rate is None and report.unsupported == []


def test_rate_counts_checked_sentences_only() -> None:
    answer = ("The tower stands in Paris [1]. Cats purr when content [2]. The tower is made of gold. "
              "I cannot find the answer in the provided documents.")
    report = check_support(answer, PASSAGES)
    assert [s.checked for s in report.sentences] == [True, True, True, False]
    assert [s.supported for s in report.sentences] == [True, True, False, False]
    assert report.rate == pytest.approx(2 / 3)
    assert [s.sentence for s in report.unsupported] == ["The tower is made of gold."]
    assert [s.passage for s in report.sentences] == [1, 2, None, None]


def test_span_offsets_slice_every_passage_text() -> None:
    answer = ("It was completed in 1889 for the World's Fair. Cats purr when content. "
              "The cat is a small carnivorous mammal.")
    for result in check_support(answer, PASSAGES).sentences:
        passage = PASSAGES[result.passage - 1]
        span = passage.text[result.span_start : result.span_end]
        assert span and span == span.strip() and strip_citations(result.sentence) in span


def test_cited_passage_wins_a_tie() -> None:
    twins = [Passage(n, f"d{n}", f"/d/{n}.txt", "T", CATS, 10 * n, 10 * n + len(CATS), (n,), 0.5) for n in (1, 2, 3)]
    assert check_support("Cats purr when content.", twins).sentences[0].passage == 1
    cited = check_support("Cats purr when content [2].", twins).sentences[0]
    assert (cited.passage, cited.cited, cited.doc_start) == (2, (2,), 20 + CATS.index("Cats purr"))


def test_report_to_dict_is_json_ready() -> None:
    report = check_support("The tower stands in Paris [1]. It is made of gold.", PASSAGES)
    data = json.loads(json.dumps(report.to_dict()))
    assert (data["rate"], data["checked"], data["unsupported"], data["mode"]) == (0.5, 2, 1, "lexical")
    first, second = data["sentences"]
    assert (first["passage"], first["cited"], first["label"]) == (1, [1], "supported")
    assert first["doc_start"] - first["span_start"] == 100
    assert (second["passage"], second["doc_start"], second["label"]) == (None, None, NOT_FOUND)


def test_no_passages_supports_nothing() -> None:
    report = check_support("The tower stands in Paris [1].", [])
    assert report.rate == 0.0 and report.sentences[0].passage is None


def hashed_words(texts: list[str]) -> np.ndarray:
    """A real (if crude) embedding: unit bag-of-hashed-words vectors, used to test the embedding path quickly."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", text.lower()):
            out[i, sum(map(ord, word)) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def test_embed_is_called_once_for_all_sentences_and_spans() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return hashed_words(texts)

    report = check_support("The tower stands in Paris [1]. Cats purr when content, and they hunt mice.", PASSAGES,
                           embed)
    assert len(calls) == 1 and report.mode == "embedding"
    texts = calls[0]
    assert "The tower stands in Paris." in texts and "Cats purr when content." in texts  # a sentence and a span
    assert "It was completed in 1889 for the World's Fair. The tower is 330 metres tall and is named after " \
           "Gustave Eiffel." in texts  # a two-sentence window
    assert len(texts) == len(set(texts))
    assert report.sentences[0].supported


def test_mean_window_vectors_embed_sentences_only() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return hashed_words(texts)

    answer = "The tower stands in Paris [1]."
    full = check_support(answer, PASSAGES, embed)
    mean = check_support(answer, PASSAGES, embed, window_vectors="mean")
    windows = 2 + 2  # each passage has three sentences
    assert len(calls[0]) - len(calls[1]) == windows
    assert all(t not in calls[1] for t in calls[0] if t.count(". ") == 1 and t != answer)
    assert full.sentences[0].supported and mean.sentences[0].supported


def test_unknown_window_vectors_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="window_vectors"):
        check_support("The tower stands in Paris.", PASSAGES, hashed_words, window_vectors="sum")  # type: ignore[arg-type]


def test_embed_not_called_when_nothing_to_check() -> None:
    def embed(texts: list[str]) -> np.ndarray:
        raise AssertionError("embed must not be called")

    assert check_support("I cannot find the answer in the provided documents.", PASSAGES, embed).rate is None


def test_embed_with_wrong_shape_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"shape \(3,\)"):
        check_support("The tower stands in Paris.", PASSAGES, lambda texts: np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_out_of_range_is_a_config_error(threshold: float) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        check_support("The tower stands in Paris.", PASSAGES, threshold=threshold)


# --- development set: the default threshold is the one chosen there ---------------------------------------------

def dev_cases() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def dev_passages(texts: list[str]) -> list[Passage]:
    starts = np.cumsum([0] + [len(t) + 1 for t in texts])
    return [Passage(i + 1, f"d{i}", f"/d/{i}.txt", f"D{i}", t, int(starts[i]), int(starts[i]) + len(t), (i,), 0.5)
            for i, t in enumerate(texts)]


def dev_scores(embed: Callable[[list[str]], np.ndarray] | None) -> list[float]:
    scores = []
    for case in dev_cases():
        report = check_support(case["sentence"], dev_passages(case["passages"]), embed, threshold=0.0)
        assert len(report.sentences) == 1 and report.sentences[0].checked, case["id"]
        scores.append(report.sentences[0].score)
    return scores


def precision_recall(scores: list[float], threshold: float) -> tuple[float, float, float]:
    """Precision and recall of "supported", and accuracy, at ``threshold``."""
    labels = [case["supported"] for case in dev_cases()]
    said = [s >= threshold for s in scores]
    tp = sum(p and y for p, y in zip(said, labels))
    return tp / max(sum(said), 1), tp / sum(labels), sum(p == y for p, y in zip(said, labels)) / len(labels)


def chosen_threshold(scores: list[float]) -> float:
    """The highest threshold on :data:`GRID` with the best accuracy (ties favour precision)."""
    return max(GRID, key=lambda t: (precision_recall(scores, t)[2], t))


def test_dev_set_is_big_and_balanced() -> None:
    cases = dev_cases()
    kinds = {case["kind"] for case in cases}
    assert len(cases) >= 30 and 0.4 <= sum(c["supported"] for c in cases) / len(cases) <= 0.6
    assert {"copy", "paraphrase", "wrong_number", "wrong_name", "partial", "unrelated"} <= kinds


def assert_dev_results(embed: Callable[[list[str]], np.ndarray] | None, min_precision: float,
                       min_recall: float) -> None:
    scores = dev_scores(embed)
    assert chosen_threshold(scores) == DEFAULT_THRESHOLD
    precision, recall, _ = precision_recall(scores, DEFAULT_THRESHOLD)
    assert precision >= min_precision and recall >= min_recall
    for case, score in zip(dev_cases(), scores):
        if case["kind"] in {"wrong_name", "partial", "unrelated", "negation"}:
            assert score < DEFAULT_THRESHOLD, case["id"]


def test_dev_set_lexical() -> None:
    assert_dev_results(None, min_precision=0.9, min_recall=0.95)


@pytest.mark.slow
def test_dev_set_with_real_embedder(embedder) -> None:
    assert_dev_results(embedder.encode, min_precision=0.9, min_recall=0.95)


@pytest.mark.slow
def test_real_embedder_catches_paraphrase_words_miss(embedder) -> None:
    passage = dev_passages(["Photosynthesis is the process by which plants use sunlight, water and carbon dioxide to "
                            "produce glucose and oxygen. It takes place mainly in the chloroplasts of leaf cells."])
    sentence = "Most photosynthesis occurs inside the chloroplasts of leaves [1]."
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return embedder.encode(texts)

    lexical = check_support(sentence, passage).sentences[0]
    dense = check_support(sentence, passage, embed)
    assert not lexical.supported
    assert dense.sentences[0].supported and dense.sentences[0].passage == 1 and calls == [4]
    assert isinstance(dense, SupportReport) and dense.mode == "embedding"


def _print_sweep() -> None:
    from indexing.embedder import Embedder

    for mode, embed in (("lexical", None), ("embedding", Embedder().encode)):
        scores = dev_scores(embed)
        print(f"{mode}: chosen threshold {chosen_threshold(scores)}")
        for t in GRID:
            precision, recall, accuracy = precision_recall(scores, t)
            print(f"  {t:.2f}  precision {precision:.3f}  recall {recall:.3f}  accuracy {accuracy:.3f}")
        misses = [c["id"] for c, s in zip(dev_cases(), scores) if (s >= DEFAULT_THRESHOLD) != c["supported"]]
        print(f"  wrong at {DEFAULT_THRESHOLD}: {misses}")


if __name__ == "__main__":
    _print_sweep()
