"""The two-zone evidence gate: refuse below the floor, check the question's names in the middle zone."""

from __future__ import annotations

import pytest

from pipelines.rag.refusal import RefusalPolicy, names_covered, question_names

WATER_LILIES = "Water Lilies is a series of oil paintings by French Impressionist Claude Monet (1840–1926)."


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("When did Claude Monet die?", ["claude", "monet"]),
        ("In which year was Oscar Hammerstein II born?", ["oscar", "hammerstein", "ii"]),
        ("How many people climbed the Eiffel Tower on 14 July 2019?", ["eiffel", "tower", "14", "july", "2019"]),
        ("What is my manager's phone number?", []),
        ("Where did I leave my car keys yesterday?", []),
    ],
)
def test_question_names(question: str, names: list[str]) -> None:
    assert question_names(question) == names


def test_names_must_all_be_in_one_passage() -> None:
    assert names_covered("When did Claude Monet die?", ["Impressionism began in France.", WATER_LILIES])
    assert not names_covered("When did Claude Monet die?", ["Claude Debussy was a composer.", "Monet painted."])
    assert not names_covered("What is my manager's phone number?", [WATER_LILIES])  # no names: no exception


def test_the_gate_zones() -> None:
    policy = RefusalPolicy(0.55, 0.35)
    q = "When did Claude Monet die?"
    assert policy.gate(None, q, [WATER_LILIES]) == "no_hits"
    assert policy.gate(0.60, q, []) is None  # strong evidence: always asked
    assert policy.gate(0.45, q, [WATER_LILIES]) is None  # middle zone, the names are there
    assert policy.gate(0.45, q, ["Claude Debussy was a composer."]) == "low_evidence"
    assert policy.gate(0.30, q, [WATER_LILIES]) == "low_evidence"  # under the floor
    assert RefusalPolicy(0.55, None).gate(0.45, q, [WATER_LILIES]) == "low_evidence"  # single threshold
    assert policy.gate(0.45) == "low_evidence"  # no question: nothing to check


def test_a_floor_above_the_threshold_leaves_a_single_threshold() -> None:
    policy = RefusalPolicy(0.3)  # the default floor, 0.35, is above it
    assert policy.gate(0.29, "When did Claude Monet die?", [WATER_LILIES]) == "low_evidence"
    assert policy.gate(0.31, "Who is my neighbour?", ["x"]) is None
