"""The Debian manuals question set: its file, and the folder its questions are about."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexing.errors import DatasetError
from indexing.loaders import load_file
from pipelines import debian_manuals
from pipelines.debian_manuals import MAN1, SOURCES, Source, build_folder, render_man
from pipelines.rag.datasets import load_jsonl

SET = Path(__file__).resolve().parents[2] / "data" / "eval" / "debian_manuals.jsonl"
GOLD = [s for s in SOURCES if s.gold]


def test_the_set_has_30_questions_over_three_formats_and_6_to_refuse() -> None:
    items = load_jsonl(SET)
    answerable = [i for i in items if i.answerable]
    assert len(items) >= 30 and len(items) - len(answerable) >= 6
    titles = {t for i in answerable for t in i.gold_titles}
    assert titles == {"bzip2-manual", "The Ninja build system", "xargs"}
    assert {Path(s.name).suffix for s in GOLD} == {".pdf", ".html", ".txt"}


@pytest.mark.skipif(not all(s.path.is_file() for s in GOLD) or not shutil.which("groff"),
                    reason="needs bzip2-doc, ninja-build, findutils and groff installed")
def test_every_answer_is_in_its_document_as_sift_reads_it(tmp_path: Path) -> None:
    written = build_folder(tmp_path)
    assert {s.name for s in GOLD} <= {s.name for s in written}
    text = {}
    for source in GOLD:
        documents = load_file(tmp_path / source.name)
        text[documents[0].title] = " ".join(d.text for d in documents).casefold()
    for item in load_jsonl(SET):
        for title in item.gold_titles:
            assert any(a.casefold() in text[title] for a in item.answers), item.question


@pytest.mark.skipif(not shutil.which("groff") or not (MAN1 / "xargs.1.gz").is_file(), reason="needs groff and xargs(1)")
def test_a_manual_page_is_rendered_as_man_shows_it() -> None:
    text = render_man(MAN1 / "xargs.1.gz")
    assert "build and execute command lines from standard input" in text
    assert "\b" not in text and ".TH" not in text


def test_a_missing_answer_document_names_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = Source("gone.pdf", tmp_path / "no-such-manual.pdf.gz", "no-such-doc", gold=True)
    monkeypatch.setattr(debian_manuals, "SOURCES", (missing,))
    with pytest.raises(DatasetError, match=r"apt-get install no-such-doc"):
        build_folder(tmp_path / "out")
    assert not (tmp_path / "out").exists()
