"""Lead text: the first sentence of the first paragraph, the document's name taken out."""

from __future__ import annotations

import pytest

from indexing.lead import LEAD_WORDS, first_paragraph, first_sentence, lead_text


def test_wiki_style_lead_drops_the_name_and_keeps_the_definition() -> None:
    text = "Quentin Jerome Tarantino is an American filmmaker, actor, and author. His films are violent."
    assert lead_text("Quentin Tarantino", text) == "Jerome is an American filmmaker, actor, and author."


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
    assert lead_text("Bread", text) == "is baked from flour, water and yeast."


def test_no_lead_when_too_little_is_left() -> None:
    assert lead_text("Paris", "Paris is nice.") == ""
    assert lead_text("t", "") == ""
    assert lead_text("Notes", "# Notes\n\nshort") == ""


def test_long_first_sentence_is_cut_to_lead_words() -> None:
    text = " ".join(f"w{i}" for i in range(200)) + "."
    assert len(lead_text("Title", text).split()) == LEAD_WORDS
