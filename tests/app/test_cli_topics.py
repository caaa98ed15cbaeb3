"""`sift topics` on a tiny folder: names written by the real SmolLM2 beside the keywords; --no-names skips it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from app.workspace import Workspace
from pipelines.topics.model import default_label

TEXTS = {
    "cats": "Cats are small carnivorous mammals that purr and hunt mice at night.",
    "dogs": "Dogs are loyal domestic animals that bark, fetch and guard the house.",
    "owls": "Owls are birds of prey that hunt voles and mice in the dark.",
    "bread": "Bread is baked from flour, water and yeast; the dough rises before baking.",
    "pasta": "Fresh pasta is made from flour and eggs, rolled thin and cut into ribbons.",
    "cake": "A sponge cake needs eggs, sugar and flour beaten until light.",
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-topics")
    (root / "docs").mkdir()
    for name, text in TEXTS.items():
        (root / "docs" / f"{name}.txt").write_text(text, encoding="utf-8")
    assert main(["index", str(root / "docs"), "--index", str(root / "index")]) == 0
    return root / "index"


@pytest.mark.slow  # loads SmolLM2 through llama.cpp and compiles UMAP
def test_topics_prints_generated_names_beside_keywords(index_dir: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["topics", "--index", str(index_dir), "--n-topics", "2", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    saved = Workspace(index_dir).saved_topics()
    assert saved is not None and saved.model.params["labeler"] == "generator:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert out.splitlines()[0].endswith("names by generator:SmolLM2-135M-Instruct.Q4_1.gguf")
    lines = out.splitlines()
    for topic in saved.model.topics_:
        assert topic.label_source == "labeler", f"SmolLM2 answered nothing for topic {topic.id}"
        assert topic.label != default_label(topic.keywords, []) and "\n" not in topic.label
        assert 1 <= len(topic.label.split()) <= 5 and not set(topic.label) & set("*#`\"“”")
        at = lines.index(f"[{topic.id}] {topic.label}  ({topic.size})")
        assert lines[at + 1] == f"    keywords: {', '.join(topic.keywords)}"


@pytest.mark.slow  # compiles UMAP on first use
def test_no_names_labels_with_keywords(index_dir: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["topics", "--index", str(index_dir), "--n-topics", "2", "--seed", "1", "--no-names", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"]["labeler"] is None
    for topic in result["topics"]:
        assert (topic["label"], topic["label_source"]) == (default_label(topic["keywords"], []), "keywords")
