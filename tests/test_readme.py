"""The README's Python examples run as written, in order, in one fresh directory, and show what the README says:
an index of the folder the example makes, its search, and one conversation through the one Ask verb."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_readme_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    blocks = _python_blocks()
    assert len(blocks) == 2, "the README shows index/search, then ask"
    assert "ws.converse(thread," in blocks[1] and "ws.ask(" in blocks[1], "the Ask example shows the one Ask verb"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    outputs = []
    for number, block in enumerate(blocks):
        exec(compile(block, f"README.md python example {number}", "exec"), namespace)  # noqa: S102
        outputs.append(capsys.readouterr().out)
        assert outputs[-1].strip(), f"example {number} prints its results"
    index_lines = outputs[0].splitlines()
    assert index_lines[0].startswith("added 2,") and "Eiffel Tower" in index_lines[1]
    streamed, follow_up, last = outputs[1].rstrip("\n").rsplit("\n", 2)
    thread = namespace["thread"]
    assert len(thread) == 2 and streamed == thread[0].answer, "the streamed pieces add up to the answer"
    assert follow_up == thread[1].query != "What is it made of?" and "Eiffel Tower" in follow_up, "stands alone"
    assert last.split(" ", 1)[0] in ("True", "False")
