"""CheckedText: what streams is the checked answer — released pieces add up to it, whatever the split."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.rag.checked_text import CheckedText
from pipelines.rag.citations import resolve_citations
from pipelines.rag.prompt import Passage
from pipelines.rag.refusal import REFUSAL_TEXT
from pipelines.rag.support import check_support

PASSAGES = [
    Passage(1, "m", "m.md", "Monet", "Claude Monet died at Giverny in December 1926.", 0, 47, (1,), 0.9),
    Passage(2, "e", "e.txt", "Eiffel", "The Eiffel Tower was finished in 1889 in Paris.", 0, 47, (2,), 0.8),
]
ANSWERS = [
    "Claude Monet died in 1926 [2]. The Eiffel Tower was finished in 1889 [2].",
    "  The tower was finished in 1889 [7].\n\nIt stands in Paris [2]. Dr. Smith liked it.  ",
    "I cannot find the answer in the provided documents.",
    "- Monet died in 1926 [1].\n- The tower: 1889 [1, 2].",
    "",
    "Ninja is distributed under the MIT license. Its author wrote it at a search company.",
    "Ninja is distributed under the MIT license. The Eiffel Tower was finished in 1889 in Paris. Dr. Smith liked it.",
]


def run(answer: str, cuts: list[int], **kwargs: object) -> tuple[str, CheckedText]:
    checked = CheckedText(PASSAGES, **kwargs)  # type: ignore[arg-type]
    bounds = sorted({0, len(answer), *(c % (len(answer) + 1) for c in cuts)})
    out = [checked.feed(answer[a:b]) for a, b in zip(bounds, bounds[1:])]
    out.append(checked.flush())
    return "".join(out), checked


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ANSWERS), st.lists(st.integers(0, 200), max_size=12))
def test_released_pieces_are_the_checked_text_however_the_model_splits_it(answer: str, cuts: list[int]) -> None:
    streamed, checked = run(answer, cuts)
    assert streamed == checked.text == checked.text.strip()
    whole, _ = run(answer, [])
    assert streamed == whole, "the same answer whether it came in one piece or many"


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abc .\n[]12", max_size=60), st.lists(st.integers(0, 60), max_size=8))
def test_unchecked_text_passes_through_with_only_its_ends_trimmed(answer: str, cuts: list[int]) -> None:
    streamed, _ = run(answer, cuts, check=False)
    assert streamed == resolve_citations(answer, PASSAGES).text.strip()


def test_checks_match_the_whole_answer_checks() -> None:
    answer = ANSWERS[0]
    streamed, checked = run(answer, [5, 17, 31, 44, 60])
    assert streamed == "Claude Monet died in 1926 [1]. The Eiffel Tower was finished in 1889 [2]."
    assert checked.moved == 1 and checked.invalid_citations == 0
    report = checked.report()
    whole = check_support(streamed, PASSAGES)
    assert report is not None
    assert [(s.sentence, s.start, s.end, s.supported, s.passage) for s in report.sentences] == [
        (s.sentence, s.start, s.end, s.supported, s.passage) for s in whole.sentences]


def test_invalid_citations_are_removed_and_counted() -> None:
    streamed, checked = run(ANSWERS[1], [3, 9, 40])
    assert "[7]" not in streamed and checked.invalid_citations == 1
    assert streamed.startswith("The tower was finished in 1889") and streamed.endswith("Dr. Smith liked it.")


def test_a_refusal_is_released_unchecked() -> None:
    streamed, checked = run(ANSWERS[2], [10, 20])
    assert streamed == ANSWERS[2] and checked.refused and checked.report() is None


def test_an_answer_that_no_passage_supports_and_that_cites_none_is_refused() -> None:
    pieces: list[str] = []
    checked = CheckedText(PASSAGES)
    for token in ANSWERS[5].split(" "):
        pieces.append(checked.feed(token + " "))
    assert not any(pieces), "nothing leaves while no sentence stands on a passage"
    assert checked.flush() == REFUSAL_TEXT and checked.text == REFUSAL_TEXT
    assert checked.refused and checked.ungrounded and checked.report() is None


def test_held_sentences_leave_with_the_first_one_that_a_passage_supports() -> None:
    checked = CheckedText(PASSAGES)
    out = [checked.feed(t) for t in ["Ninja is distributed under the MIT license. ", "The Eiffel Tower was ",
                                     "finished in 1889 in Paris. Dr. ", "Smith liked it."]]
    assert out[:2] == ["", ""], "held: the first sentence stands on nothing, the second is still being written"
    assert out[2] == "Ninja is distributed under the MIT license. The Eiffel Tower was finished in 1889 in Paris [2]."
    released = "".join(out) + checked.flush()
    assert released == checked.text and not checked.refused and not checked.ungrounded
    report = checked.report()
    assert report is not None and [s.supported for s in report.sentences if s.checked][:2] == [False, True]


def test_a_cited_sentence_grounds_the_answer_and_unchecked_answers_are_not_refused() -> None:
    streamed, checked = run("Ninja is distributed under the MIT license [1].", [7, 30])
    assert streamed == "Ninja is distributed under the MIT license [1]." and not checked.ungrounded
    streamed, checked = run(ANSWERS[5], [9, 50], check=False)
    assert streamed == ANSWERS[5] and not checked.refused


def test_words_the_answer_adds_to_the_question_ground_it_when_a_passage_holds_one() -> None:
    text = "Ninja is a small build system. It is distributed as one binary."
    ninja = [Passage(1, "n", "n.html", "Ninja", text, 0, len(text), (1,), 0.7)]
    question = "Which license is Ninja distributed under?"
    made_up = "Ninja is distributed under the MIT license."
    checked = CheckedText(ninja, question=question)
    assert checked.feed(made_up) == "" and checked.flush() == REFUSAL_TEXT and checked.ungrounded
    echo = CheckedText(ninja)  # the same words, but nothing says they were the question's
    assert echo.feed(made_up) == "" and echo.flush() == made_up and not echo.refused
    read = CheckedText(ninja, question=question)
    out = read.feed("Nothing says which, only that it ships as one small binary. ") + read.flush()
    assert out.startswith("Nothing says which") and not read.refused, "'binary' and 'small' come from the passage"


def test_a_word_borrowed_from_a_passage_does_not_ground_an_answer_about_something_no_document_names() -> None:
    text = "gzip: -6 is the default compression level; -9 is the slowest and compresses best."
    gzip = [Passage(1, "g", "gzip.txt", "gzip", text, 0, len(text), (1,), 0.64)]
    question = "What is the default compression level of lz4?"
    borrowed = "The default compression level of lz4 is -6."
    lent = CheckedText(gzip, question=question)
    assert lent.feed(borrowed) == "" and lent.flush() == borrowed, "'6' is the passage's: it grounds the answer"
    checked = CheckedText(gzip, question=question, absent=["lz4"])
    assert checked.feed(borrowed) == "" and checked.flush() == REFUSAL_TEXT and checked.ungrounded
    cited = CheckedText(gzip, question=question, absent=["lz4"])
    assert cited.feed("The default level is -6 [1].") + cited.flush() == "The default level is -6 [1]."
    assert not cited.refused, "a citation still grounds it: the reader can check the passage"
