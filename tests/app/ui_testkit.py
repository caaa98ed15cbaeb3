"""A tiny corpus and index for the UI tests, and an AppTest for one page."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app.workspace import Workspace

TIMEOUT = 120  # seconds per AppTest run: the first run of a page may load a model

CORPUS = {
    "cats.md": "# Cats\n\nCats are small carnivorous mammals. They purr when content and hunt mice at night.\n",
    "paris.txt": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France, finished in 1889.\n",
    "unsafe.html": (
        "<html><head><title>Unsafe &lt;b&gt;title</title></head><body><p>Escaping check: the literal text "
        "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(2)&gt; must stay text.</p></body></html>"
    ),
}
ROWS = [
    {"title": "Sourdough", "text": "Sourdough bread rises slowly with wild yeast before baking.", "topic": "Baking"},
    {"title": "Baguette", "text": "A baguette is a long thin loaf of French bread.", "topic": "Baking"},
    {"title": "Penguins", "text": "Penguins are flightless birds that hunt fish in cold seas.", "topic": "Animals"},
]


def write_corpus(folder: Path) -> Path:
    """Write the corpus (three files and a JSONL of three topic-labelled rows) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    lines = "\n".join(json.dumps(row) for row in ROWS) + "\n"
    (folder / "notes.jsonl").write_text(lines, encoding="utf-8")
    return folder


def build_index(root: Path) -> Path:
    """Index the corpus under ``root`` with the real default embedding model; returns the index dir."""
    index = root / "index"
    Workspace(index).index([write_corpus(root / "docs")])
    return index


def _page(module: str) -> None:
    import importlib

    from app.ui.resources import show_errors

    show_errors(importlib.import_module(module).render)()


def page_app(module: str) -> AppTest:
    """An AppTest that runs one page module's ``render()`` under the same error guard as the app."""
    return AppTest.from_function(_page, args=(module,), default_timeout=TIMEOUT)


def html_text(at: AppTest) -> str:
    """Everything the page rendered with ``st.html``, joined."""
    return "\n".join(str(element.proto.body) for element in at.get("html"))
