"""Lead text: what the first sentence says the document is (style 2), or that sentence without the document's
name (style 1, and style 2's fallback); the mix of a lead with its chunk."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.lead import LEAD_WORDS, definition, first_paragraph, first_sentence, lead_text, mix

TARANTINO = "Quentin Jerome Tarantino is an American filmmaker, actor, and author. His films are violent."


def test_wiki_style_lead_keeps_the_definition() -> None:
    assert lead_text("Quentin Tarantino", TARANTINO) == "an American filmmaker, actor, and author."


def test_style_1_drops_the_name_and_keeps_the_sentence() -> None:
    assert lead_text("Quentin Tarantino", TARANTINO, 1) == "Jerome is an American filmmaker, actor, and author."


@pytest.mark.parametrize(
    ("sentence", "defined"),
    [
        ("Donato di Betto Bardi, known as Donatello, was an Italian sculptor.", "an Italian sculptor."),
        ("IS-95 Was The first CDMA-based cellular standard.", "The first CDMA-based cellular standard."),
        ("Lactose is a disaccharide.", "a disaccharide."),
        ("The answer is a.", ""),  # one word left: too little to define anything
        ("Cats are small carnivorous mammals.", ""),  # no article: not read as a definition
        ("Install the package first.", ""),
        (" ".join(["word"] * 21) + " is a thing that follows a long subject.", ""),
    ],
)
def test_definition_is_what_follows_the_subjects_copula(sentence: str, defined: str) -> None:
    assert definition(sentence) == defined


def test_without_a_definition_style_2_falls_back_to_the_nameless_sentence() -> None:
    text = "Cats are small carnivorous mammals. They purr."
    assert lead_text("Cats", text) == lead_text("Cats", text, 1) == "are small carnivorous mammals."


def test_an_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="lead style 3"):
        lead_text("t", TARANTINO, 3)


def test_mix_averages_chunk_and_lead_to_unit_length() -> None:
    mixed = mix(np.array([[1.0, 0.0], [0.6, 0.8]]), np.array([[0.0, 1.0], [0.6, 0.8]]))
    np.testing.assert_allclose(mixed, [[2 ** -0.5, 2 ** -0.5], [0.6, 0.8]], atol=1e-6)


@pytest.mark.parametrize(
    ("paragraph", "sentence"),
    [
        ("Arthur C. Clarke was a writer. He lived in Sri Lanka.", "Arthur C. Clarke was a writer."),
        ("Dr. Who is a series. It began in 1963.", "Dr. Who is a series."),
        ('The term "cat" (Felis catus) is old! Cats purr.', 'The term "cat" (Felis catus) is old!'),
        ("Version 3.11 was released in 2022. It is fast.", "Version 3.11 was released in 2022."),
        ("no sentence end here", "no sentence end here"),
    ],
)
def test_first_sentence_skips_initials_abbreviations_and_decimals(paragraph: str, sentence: str) -> None:
    assert first_sentence(paragraph) == sentence


def test_headings_and_short_labels_before_the_first_paragraph_are_skipped() -> None:
    text = "# Bread\n\nDraft\n\n## Basics\nBread is baked from flour,\nwater and yeast. It rises.\n\nMore text here."
    assert first_paragraph(text) == "Bread is baked from flour, water and yeast. It rises."
    assert lead_text("Bread", text) == "is baked from flour, water and yeast."  # no article after "is"


def test_no_lead_when_too_little_is_left() -> None:
    assert lead_text("Paris", "Paris is nice.") == ""
    assert lead_text("t", "") == ""
    assert lead_text("Notes", "# Notes\n\nshort") == ""


def test_long_first_sentence_is_cut_to_lead_words() -> None:
    text = " ".join(f"w{i}" for i in range(200)) + "."
    assert len(lead_text("Title", text).split()) == LEAD_WORDS
