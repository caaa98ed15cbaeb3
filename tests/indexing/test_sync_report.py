"""The ingestion report: every file's status in the sync report and in the index, across re-runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from pdf_testkit import write_image_pdf
from pypdf import PdfWriter

from indexing.chunker import ChunkerConfig
from indexing.errors import ConfigError
from indexing.loaders import iter_files
from indexing.loaders.files import scan_files
from indexing.report import FileEntry, SyncReport
from indexing.store import Store
from indexing.store.records import FILE_STATUSES, FileStatus
from indexing.sync import Syncer

ROOT = os.geteuid() == 0  # root reads a chmod-000 file, so the permission case needs another user

EXPECTED = {
    "good.md": "parsed",
    "scan.pdf": "ocr",
    "empty.txt": "empty",
    "locked.pdf": "encrypted",
    "corrupt.pdf": "failed",
    "archive.gz": "unsupported",
    "pipe.txt": "failed",
    "broken.md": "failed",
    "loop.md": "failed",
    "sub/up": "failed",
} | ({} if ROOT else {"secret.txt": "failed"})
REASONS = {
    "corrupt.pdf": "not a readable PDF",
    "archive.gz": "unsupported file type '.gz'",
    "pipe.txt": "not a regular file (a FIFO)",
    "broken.md": "broken symlink (points to nowhere.md",
    "loop.md": "symlink loop",
    "sub/up": "symlink loop (leads back to the folder",
    "secret.txt": "cannot be read (Permission denied)",
    "locked.pdf": "encrypted PDF",
    "empty.txt": "empty",
    "scan.pdf": "text recognized by OCR (tesseract, 1 page)",
}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A folder with one file of every fate, plus hidden entries that must not be reported."""
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / ".git" / "config.txt").write_text("hidden folder\n")
    (folder / ".hidden.md").write_text("# Hidden\n\nnot listed\n")
    (folder / "good.md").write_text("# Llamas\n\nLlamas are domesticated South American camelids.\n")
    write_image_pdf(folder / "scan.pdf", [["Alpacas graze on the high plains"]])
    (folder / "empty.txt").write_bytes(b"")
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt(user_password="secret")
    writer.write(folder / "locked.pdf")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a PDF")
    (folder / "archive.gz").write_bytes(b"\x1f\x8b\x08\x00 not text")
    os.mkfifo(folder / "pipe.txt")
    (folder / "broken.md").symlink_to("nowhere.md")
    (folder / "loop.md").symlink_to(folder / "loop.md")
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    if not ROOT:
        (folder / "secret.txt").write_text("nobody may read this\n")
        (folder / "secret.txt").chmod(0)
    return folder


def _sync(index: Path, embedder, paths: list[Path], **kw) -> SyncReport:
    return Syncer(index, embedder, ChunkerConfig(64, 8)).sync(paths, **kw)


def _by_name(entries: list[FileEntry] | list[FileStatus], folder: Path) -> dict[str, FileEntry | FileStatus]:
    return {Path(e.path).relative_to(folder.resolve()).as_posix(): e for e in entries}


def test_every_file_of_a_mixed_folder_has_its_status(tmp_path: Path, embedder, mixed: Path) -> None:
    report = _sync(tmp_path / "idx", embedder, [mixed])
    entries = _by_name(report.files, mixed)
    assert {name: e.status for name, e in entries.items()} == EXPECTED
    for name, fragment in REASONS.items():
        if name in entries:
            assert fragment in entries[name].reason and name.split("/")[-1] in entries[name].reason, name
    assert entries["good.md"].reason == ""
    assert (entries["good.md"].documents, entries["scan.pdf"].documents, entries["corrupt.pdf"].documents) == (1, 1, 0)
    assert entries["good.md"].chunks == 1 and entries["scan.pdf"].chunks == 1 and entries["empty.txt"].chunks == 0
    counts = report.status_counts()
    assert list(counts) == list(FILE_STATUSES) and sum(counts.values()) == len(EXPECTED) == report.files_seen
    assert counts["parsed"] == 1 and counts["ocr"] == 1 and counts["unsupported"] == 1
    skipped = len(EXPECTED) - 3
    assert f", skipped {skipped}, unsupported 1 ({len(EXPECTED)} files," in report.summary()
    assert [Path(p).name for p, _ in report.unsupported] == ["archive.gz"]
    data = report.to_dict()
    assert data["statuses"] == counts and data["counts"]["unsupported"] == 1 and data["counts"]["skipped"] == skipped
    assert {Path(f["path"]).name: f["status"] for f in data["files"]}["scan.pdf"] == "ocr"


def test_statuses_are_stored_with_the_index_and_filtered(tmp_path: Path, embedder, mixed: Path) -> None:
    index = tmp_path / "idx"
    report = _sync(index, embedder, [mixed])
    store = Store.open(index)
    stored = store.file_statuses()
    assert [(s.path, s.status, s.reason, s.documents) for s in stored] == sorted(
        (e.path, e.status, e.reason, e.documents) for e in report.files
    )
    failed = store.file_statuses("failed")
    assert {Path(s.path).name for s in failed} == {n.split("/")[-1] for n, s in EXPECTED.items() if s == "failed"}
    assert [s.path for s in store.file_statuses("encrypted")] == [str(mixed.resolve() / "locked.pdf")]
    with pytest.raises(ConfigError, match=r"'broken' is not known: use one of parsed, ocr, empty"):
        store.file_statuses("broken")


def test_a_rerun_keeps_unchanged_statuses_fixes_and_forgets(tmp_path: Path, embedder, mixed: Path) -> None:
    index = tmp_path / "idx"
    _sync(index, embedder, [mixed])
    store = Store.open(index)
    before = {s.path: s for s in store.file_statuses()}
    generation = store.generation

    again = _sync(index, embedder, [mixed])
    assert {n: e.status for n, e in _by_name(again.files, mixed).items()} == EXPECTED
    assert again.chunks_embedded == 0 and not again.changed, "the scanned PDF is not read (nor OCR'd) again"
    assert {s.path: s for s in store.file_statuses()} == before, "nothing changed: no status rewritten"
    store.refresh()
    assert store.generation == generation

    (mixed / "empty.txt").write_text("Vicuñas are wild relatives of the llama.\n")
    (mixed / "corrupt.pdf").unlink()
    (mixed / "good.md").unlink()
    third = _by_name(_sync(index, embedder, [mixed]).files, mixed)
    assert third["empty.txt"].status == "parsed" and third["empty.txt"].chunks == 1
    assert "corrupt.pdf" not in third and "good.md" not in third
    now = _by_name(store.file_statuses(), mixed)
    assert now["empty.txt"].status == "parsed" and now["empty.txt"].reason == "" and now["empty.txt"].documents == 1
    assert "corrupt.pdf" not in now and "good.md" not in now, "a deleted file's status goes with it"
    assert now["scan.pdf"] == before[str(mixed.resolve() / "scan.pdf")], "unchanged: same status, same time"
    assert now["archive.gz"] == before[str(mixed.resolve() / "archive.gz")]


def test_a_file_turned_unreadable_keeps_its_documents_and_says_so(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    (corpus_dir / "paris.txt").write_bytes(b"\x00\x01binary now")
    report = _sync(index, embedder, [corpus_dir])
    entry = _by_name(report.files, corpus_dir)["paris.txt"]
    assert (entry.status, entry.documents) == ("failed", 1) and "binary file" in entry.reason
    stored = _by_name(Store.open(index).file_statuses(), corpus_dir)["paris.txt"]
    assert (stored.status, stored.documents) == ("failed", 1)


def test_a_dry_run_writes_no_status(tmp_path: Path, embedder, mixed: Path) -> None:
    index = tmp_path / "idx"
    report = _sync(index, embedder, [mixed], dry_run=True)
    assert {n: e.status for n, e in _by_name(report.files, mixed).items()} == EXPECTED
    assert not Store.exists(index), "a dry run creates no index, even to record statuses"
    _sync(index, embedder, [mixed])
    before = Store.open(index).file_statuses()
    (mixed / "empty.txt").write_text("Guanacos live in the Andes.\n")
    (mixed / "corrupt.pdf").unlink()
    dry = _by_name(_sync(index, embedder, [mixed], dry_run=True).files, mixed)
    assert dry["empty.txt"].status == "parsed" and "corrupt.pdf" not in dry
    assert Store.open(index).file_statuses() == before


def test_a_folder_of_only_unreadable_files_still_records_them(tmp_path: Path, embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.gz").write_bytes(b"\x1f\x8b")
    (folder / "blank.md").write_text("  \n")
    report = _sync(tmp_path / "idx", embedder, [folder])
    assert not report.changed and report.chunks_embedded == 0
    stored = {Path(s.path).name: s.status for s in Store.open(tmp_path / "idx").file_statuses()}
    assert stored == {"notes.gz": "unsupported", "blank.md": "empty"}


def test_an_interrupted_write_records_no_status_for_its_files(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    """A file's status lands in its documents' transaction: a write stopped before it leaves neither."""
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    (corpus_dir / "new.md").write_text("# Volcanoes\n\nVolcanoes erupt lava and ash.\n")
    (corpus_dir / "skip.gz").write_bytes(b"\x1f\x8b")

    def stop(stage: str, done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Syncer(index, embedder, ChunkerConfig(64, 8)).sync([corpus_dir], progress=stop)
    store = Store.open(index)
    stored = {Path(s.path).name: s.status for s in store.file_statuses()}
    assert "new.md" not in stored and not any(d.title == "Volcanoes" for d in store.documents())
    assert stored["skip.gz"] == "unsupported", "statuses with nothing to embed were written before the groups"
    _sync(index, embedder, [corpus_dir])
    assert {Path(s.path).name: s.status for s in store.file_statuses()}["new.md"] == "parsed"


def test_an_index_without_the_status_table_opens_and_fills_it(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    with sqlite3.connect(index / "meta.sqlite") as conn:
        conn.execute("DROP TABLE file_status")
    store = Store.open(index)
    assert store.file_statuses() == []
    report = _sync(index, embedder, [corpus_dir])
    assert len(report.unchanged) == 4 and report.chunks_embedded == 0
    assert [(Path(s.path).name, s.status, s.documents) for s in store.file_statuses()] == [
        ("bread.txt", "parsed", 1), ("cats.md", "parsed", 1), ("paris.txt", "parsed", 1), ("python.md", "parsed", 1),
    ]  # fmt: skip


def test_ocr_off_leaves_a_scan_empty_and_a_bad_language_is_refused(tmp_path: Path, embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_image_pdf(folder / "scan.pdf", [["Alpacas graze on the high plains"]])
    report = Syncer(tmp_path / "idx", embedder, ChunkerConfig(64, 8), ocr=False).sync([folder])
    (entry,) = report.files
    assert entry.status == "empty" and "OCR is off" in entry.reason
    with pytest.raises(ConfigError, match="OCR language 'english please'"):
        Syncer(tmp_path / "idx", embedder, ocr_lang="english please")


def test_scan_files_reports_what_iter_files_passes_over(mixed: Path) -> None:
    found = {f.path.relative_to(mixed).as_posix(): f for f in scan_files([mixed])}
    assert set(found) == set(EXPECTED)
    assert not found["archive.gz"].supported and found["archive.gz"].problem is None
    # a corrupt PDF or an unreadable file is found on reading, not on listing
    assert {n for n, f in found.items() if f.problem} == {"pipe.txt", "broken.md", "loop.md", "sub/up"}
    listed = {p.relative_to(mixed).as_posix() for p in iter_files([mixed])}
    assert listed == {n for n in EXPECTED if n.endswith((".md", ".pdf", ".txt")) and not found[n].problem}
    (explicit,) = scan_files([mixed / "pipe.txt"])
    assert explicit.explicit and "not a regular file (a FIFO)" in (explicit.problem or "")


def test_a_folder_reached_twice_is_listed_once_without_a_loop(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.md").write_text("x\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "alias").symlink_to(tmp_path / "a", target_is_directory=True)
    assert [(f.path.relative_to(tmp_path).as_posix(), f.problem) for f in scan_files([tmp_path])] == [("a/x.md", None)]


def test_file_status_names_are_checked() -> None:
    with pytest.raises(ConfigError, match="use one of parsed, ocr, empty, encrypted, unsupported, failed"):
        FileStatus("/a", "unchanged", "", 0, 0.0)  # type: ignore[arg-type]
    assert FileEntry("/a.gz", "unsupported").problem and not FileEntry("/a.md", "ocr").problem
