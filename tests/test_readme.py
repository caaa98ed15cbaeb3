"""The README's Python examples run as written, in order, in one fresh directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    blocks = _python_blocks()
    assert len(blocks) >= 4, "the README documents the index/search, classify, topics and ask APIs"
    monkeypatch.chdir(tmp_path)
    outputs = []
    for number, block in enumerate(blocks):
        exec(compile(block, f"README.md python example {number}", "exec"), {"__name__": "__readme__"})
        outputs.append(capsys.readouterr().out)
        assert outputs[-1].strip(), f"example {number} prints its results"
    assert "added 2" in outputs[0] and "tower" in outputs[0].splitlines()[1]
    assert outputs[1].split()[0] == "positive" and outputs[1].split()[2] == "negative"
    follow_up = outputs[-1].strip().splitlines()[-1]
    assert follow_up != "When was it finished?" and "tower" in follow_up.lower()  # the follow-up stands alone
