"""Citation parsing, validation and mapping to passages."""

from __future__ import annotations

import pytest

from pipelines.rag.citations import find_citations, parse_numbers, resolve_citations
from pipelines.rag.prompt import Passage

PASSAGES = [
    Passage(1, "a", "/d/a.txt", "A", "alpha text", 10, 20, (3,), 0.9),
    Passage(2, "b", "/d/b.txt", "B", "beta text", 0, 9, (5, 6), 0.8),
    Passage(3, "c", "/d/c.txt", "C", "gamma text", 40, 50, (8,), 0.7),
]


@pytest.mark.parametrize(
    ("group", "numbers"),
    [("1", [1]), ("1, 2", [1, 2]), (" 3 ;4 ", [3, 4]), ("1-3", [1, 2, 3]), ("2–3", [2, 3]), ("1, 2-3", [1, 2, 3]),
     ("3-1", [3, 1]), ("1-999", [1, 999])],
)
def test_parse_numbers(group: str, numbers: list[int]) -> None:
    assert parse_numbers(group) == numbers


def test_find_citations_ignores_other_brackets() -> None:
    text = "See [1] and [2, 3][4]; not [a], [], [1.5] or [x1]."
    assert find_citations(text) == [[1], [2, 3], [4]]


@pytest.mark.parametrize(
    ("answer", "cleaned", "cited", "valid", "invalid"),
    [
        ("Paris is the capital [1].", "Paris is the capital [1].", [1], 1, 0),
        ("Both [1, 2] and again [2].", "Both [1, 2] and again [2].", [1, 2], 3, 0),
        ("Made up [7].", "Made up.", [], 0, 1),
        ("Mixed [1, 7] and [2][9].", "Mixed [1] and [2].", [1, 2], 2, 2),
        ("Range [2-4].", "Range [2, 3].", [2, 3], 2, 1),
        ("Zero [0] is never a passage.", "Zero is never a passage.", [], 0, 1),
        ("No citations at all.", "No citations at all.", [], 0, 0),
        ("", "", [], 0, 0),
        ("Emoji 🐍 first [3] then [1]", "Emoji 🐍 first [3] then [1]", [3, 1], 2, 0),
        ("In [2023] it rained.", "In it rained.", [], 0, 1),
        ("Line one [5]\nLine two [1]", "Line one\nLine two [1]", [1], 1, 1),
    ],
)
def test_resolve_citations(answer: str, cleaned: str, cited: list[int], valid: int, invalid: int) -> None:
    result = resolve_citations(answer, PASSAGES)
    assert result.text == cleaned
    assert [c.number for c in result.citations] == cited
    assert (result.valid, result.invalid) == (valid, invalid)


def test_citations_carry_source_offsets_and_counts() -> None:
    result = resolve_citations("x [2] y [2, 3]", PASSAGES)
    first, second = result.citations
    assert (first.source, first.title, first.start, first.end, first.chunk_ids, first.count) == (
        "/d/b.txt", "B", 0, 9, (5, 6), 2)
    assert (second.doc_id, second.start, second.end, second.count) == ("c", 40, 50, 1)
    assert first.to_dict()["chunk_ids"] == [5, 6]


def test_resolving_twice_changes_nothing() -> None:
    once = resolve_citations("a [1, 8] b [9] c [3]", PASSAGES)
    twice = resolve_citations(once.text, PASSAGES)
    assert twice.text == once.text and twice.invalid == 0 and twice.valid == once.valid
