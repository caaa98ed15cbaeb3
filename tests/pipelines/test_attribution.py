"""Citations moved to the passage that supports each sentence."""

from __future__ import annotations

from pipelines.rag.attribution import align_citations, cite_passage
from pipelines.rag.prompt import Passage
from pipelines.rag.support import check_support

LILIES = "Water Lilies is a series of paintings by Claude Monet (1840–1926). They show his garden at Giverny."
MONET = "Claude Monet was a French painter and a founder of Impressionism."
PASSAGES = [Passage(1, "w", "/w", "Water Lilies", LILIES, 0, len(LILIES), (1,), 0.9),
            Passage(2, "m", "/m", "Claude Monet", MONET, 0, len(MONET), (2,), 0.8)]


def test_cite_passage_replaces_citations_before_the_closing_punctuation() -> None:
    assert cite_passage("He died in 1926 [2].", 1) == "He died in 1926 [1]."
    assert cite_passage("He died in 1926. [2, 3]", 1) == "He died in 1926 [1]."
    assert cite_passage("Really?!", 4) == "Really [4]?!"


def test_a_supported_sentence_citing_the_wrong_passage_is_pointed_at_the_right_one() -> None:
    text = "Monet painted his garden at Giverny [2]. Claude Monet was a founder of Impressionism [2]."
    aligned = align_citations(text, check_support(text, PASSAGES))
    assert aligned.text == "Monet painted his garden at Giverny [1]. Claude Monet was a founder of Impressionism [2]."
    assert aligned.changed == 1
    first, second = aligned.support.sentences
    assert aligned.text[first.start:first.end] == first.sentence and first.cited == (1,)
    assert aligned.text[second.start:second.end] == second.sentence and second.cited == (2,)


def test_unsupported_and_uncited_sentences() -> None:
    text = "Monet's garden was at Giverny. He won the Nobel Prize in 1901 [1]."
    aligned = align_citations(text, check_support(text, PASSAGES))
    assert aligned.text == "Monet's garden was at Giverny [1]. He won the Nobel Prize in 1901 [1]."  # cited; kept
    assert aligned.changed == 1 and not aligned.support.sentences[1].supported


def test_nothing_to_move_leaves_the_text_as_is() -> None:
    text = "Claude Monet was a French painter [2]."
    aligned = align_citations(text, check_support(text, PASSAGES))
    assert (aligned.text, aligned.changed) == (text, 0)
