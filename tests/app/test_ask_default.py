"""One real answer from the default generator (Qwen2.5-Coder-1.5B) through the path `sift ask` takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main


@pytest.mark.slow
def test_sift_ask_with_the_default_model_answers_cites_and_is_supported(
    tmp_path: Path, corpus_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIFT_GENERATOR", raising=False)  # the suite's SmolLM2 default off: the real default
    monkeypatch.delenv("SIFT_GENERATOR_PATH", raising=False)
    idx = str(tmp_path / "idx")
    assert main(["index", str(corpus_dir), "--index", idx]) == 0
    capsys.readouterr()
    assert main(["ask", "When was the Eiffel Tower finished?", "--index", idx, "--json", "-k", "3"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert not answer["refused"] and "1889" in answer["answer"]
    assert [c["title"] for c in answer["citations"]][:1] == ["paris"]
    assert answer["citations"][0]["location"]["line"] is None, "a one-line document: no line number to show"
    support = answer["support"]
    assert support["rate"] == 1.0 and support["sentences"][0]["passage"] == answer["citations"][0]["number"]
    assert answer["metrics"]["completion_tokens"] < 100
