"""The two-zone evidence gate: refuse below the floor, check the question's content words in the middle zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.chunker import ChunkerConfig
from indexing.errors import ConfigError
from indexing.store import Store
from indexing.sync import Syncer
from pipelines.rag.refusal import RefusalPolicy, terms_covered
from pipelines.rag.rewrite import named_entities
from pipelines.rag.terms import QUESTION_WORDS, question_terms
from pipelines.search import Searcher

WATER_LILIES = "Water Lilies is a series of oil paintings by French Impressionist Claude Monet (1840–1926)."


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        ("When did Claude Monet die?", ["claud", "monet", "die"]),
        ("when did claude monet die", ["claud", "monet", "die"]),
        ("In which year was Oscar Hammerstein II born?", ["oscar", "hammerstein", "ii", "born"]),
        ("Describe the Eiffel Tower", ["eiffel", "tower"]),
        ("Please explain how insulin is made.", ["insulin", "made"]),
        ("What is my manager's phone number?", ["manag", "phone", "number"]),
        ("Who is he?", []),
    ],
)
def test_question_terms_drop_the_shared_question_words(question: str, terms: list[str]) -> None:
    assert question_terms(question) == terms


def test_one_passage_must_hold_two_thirds_of_the_content_words() -> None:
    assert terms_covered("When did Claude Monet die?", ["Impressionism began in France.", WATER_LILIES])
    assert not terms_covered("When did Claude Monet die?", ["Claude Debussy was a composer.", "Monet painted."])
    assert not terms_covered("What is my manager's phone number?", [WATER_LILIES])
    assert not terms_covered("Who is he?", [WATER_LILIES]), "no content words: nothing to find"


@pytest.mark.parametrize(
    "question", ["When did Claude Monet die?", "when did claude monet die?", "when did claude monet die"]
)
def test_case_and_question_mark_do_not_change_the_check(question: str) -> None:
    assert terms_covered(question, [WATER_LILIES])
    assert RefusalPolicy(0.55, 0.40).gate(0.45, question, [WATER_LILIES]) is None


def test_an_imperative_is_not_required_in_the_passage() -> None:
    tower = "The Eiffel Tower is a wrought-iron lattice tower in Paris."
    assert terms_covered("Describe the Eiffel Tower", [tower], share=1.0)
    assert named_entities("Please summarise the Water Lilies") == ["Water Lilies"], "the rewriter reads the same list"
    assert {"describe", "please", "when"} <= QUESTION_WORDS


def test_the_gate_zones() -> None:
    policy = RefusalPolicy(0.55, 0.35)
    q = "When did Claude Monet die?"
    assert policy.gate(None, q, [WATER_LILIES]) == "no_hits"
    assert policy.gate(0.60, q, []) is None  # strong evidence: always asked
    assert policy.gate(0.45, q, [WATER_LILIES]) is None  # middle zone, the content words are there
    assert policy.gate(0.45, q, ["Claude Debussy was a composer."]) == "low_evidence"
    assert policy.gate(0.30, q, [WATER_LILIES]) == "low_evidence"  # under the floor
    assert RefusalPolicy(0.55, None).gate(0.45, q, [WATER_LILIES]) == "low_evidence"  # single threshold
    assert policy.gate(0.45) == "low_evidence"  # no question: nothing to check


def test_a_floor_above_the_threshold_leaves_a_single_threshold() -> None:
    policy = RefusalPolicy(0.3)  # the default floor, 0.40, is above it
    assert policy.gate(0.29, "When did Claude Monet die?", [WATER_LILIES]) == "low_evidence"
    assert policy.gate(0.31, "Who is my neighbour?", ["x"]) is None


@pytest.mark.parametrize("coverage", [0.0, 1.5])
def test_a_coverage_outside_0_1_is_refused(coverage: float) -> None:
    with pytest.raises(ConfigError, match="coverage"):
        RefusalPolicy(coverage=coverage)


def test_the_same_decision_for_a_question_in_lower_case_on_a_tiny_index(tmp_path: Path, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "water_lilies.txt").write_text(WATER_LILIES + " The series is in museums around the world.\n")
    (docs / "debussy.txt").write_text("Claude Debussy was a French composer of impressionist music.\n")
    (docs / "bread.txt").write_text("Bread is baked from flour, water and yeast.\n")
    Syncer(tmp_path / "idx", embedder, ChunkerConfig(64, 8)).sync([docs])
    searcher = Searcher(Store.open(tmp_path / "idx"), embedder)
    middle = RefusalPolicy(min_dense_score=0.99, floor=0.0)  # every question in the middle zone: the words decide
    decisions = {}
    for question in ("When did Claude Monet die?", "when did claude monet die", "When did Paul Cezanne die?"):
        hits, best = searcher.search_with_gate(question, k=3)
        decisions[question] = middle.gate(best, question, [h.text for h in hits])
    assert decisions == {"When did Claude Monet die?": None, "when did claude monet die": None,
                         "When did Paul Cezanne die?": "low_evidence"}
