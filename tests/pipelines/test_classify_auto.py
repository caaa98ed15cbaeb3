"""``--method auto``: the generator labels a sample, a classifier on the embeddings the rest (real SmolLM2 and
MiniLM throughout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from classify_testkit import COOKING, GOLD, SPORTS, TEXTS

from indexing.errors import ConfigError
from pipelines.classify import EvalConfig, GenerativeClassifier, LabelSet, evaluate
from pipelines.classify.auto import (
    AutoClassifier,
    cohen_kappa,
    diverse_rows,
    margins,
    sample_size,
)
from pipelines.classify.service import text_zero_shot
from pipelines.generation import load_generator

LABELS = LabelSet.parse(["sports=a text about sports", "cooking=a text about cooking"])


def test_sample_size_is_a_tenth_with_a_floor_per_label_and_never_more_than_the_texts() -> None:
    assert sample_size(10_000, 2) == 1000 and sample_size(10_000, 11) == 1000
    assert sample_size(300, 11) == 110 and sample_size(50, 2) == 20 and sample_size(5, 2) == 5
    assert sample_size(0, 2) == 0


def test_kappa_and_margins() -> None:
    same = np.array([0, 1, 0, 1, 1])
    assert cohen_kappa(same, same, 2) == 1.0
    assert cohen_kappa(np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0]), 2) == -1.0
    assert np.allclose(margins(np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]])), [0.5, 0.0])


def test_diverse_rows_cover_every_cluster_of_real_embeddings(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = SPORTS[:10] + COOKING[:10] + [f"The {x} orbits the sun once a year." for x in
                                          ("Earth", "planet Mars", "comet", "asteroid", "dwarf planet")]
    vectors = embedder.encode(texts)
    picked = diverse_rows(vectors, 3, seed=0)
    groups = {0 if r < 10 else 1 if r < 20 else 2 for r in picked}
    assert len(picked) == 3 and groups == {0, 1, 2}
    assert set(diverse_rows(vectors, 4, exclude=picked)).isdisjoint(picked)
    assert sorted(diverse_rows(vectors, 99)) == list(range(len(texts)))


@pytest.fixture(scope="module")
def smollm2():  # type: ignore[no-untyped-def]
    generator = load_generator("smollm2-135m")
    generator.warm_up()
    return generator


def _auto(embedder, smollm2, **kwargs) -> tuple[AutoClassifier, np.ndarray, GenerativeClassifier]:  # type: ignore[no-untyped-def]
    vectors = embedder.encode(TEXTS)
    generative = GenerativeClassifier(LABELS, smollm2)
    calls: list[str] = []

    def scorer(texts: list[str]) -> np.ndarray:
        calls.extend(texts)
        return generative.log_scores(texts)

    zero_shot = text_zero_shot(LABELS, embedder, vectors)
    clf = AutoClassifier(LABELS, zero_shot, scorer, **kwargs)
    corrected = [i for i, t in enumerate(TEXTS) if t in kwargs.get("corrections", {})]
    clf.fit(vectors, lambda rows: [TEXTS[r] for r in rows], corrected)
    clf.asked = calls  # type: ignore[attr-defined]
    return clf, vectors, generative


@pytest.mark.slow
def test_the_generator_labels_the_sample_and_the_student_the_rest(embedder, smollm2) -> None:  # type: ignore[no-untyped-def]
    clf, vectors, generative = _auto(embedder, smollm2)
    report = clf.report
    assert report.calls == sample_size(len(TEXTS), 2) == 20 == len(clf.asked) == len(set(report.sample))
    assert sorted(clf.asked) == sorted(TEXTS[r] for r in report.sample)
    probs = clf.probabilities(vectors, TEXTS)
    # The sample keeps the generator's own answer; the rest is labelled by the student, right on this easy set.
    sampled = [TEXTS[r] for r in report.sample]
    assert np.allclose(probs[report.sample], generative.probabilities(np.zeros((20, 0)), sampled))
    assert report.sample_labels == [LABELS.labels[int(i)] for i in probs[report.sample].argmax(axis=1)]
    predicted = [LABELS.labels[int(i)] for i in probs.argmax(axis=1)]
    assert np.mean([p == g for p, g in zip(predicted, GOLD, strict=True)]) >= 0.95
    assert not report.fallback and report.kappa > 0.5 and np.allclose(probs.sum(axis=1), 1.0)
    assert "the generator labelled 20 of 60 texts" in report.summary()


@pytest.mark.slow
def test_corrections_are_answers_and_training_labels_without_a_generator_call(embedder, smollm2) -> None:  # type: ignore[no-untyped-def]
    first, _, _ = _auto(embedder, smollm2)
    wrong = {TEXTS[first.report.sample[0]]: "cooking" if GOLD[first.report.sample[0]] == "sports" else "sports"}
    outside = next(i for i in range(len(TEXTS)) if i not in first.report.sample)
    wrong[TEXTS[outside]] = "cooking" if GOLD[outside] == "sports" else "sports"
    clf, vectors, _ = _auto(embedder, smollm2, corrections=wrong)
    probs = clf.probabilities(vectors, TEXTS)
    for text, label in wrong.items():
        assert LABELS.labels[int(probs[TEXTS.index(text)].argmax())] == label
        assert text not in clf.asked  # a person's label is never asked of the generator
    assert outside in clf.report.sample and clf.report.corrected == 2
    with pytest.raises(ConfigError, match="not in the label set: music"):
        AutoClassifier(LABELS, clf.zero_shot, clf.scorer, corrections={"a song": "music"})


@pytest.mark.slow
def test_disagreement_with_the_embeddings_falls_back_to_zero_shot(embedder, smollm2) -> None:  # type: ignore[no-untyped-def]
    clf, vectors, _ = _auto(embedder, smollm2, min_kappa=1.01)  # no agreement is enough: always fall back
    assert clf.report.fallback and "zero-shot" in clf.report.summary()
    # Then zero-shot labels every text, the sample included: the generator's answers are shown, not used.
    assert np.allclose(clf.probabilities(vectors, TEXTS), clf.zero_shot.probabilities(vectors))


@pytest.mark.slow
def test_eval_auto_on_a_labelled_file(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = "text,label\n" + "".join(f'"{t}",{label}\n' for t, label in zip(TEXTS, GOLD, strict=True))
    (tmp_path / "toy.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "labels.toml").write_text('sports = "a text about sports"\ncooking = "a text about cooking"\n')
    with pytest.raises(ConfigError, match="--sample is the generator's share of --method auto"):
        evaluate(EvalConfig(csv=tmp_path / "toy.csv", method="zero-shot", sample=5))
    config = EvalConfig(csv=tmp_path / "toy.csv", train_csv=tmp_path / "toy.csv", method="auto",
                        labels=tmp_path / "labels.toml", sample=12)
    result = evaluate(config, generator=smollm2)
    assert result.method == "auto" and result.dev is None and result.sizes["test"] == 60
    assert result.auto.calls == 12 and result.test.accuracy >= 0.95
    assert result.to_dict()["auto"]["calls"] == 12
