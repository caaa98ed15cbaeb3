"""Writes that cannot finish lose nothing: disk full, a read-only index folder, files changing while indexed."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.workspace import Workspace  # noqa: E402
from bench.fault_harness import read_state, write_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _sift(*args: str, preexec=None, user: str | None = None) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    command = [sys.executable, "-m", "app", *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": "/tmp"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, preexec_fn=preexec,
                          timeout=600)


@pytest.fixture()
def base(tmp_path: Path) -> tuple[Path, Path]:
    """An index of corpus version A, and version B (changed, added and deleted files) beside it."""
    index = tmp_path / "idx"
    Workspace(index).index([write_corpus(tmp_path / "A", "A")])
    return index, write_corpus(tmp_path / "B", "B")


def _healthy_and_unchanged(index: Path, before) -> None:  # noqa: ANN001
    assert Workspace(index).doctor().healthy
    assert read_state(index).differences(before) == []
    assert Workspace(index).search("river harbour", k=3, mode="bm25")


@pytest.mark.slow
def test_disk_full_fails_clearly_and_changes_nothing(base) -> None:  # noqa: ANN001
    index, corpus_b = base
    before = read_state(index)
    limit = 16 * 1024  # any file this process writes stops growing at 16 KiB, as on a full disk

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    ended = _sift("index", str(corpus_b), "--index", str(index), preexec=small_disk)
    assert ended.returncode == 1, ended.stderr
    assert "nothing stored was changed" in ended.stderr and "Traceback" not in ended.stderr
    _healthy_and_unchanged(index, before)
    Workspace(index).index([corpus_b])  # with room again, the same sync goes through
    assert read_state(index).documents != before.documents


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("setpriv") is None and os.geteuid() == 0, reason="needs setpriv to drop root")
def test_read_only_index_folder_fails_clearly_and_changes_nothing(base) -> None:  # noqa: ANN001
    index, corpus_b = base
    before = read_state(index)
    for path in [index, *index.iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    corpus_b.parent.chmod(0o755)
    try:
        ended = _sift("index", str(corpus_b), "--index", str(index), user="65534" if os.geteuid() == 0 else None)
    finally:
        for path in [index, *index.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert ended.returncode == 1, ended.stderr
    assert "Traceback" not in ended.stderr and ("permission" in ended.stderr.lower() or "read" in ended.stderr)
    _healthy_and_unchanged(index, before)


@pytest.mark.slow
def test_files_changing_or_vanishing_while_indexed_converge_on_the_next_sync(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "live", "B")
    edited, vanished = corpus / "note05.md", corpus / "note07.md"
    index = tmp_path / "idx"
    seen: list[str] = []

    def meddle(stage: str, done: int, total: int) -> None:  # runs while the sync embeds what it read
        if not seen:
            edited.write_text("# Note 5\n\nRewritten while the indexer was embedding it.\n", encoding="utf-8")
            vanished.unlink()
        seen.append(stage)

    Workspace(index).index([corpus], progress=meddle)
    assert seen
    Workspace(index).index([corpus])  # the next sync sees the edit and the deletion
    reference = tmp_path / "reference"
    Workspace(reference).index([corpus])
    assert read_state(index).differences(read_state(reference)) == []
    assert not any("note07" in d for d in read_state(index).documents)
