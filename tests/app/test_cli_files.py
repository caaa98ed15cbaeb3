"""`sift index` file statuses, `--no-ocr` / `--ocr-lang`, `sift info --files`, and the OCR settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_testkit import MIXED_STATUSES, write_mixed_folder
from pdf_testkit import write_image_pdf

from app.cli.main import main
from app.settings import Settings
from indexing.errors import ConfigError


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _statuses(files: list[dict], folder: Path) -> dict[str, str]:
    return {Path(f["path"]).relative_to(folder.resolve()).as_posix(): f["status"] for f in files}


EXPECTED = MIXED_STATUSES


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    write_mixed_folder(tmp_path / "docs")
    return tmp_path / "docs"


def test_index_json_and_info_files_show_every_status(tmp_path: Path, mixed: Path, capsys) -> None:
    idx = str(tmp_path / "idx")
    code, out, _ = _run(capsys, "index", str(mixed), "--index", idx, "--json")
    report = json.loads(out)
    assert code == 0 and _statuses(report["files"], mixed) == EXPECTED
    assert set(report["files"][0]) == {"path", "status", "reason", "documents", "chunks"}
    assert report["statuses"]["failed"] == len(EXPECTED) - 3 and report["counts"]["unsupported"] == 1

    code, out, _ = _run(capsys, "info", "--files", "--index", idx, "--json")
    listed = json.loads(out)
    assert code == 0 and listed["exists"] and listed["status"] is None
    assert _statuses(listed["files"], mixed) == EXPECTED
    assert [f["path"] for f in listed["files"]] == sorted(f["path"] for f in listed["files"])
    reasons = {Path(f["path"]).name: f["reason"] for f in listed["files"]}
    assert "not a regular file (a FIFO)" in reasons["pipe.txt"] and "symlink loop" in reasons["loop.md"]
    assert "broken symlink (points to nowhere.md" in reasons["broken.md"] and reasons["good.md"] == ""

    code, out, _ = _run(capsys, "info", "--status", "failed", "--index", idx, "--json")
    assert code == 0 and set(_statuses(json.loads(out)["files"], mixed).values()) == {"failed"}
    assert len(json.loads(out)["files"]) == len(EXPECTED) - 3


def test_index_prints_problem_files_and_the_summary(tmp_path: Path, mixed: Path, capsys) -> None:
    code, out, err = _run(capsys, "index", str(mixed), "--index", str(tmp_path / "idx"))
    skipped = len(EXPECTED) - 2
    assert code == 0
    assert out.startswith(f"added 1, updated 0, removed 0, unchanged 0, skipped {skipped}, unsupported 1 (")
    problem_lines = [line for line in err.splitlines() if line.split(" ")[0] in {"failed", "empty"}]
    assert len(problem_lines) == len(EXPECTED) - 2
    assert any("corrupt.pdf: not a readable PDF" in line for line in problem_lines)
    assert "unsupported: 1 file(s) of types no loader reads; `sift info --status unsupported --index" in err


def test_info_files_text_and_status_errors(tmp_path: Path, mixed: Path, capsys) -> None:
    idx = str(tmp_path / "idx")
    _run(capsys, "index", str(mixed), "--index", idx, "--json")
    code, out, _ = _run(capsys, "info", "--files", "--index", idx)
    lines = out.splitlines()
    assert code == 0 and any(line.startswith("unsupported") and line.endswith("archive.gz") for line in lines)
    assert any("not a readable PDF" in line for line in lines)
    code, out, _ = _run(capsys, "info", "--status", "encrypted", "--index", idx)
    assert code == 0 and out == "no files with status encrypted\n"
    with pytest.raises(SystemExit) as stop:
        main(["info", "--files", "--status", "unchanged", "--index", idx])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "invalid choice: 'unchanged'" in err and "failed" in err
    code, out, _ = _run(capsys, "info", "--files", "--index", str(tmp_path / "none"), "--json")
    assert code == 0 and json.loads(out) == {
        "index_dir": str(tmp_path / "none"), "exists": False, "status": None, "files": []
    }  # fmt: skip


def test_a_rerun_updates_info_files(tmp_path: Path, mixed: Path, capsys) -> None:
    idx = str(tmp_path / "idx")
    _run(capsys, "index", str(mixed), "--index", idx, "--json")
    (mixed / "empty.txt").write_text("Vicuñas are wild relatives of the llama.\n")
    (mixed / "corrupt.pdf").unlink()
    (mixed / "pipe.txt").unlink()
    code, out, _ = _run(capsys, "index", str(mixed), "--index", idx, "--json")
    assert code == 0 and json.loads(out)["counts"] == {
        "added": 1, "updated": 0, "removed": 0, "unchanged": 1, "skipped": len(EXPECTED) - 5, "unsupported": 1,
    }  # fmt: skip
    code, out, _ = _run(capsys, "info", "--files", "--index", idx, "--json")
    expected = {k: v for k, v in EXPECTED.items() if k not in {"corrupt.pdf", "pipe.txt"}} | {"empty.txt": "parsed"}
    assert _statuses(json.loads(out)["files"], mixed) == expected


def test_no_ocr_then_ocr_and_a_bad_language(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    write_image_pdf(folder / "scan.pdf", [["Alpacas graze on the high plains"]])
    idx = str(tmp_path / "idx")
    code, out, _ = _run(capsys, "index", str(folder), "--index", idx, "--no-ocr", "--json")
    (entry,) = json.loads(out)["files"]
    assert code == 0 and entry["status"] == "empty" and "OCR is off" in entry["reason"]
    code, out, _ = _run(capsys, "index", str(folder), "--index", idx, "--ocr-lang", "eng", "--json")
    (entry,) = json.loads(out)["files"]
    assert code == 0 and entry["status"] == "ocr" and entry["documents"] == 1, "an empty file is tried again"
    code, out, _ = _run(capsys, "info", "--status", "ocr", "--index", idx, "--json")
    assert [Path(f["path"]).name for f in json.loads(out)["files"]] == ["scan.pdf"]
    code, _, err = _run(capsys, "index", str(folder), "--index", idx, "--ocr-lang", "english please")
    assert code == 1 and "OCR language 'english please'" in err


def test_sift_ocr_env_turns_ocr_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    write_image_pdf(folder / "scan.pdf", [["Alpacas graze on the high plains"]])
    monkeypatch.setenv("SIFT_OCR", "no")
    code, out, _ = _run(capsys, "index", str(folder), "--index", str(tmp_path / "idx"), "--json")
    assert code == 0 and json.loads(out)["files"][0]["status"] == "empty"
    code, out, _ = _run(capsys, "index", str(folder), "--index", str(tmp_path / "idx"), "--ocr", "--json")
    assert code == 0 and json.loads(out)["files"][0]["status"] == "ocr", "--ocr wins over SIFT_OCR"


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", False), ("false", False), ("No", False), ("off", False), ("1", True), ("yes", True)]
)
def test_ocr_settings_from_the_environment(raw: str, expected: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_OCR", raw)
    monkeypatch.setenv("SIFT_OCR_LANG", "eng+deu")
    settings = Settings.load()
    assert settings.ocr is expected and settings.ocr_lang == "eng+deu"


def test_ocr_settings_from_toml_and_bad_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().ocr, Settings().ocr_lang) == (True, "eng")
    toml = tmp_path / "sift.toml"
    toml.write_text('ocr = false\nocr_lang = "deu"\n')
    assert (Settings.load(toml).ocr, Settings.load(toml).ocr_lang) == (False, "deu")
    monkeypatch.setenv("SIFT_OCR", "maybe")
    with pytest.raises(ConfigError, match=r"SIFT_OCR must be a yes/no word, 1/0, true/false, .*got 'maybe'"):
        Settings.load()


def test_workspace_file_statuses_verb(tmp_path: Path, mixed: Path) -> None:
    from app.workspace import Workspace

    ws = Workspace(tmp_path / "idx")
    assert ws.file_statuses() == []
    with pytest.raises(ConfigError, match="file status 'unchanged' is not known"):
        ws.file_statuses("unchanged")
    ws.index([mixed], ocr=False, ocr_lang="eng")
    assert {Path(s.path).name: s.status for s in ws.file_statuses()} == EXPECTED
    assert [Path(s.path).name for s in ws.file_statuses("unsupported")] == ["archive.gz"]
    assert all(s.updated_at > 0 and s.problem == (s.status != "parsed") for s in ws.file_statuses())
