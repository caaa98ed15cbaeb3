"""Four short Markdown documents with plain facts (a date, a place, a number) for the `sift eval corpus` tests:
SmolLM2-135M writes at least one question about them whose answer it quotes from the chunk."""

from __future__ import annotations

from pathlib import Path

TINY_DOCS = {
    "apollo.md": "# Apollo 11\n\nApollo 11 landed on the Moon on 20 July 1969. Neil Armstrong and Buzz Aldrin walked "
                 "on the surface while Michael Collins stayed in orbit aboard the command module Columbia.\n",
    "curie.md": "# Marie Curie\n\nMarie Curie was born in Warsaw in 1867. She won the Nobel Prize in Physics in 1903 "
                "and the Nobel Prize in Chemistry in 1911.\n",
    "sourdough.md": "# Sourdough\n\nSourdough bread rises with a starter of wild yeast and lactic acid bacteria "
                    "instead of baker's yeast. A starter is fed with flour and water every day.\n",
    "penguins.md": "# Emperor penguins\n\nEmperor penguins breed in Antarctica during the winter. The male keeps the "
                   "single egg warm on his feet for about 65 days while the female hunts at sea.\n",
}


def write_tiny_docs(folder: Path) -> Path:
    """Write :data:`TINY_DOCS` into ``folder`` (created); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TINY_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
