"""AppTest: the Library page — stats, folder sync, uploads, skipped files, file statuses and removal on real indexes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from ingest_testkit import write_mixed_folder
from streamlit.testing.v1 import AppTest
from ui_testkit import build_index, page_app, write_corpus

from app.workspace import Workspace


def library(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    return page_app("app.ui.library_page").run()


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at: AppTest, *columns: str) -> pd.DataFrame:
    """The one dataframe on the page with exactly these columns."""
    (found,) = [d.value for d in at.dataframe if list(d.value.columns) == list(columns)]
    return found


def test_an_empty_library_says_how_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = library(tmp_path / "index", monkeypatch)
    assert not at.exception
    assert "No index at" in at.info[0].value
    assert metrics(at) == {}


def test_existing_index_shows_counts_manifest_and_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = library(build_index(tmp_path), monkeypatch)
    assert metrics(at) == {"Documents": "6", "Chunks": "6", "Files": "4", "Generation": "1"}
    leads = Workspace(tmp_path / "index").info()["lead_vectors"]
    assert leads > 0 and any(f"{leads} lead vectors" in c.value for c in at.caption)
    assert at.json[0].value and "all-MiniLM-L6-v2" in at.json[0].value
    documents = table(at, "title", "chunks", "meta", "source")
    assert sorted(documents["title"]) == ["Baguette", "Cats", "Penguins", "Sourdough", "Unsafe <b>title", "paris"]
    files = table(at, "status", "path", "reason", "documents")
    assert files["status"].tolist() == ["parsed"] * 4 and files["documents"].sum() == 6


def test_folder_sync_reports_counts_and_skipped_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_corpus(tmp_path / "docs")
    (folder / "broken.pdf").write_bytes(b"this is not a PDF")
    at = library(tmp_path / "index", monkeypatch)
    at.text_input(key="folder_path").input(str(folder))
    at = click(at, "Sync")
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("added 6, updated 0, removed 0, unchanged 0, skipped 1, unsupported 0")
    assert metrics(at)["Documents"] == "6"
    assert at.dataframe[0].value.iloc[0].to_dict() == {
        "added": 6,
        "updated": 0,
        "removed": 0,
        "unchanged": 0,
        "skipped": 1,
        "unsupported": 0,
    }
    skipped = at.dataframe[1].value
    assert skipped["path"].str.endswith("broken.pdf").tolist() == [True] and skipped["status"].tolist() == ["failed"]
    assert "1 file(s) not read" in at.warning[0].value


def test_dry_run_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_corpus(tmp_path / "docs")
    at = library(tmp_path / "index", monkeypatch)
    at.text_input(key="folder_path").input(str(folder))
    at.checkbox(key="folder_dry_run").check()
    at = click(at, "Sync")
    assert at.info[-1].value.startswith("would add 6")
    assert not Workspace(tmp_path / "index").exists()


def test_a_missing_folder_is_an_error_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = library(tmp_path / "index", monkeypatch)
    at.text_input(key="folder_path").input(str(tmp_path / "no-such-folder"))
    at = click(at, "Sync")
    assert not at.exception
    assert "does not exist" in at.error[0].value


def test_uploads_are_saved_indexed_and_bad_ones_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Streamlit itself refuses extensions outside the uploader's list; the page also checks names and sizes.
    at = library(tmp_path / "index", monkeypatch)
    uploads = tmp_path / "my-uploads"
    at.text_input(key="upload_dir").input(str(uploads))
    at.file_uploader(key="upload_files").set_value(
        [
            ("llamas.md", b"# Llamas\n\nLlamas are domesticated South American camelids.\n", "text/markdown"),
            (".hidden.md", b"# Hidden\n\nNot a plain file name.\n", "text/markdown"),
            ("empty.txt", b"", "text/plain"),
        ]
    )
    at = click(at, "Add and index")
    assert not at.exception
    assert at.success[0].value.startswith("added 1,")
    errors = [e.value for e in at.error]
    assert any("'.hidden.md': not a plain file name" in e for e in errors)
    assert any("empty.txt: the file is empty" in e for e in errors)
    assert sorted(p.name for p in uploads.iterdir()) == ["llamas.md"]
    assert Workspace(tmp_path / "index").search("camelids", k=1)[0].title == "Llamas"


def test_an_upload_of_a_taken_name_is_kept_refused_or_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = tmp_path / "my-uploads"
    saved = uploads.resolve() / "llamas.md"
    first = b"# Llamas\n\nLlamas are domesticated South American camelids.\n"
    other = b"# Llamas\n\nLlamas hum to one another and spit when annoyed.\n"
    at = library(tmp_path / "index", monkeypatch)

    def add(data: bytes, replace: bool = False) -> AppTest:
        at.text_input(key="upload_dir").input(str(uploads))  # the form clears its fields on each submit
        at.file_uploader(key="upload_files").set_value([("llamas.md", data, "text/markdown")])
        if replace:
            at.checkbox(key="upload_replace").check()
        return click(at, "Add and index")

    at = add(first)
    assert at.success[0].value.startswith("added 1,") and saved.read_bytes() == first
    inode = saved.stat().st_ino
    at = add(first)
    assert not at.exception and not at.error
    kept = f"llamas.md is already in {uploads.resolve()} with the same bytes: nothing was written"
    assert [i.value for i in at.info] == [kept] and saved.stat().st_ino == inode
    assert at.success[0].value.startswith("added 0, updated 0, removed 0, unchanged 1,")
    at = add(other)
    assert [e.value for e in at.error] == [
        f"Not added: llamas.md is already in {uploads.resolve()} with other content: rename your file, or tick "
        "'Replace files with the same name'"
    ]
    assert saved.read_bytes() == first
    at = add(other, replace=True)
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("added 0, updated 1,") and saved.read_bytes() == other
    assert sorted(p.name for p in uploads.iterdir()) == ["llamas.md"]
    assert "spit" in Workspace(tmp_path / "index").search("llamas spit", k=1)[0].text


def test_removing_a_file_drops_its_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = build_index(tmp_path)
    at = library(index, monkeypatch)
    jsonl = next(f for f in at.multiselect(key="remove").options if f.endswith("notes.jsonl"))
    at.multiselect(key="remove").select(jsonl)
    at = click(at, "Remove")
    assert at.success[0].value == "Removed 3 document(s) from 1 file(s)."
    assert metrics(at)["Documents"] == "3"
    assert jsonl not in at.multiselect(key="remove").options


def test_files_table_shows_every_status_and_filters_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = write_mixed_folder(tmp_path / "docs")
    Workspace(tmp_path / "index").index([tmp_path / "docs"])
    at = library(tmp_path / "index", monkeypatch)
    assert not at.exception and not at.error
    files = table(at, "status", "path", "reason", "documents")
    assert dict(zip(files["path"].map(lambda p: Path(p).name), files["status"], strict=True)) == expected
    reasons = dict(zip(files["path"].map(lambda p: Path(p).name), files["reason"], strict=True))
    assert "not a regular file (a FIFO)" in reasons["pipe.txt"] and "symlink loop" in reasons["loop.md"]
    assert "broken symlink" in reasons["broken.md"] and reasons["good.md"] == ""
    failed = sum(s == "failed" for s in expected.values())
    assert any(c.value == f"1 parsed · 1 empty · 1 unsupported · {failed} failed" for c in at.caption)
    at.checkbox(key="files_problems_only").check()
    at = at.run()
    problems = table(at, "status", "path", "reason", "documents")
    assert sorted(problems["path"].map(lambda p: Path(p).name)) == sorted(n for n in expected if n != "good.md")


def test_only_problem_files_when_there_are_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = library(build_index(tmp_path), monkeypatch)
    at.checkbox(key="files_problems_only").check()
    at = at.run()
    assert not at.exception and "Every file was read." in [s.value for s in at.success]
    assert not [d for d in at.dataframe if list(d.value.columns) == ["status", "path", "reason", "documents"]]
