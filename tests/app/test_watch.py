"""`sift watch`: real file events in tmp folders drive the index to an exact mirror of them."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from watchfiles import Change

from app.watch import Watcher
from app.watch_plan import COALESCE_FILES, WatchBatch, indexed_under, merge_reports, plan_changes, visible
from app.workspace import Workspace
from indexing.errors import ConfigError, SiftError
from indexing.report import SyncReport
from indexing.store.schema import DB_NAME
from indexing.sync import file_hash
from tests.conftest import CORPUS

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0


def _wait(predicate: Callable[[], bool], what: str, state: Callable[[], object]) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` and the last ``state`` after the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"after {DEADLINE_S:.0f} s still waiting for {what}; state: {state()!r}")


def _wait_files(ws: Workspace, expected: set[Path], what: str) -> None:
    keys = {str(p.resolve()) for p in expected}
    _wait(lambda: set(ws.files()) == keys, what, lambda: sorted(ws.files()))
    assert set(ws.files()) == keys


def _added(batches: list[WatchBatch]) -> int:
    return sum(len(b.report.added) for b in batches if b.report is not None)


def _key(path: Path) -> str:
    return str(path.resolve())


@pytest.fixture()
def started() -> list[Watcher]:
    """Watchers a test started; all are stopped at teardown, even when the test fails."""
    watchers: list[Watcher] = []
    yield watchers
    for w in watchers:
        w.stop()


def _start(ws: Workspace, roots: list[Path], started: list[Watcher], batches: list[WatchBatch]) -> Watcher:
    watcher = Watcher(ws, roots, debounce_ms=200, on_sync=batches.append)
    started.append(watcher)
    watcher.start()
    assert watcher.ready.wait(DEADLINE_S), "the start sync did not finish"
    return watcher


# ---- fast: the planning rules ---------------------------------------------------------------
@pytest.mark.parametrize(
    "path,expected",
    [
        ("/docs", True),
        ("/docs/a.md", True),
        ("/docs/sub/deep/b.txt", True),
        ("/docs/.git/config.md", False),
        ("/docs/sub/.hidden.md", False),
        ("/docs/.#a.md", False),
        ("/docsx/a.md", False),
        ("/elsewhere/a.md", False),
    ],
)
def test_visible_is_under_a_root_and_not_hidden(path: str, expected: bool) -> None:
    assert visible(path, ["/docs"]) is expected


def test_plan_sorts_events_into_syncs_and_checks(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nalpha")
    (tmp_path / "moved_in").mkdir()
    (tmp_path / "moved_in" / "b.md").write_text("# B\n\nbeta")
    (tmp_path / "touched").mkdir()
    (tmp_path / "archive.zip").write_bytes(b"PK\x03\x04")
    root = str(tmp_path)
    changes = {
        (Change.added, f"{root}/a.md"),
        (Change.modified, f"{root}/a.md"),
        (Change.added, f"{root}/moved_in"),
        (Change.added, f"{root}/moved_in/b.md"),  # inside a folder that is synced whole: dropped
        (Change.modified, f"{root}/touched"),  # a folder merely modified: its files have their own events
        (Change.deleted, f"{root}/gone"),
        (Change.added, f"{root}/archive.zip"),  # exists but unsupported: may have replaced an indexed folder
    }
    plan = plan_changes(changes, [root])
    assert plan.index == [tmp_path / "a.md", tmp_path / "moved_in"]
    assert plan.check == [f"{root}/archive.zip", f"{root}/gone"]


@pytest.mark.parametrize("count,folder_synced", [(COALESCE_FILES - 1, False), (COALESCE_FILES, True)])
def test_plan_syncs_a_folder_with_many_changed_files_as_the_folder(
    tmp_path: Path, count: int, folder_synced: bool
) -> None:
    burst = tmp_path / "burst"
    burst.mkdir()
    files = [burst / f"n{i:03d}.txt" for i in range(count)]
    for i, f in enumerate(files):
        f.write_text(f"note {i}")
    plan = plan_changes({(Change.added, str(f)) for f in files}, [str(tmp_path)])
    assert plan.index == ([burst] if folder_synced else files)
    assert plan.check == []


names = st.lists(st.sampled_from(["a", "a.md", "b", "ab", "a b"]), min_size=1, max_size=4)


@given(st.lists(names, max_size=30), st.lists(names, min_size=1, max_size=5))
def test_indexed_under_matches_a_brute_force_scan(indexed: list[list[str]], asked: list[list[str]]) -> None:
    files = sorted({"/" + "/".join(parts) for parts in indexed})
    paths = ["/" + "/".join(parts) for parts in asked]
    brute = sorted({f for f in files for p in paths if f == p or f.startswith(p + "/")})
    assert indexed_under(files, paths) == brute


def test_merge_reports_joins_lists_and_sums_numbers() -> None:
    one = SyncReport(added=["/d/a.md"], removed=["/d/x.md"], files_seen=2, chunks_embedded=3, seconds=0.5)
    two = SyncReport(added=["/d/b.md"], unchanged=["/d/c.md"], files_seen=1, chunks_embedded=1, seconds=0.25)
    merged = merge_reports([one, two])
    assert merged is not None
    assert (merged.added, merged.removed, merged.unchanged) == (["/d/a.md", "/d/b.md"], ["/d/x.md"], ["/d/c.md"])
    assert (merged.files_seen, merged.chunks_embedded, merged.seconds, merged.dry_run) == (3, 4, 0.75, False)
    assert merge_reports([]) is None


def test_watch_batch_reads_as_one_line_and_as_json() -> None:
    batch = WatchBatch(changes=2, report=None, removed=3, errors=["/d/x.md: cannot be read"])
    assert batch.summary() == "2 changes: removed 3 documents of deleted paths; error: /d/x.md: cannot be read"
    assert batch.changed
    assert batch.to_dict() == {
        "changes": 2, "initial": False, "removed": 3, "errors": ["/d/x.md: cannot be read"], "report": None,
    }
    assert not WatchBatch(changes=1, report=SyncReport(unchanged=["/d/a.md"])).changed


def test_watcher_refuses_bad_setups(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    with pytest.raises(SiftError, match="does not exist"):
        Watcher(Workspace(tmp_path / "idx"), [tmp_path / "missing"])
    with pytest.raises(ConfigError, match="inside watched folder"):
        Watcher(Workspace(docs / "idx"), [docs])
    with pytest.raises(ConfigError, match="not positive"):
        Watcher(Workspace(tmp_path / "idx"), [docs], debounce_ms=0)
    hidden = Watcher(Workspace(docs / ".sift-index"), [docs, docs / "sub"])  # a hidden index is never indexed
    assert hidden.roots == [docs.resolve()]


def test_a_batch_that_touches_nothing_indexed_changes_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    watcher = Watcher(Workspace(tmp_path / "idx"), [docs])
    assert watcher.apply({(Change.deleted, str(docs / "never-indexed.md"))}) is None
    assert not (tmp_path / "idx").exists()


def _broken_index(tmp_path: Path) -> tuple[Workspace, Path]:
    """A Workspace whose database is not one: every sync of a watcher on it fails, without loading a model."""
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / DB_NAME).write_bytes(b"not a database")
    return Workspace(tmp_path / "idx"), tmp_path / "idx" / DB_NAME


def test_a_failing_watcher_restarts_a_bounded_number_of_times_and_says_why(
    tmp_path: Path, started: list[Watcher], caplog: pytest.LogCaptureFixture
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    ws, _ = _broken_index(tmp_path)
    watcher = Watcher(ws, [docs], debounce_ms=50, max_restarts=2, restart_delay_s=0.2)
    started.append(watcher)
    thread = watcher.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), "the watcher went on restarting"
    assert watcher.health() == {"running": False, "restarts": 2, "failure": "DatabaseError: file is not a database"}
    assert not watcher.ready.is_set()
    logged = [r.getMessage() for r in caplog.records if r.name == "app.watch"]
    assert [m.split("; ")[1] for m in logged] == [  # each wait twice the one before
        "restarting in 0.2 s (restart 1 of 2)",
        "restarting in 0.4 s (restart 2 of 2)",
        f"the index no longer follows {docs}",
    ]
    with pytest.raises(ConfigError, match="max_restarts -1"):
        Watcher(ws, [docs], max_restarts=-1)


@pytest.mark.slow
def test_a_restarted_watcher_recovers_once_the_cause_is_gone(tmp_path: Path, started: list[Watcher]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cats.md").write_text(CORPUS["cats.md"])
    ws, broken = _broken_index(tmp_path)
    watcher = Watcher(ws, [docs], debounce_ms=50, max_restarts=10, restart_delay_s=0.2)
    started.append(watcher)
    watcher.start()
    _wait(lambda: watcher.failure is not None, "the first failure", watcher.health)
    assert watcher.health()["failure"] == "DatabaseError: file is not a database"
    broken.unlink()  # the broken index is removed: the next restart's start sync builds a new one
    _wait(watcher.ready.is_set, "the watcher to recover", watcher.health)
    health = watcher.health()
    assert health["running"] and health["failure"] is None and 1 <= health["restarts"] <= 10
    assert set(ws.files()) == {_key(docs / "cats.md")}
    bread = docs / "bread.txt"
    bread.write_text(CORPUS["bread.txt"])
    _wait_files(ws, {docs / "cats.md", bread}, "a file written after the recovery")


# ---- slow: real events, the real embedding model ----------------------------------------------
@pytest.mark.slow
def test_live_events_keep_an_exact_mirror(tmp_path: Path, started: list[Watcher]) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    cats, paris = root / "cats.md", root / "paris.txt"
    cats.write_text(CORPUS["cats.md"])
    paris.write_text(CORPUS["paris.txt"])
    ws = Workspace(tmp_path / "idx")
    batches: list[WatchBatch] = []
    _start(ws, [root], started, batches)
    assert set(ws.files()) == {_key(cats), _key(paris)}
    assert batches[0].initial and sorted(batches[0].report.added) == sorted([_key(cats), _key(paris)])

    bread = root / "bread.txt"
    bread.write_text(CORPUS["bread.txt"])
    _wait_files(ws, {cats, paris, bread}, "a created file")
    assert ws.search("flour, water and yeast dough", k=1)[0].source == _key(bread)

    paris.write_text("The Colosseum is an ancient amphitheatre in the centre of Rome, Italy.\n")
    _wait(lambda: ws.files().get(_key(paris)) == file_hash(paris), "a modified file", lambda: ws.files())
    text = ws.document(_key(paris)).text
    assert "Colosseum" in text and "Eiffel" not in text

    baking = root / "baking.txt"
    bread.rename(baking)
    _wait_files(ws, {cats, paris, baking}, "a renamed file")
    cats.unlink()
    _wait_files(ws, {paris, baking}, "a deleted file")

    sub = root / "sub"
    (sub / "deep").mkdir(parents=True)
    (sub / "alpha.md").write_text("# Alpha\n\nThe first letter of the Greek alphabet.\n")
    (sub / "deep" / "beta.md").write_text("# Beta\n\nThe second letter of the Greek alphabet.\n")
    _wait_files(ws, {paris, baking, sub / "alpha.md", sub / "deep" / "beta.md"}, "files in a new subfolder")
    sub.rename(tmp_path / "moved-away")  # one deletion event, for the folder only
    _wait_files(ws, {paris, baking}, "a subfolder moved out of the tree")

    outside = tmp_path / "incoming"
    outside.mkdir()
    (outside / "gamma.md").write_text("# Gamma\n\nThe third letter of the Greek alphabet.\n")
    outside.rename(root / "incoming")  # one creation event, for the folder only
    gamma = root / "incoming" / "gamma.md"
    _wait_files(ws, {paris, baking, gamma}, "a folder moved into the tree")

    (root / ".hidden.md").write_text("# Hidden\n\nnever indexed\n")
    (root / ".git").mkdir()
    (root / ".git" / "notes.md").write_text("# Git\n\nnever indexed\n")
    (root / "paris.txt~").write_text("an editor backup")
    (root / ".#paris.txt").write_text("an editor lock")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a real pdf")
    zebra = root / "zebra.md"
    zebra.write_text("# Zebra\n\nZebras are African equines with black and white stripes.\n")
    _wait_files(ws, {paris, baking, gamma, zebra}, "a file written after hidden, temp and broken ones")
    _wait(lambda: any(_key(zebra) in b.report.added for b in batches if b.report), "zebra's batch", batches.copy)
    skipped = [path for b in batches if b.report is not None for path, _ in b.report.skipped]
    assert skipped == [_key(root / "broken.pdf")]  # reported, and the watcher went on
    assert all(not b.errors for b in batches)


@pytest.mark.slow
def test_a_burst_of_1000_files_lands_in_a_few_syncs(tmp_path: Path, started: list[Watcher]) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    keep = root / "python.md"
    keep.write_text(CORPUS["python.md"])
    ws = Workspace(tmp_path / "idx")
    ws.index([root], lead_vectors=False)  # half the embedding work; the watcher keeps the index's setting
    batches: list[WatchBatch] = []
    _start(ws, [root], started, batches)
    burst = root / "burst"
    burst.mkdir()
    files = [burst / f"note{i:04d}.txt" for i in range(1000)]
    for i, f in enumerate(files):
        f.write_text(f"Note number {i} of the burst.\n")
    _wait_files(ws, {keep, *files}, "1,000 files written in a burst")
    _wait(lambda: _added(batches[1:]) == 1000, "the burst's batches", batches.copy)
    syncs = [b for b in batches if not b.initial]
    assert 1 <= len(syncs) <= 10, [b.summary() for b in syncs]
    assert all(not b.errors and b.report.leads_embedded == 0 for b in syncs)

    shutil.rmtree(burst)
    _wait_files(ws, {keep}, "the burst folder deleted")
    assert ws.search("Note number 17 of the burst", k=1)[0].source == _key(keep)


@pytest.mark.slow
def test_restart_resumes_with_a_hash_sync(tmp_path: Path, started: list[Watcher]) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("cats.md", "paris.txt", "python.md"):
        (root / name).write_text(CORPUS[name])
    ws = Workspace(tmp_path / "idx")
    first = Watcher(ws, [root], debounce_ms=200)
    started.append(first)
    thread = first.start()
    assert first.ready.wait(DEADLINE_S)
    first.stop()
    assert not thread.is_alive()

    (root / "cats.md").write_text("# Cats\n\nCats sleep for most of the day in warm places.\n")
    (root / "paris.txt").unlink()
    (root / "sub").mkdir()
    (root / "sub" / "bread.txt").write_text(CORPUS["bread.txt"])
    batches: list[WatchBatch] = []
    _start(ws, [root], started, batches)  # ready only after the start sync: the state is exact now
    assert set(ws.files()) == {_key(root / "cats.md"), _key(root / "python.md"), _key(root / "sub" / "bread.txt")}
    start = batches[0]
    assert start.initial and start.report is not None
    assert (start.report.added, start.report.updated) == ([_key(root / "sub" / "bread.txt")], [_key(root / "cats.md")])
    assert (start.report.removed, start.report.unchanged) == ([_key(root / "paris.txt")], [_key(root / "python.md")])
    assert start.report.chunks_embedded == 2  # the unchanged file was not embedded again


@pytest.mark.slow
def test_a_root_moved_away_empties_the_index_and_is_picked_up_again(tmp_path: Path, started: list[Watcher]) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "cats.md").write_text(CORPUS["cats.md"])
    ws = Workspace(tmp_path / "idx")
    _start(ws, [root], started, [])
    root.rename(tmp_path / "away")
    _wait_files(ws, set(), "the watched folder moved away")
    (tmp_path / "away" / "late.md").write_text("# Late\n\nwritten in the folder after it moved away\n")
    root.mkdir()
    (root / "bread.txt").write_text(CORPUS["bread.txt"])
    _wait_files(ws, {root / "bread.txt"}, "the watched folder back again")


@pytest.mark.slow
def test_cli_watch_prints_batches_and_stops_on_ctrl_c(tmp_path: Path, corpus_dir: Path) -> None:
    idx = tmp_path / "idx"
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "sift"), "watch", str(corpus_dir), "--index", str(idx), "--debounce", "200"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        # A suite started in the background by a shell without job control inherits SIGINT ignored, and so
        # would `sift watch`: Ctrl-C is what this test sends, so the child gets the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()

    def next_line() -> str:
        try:
            return lines.get(timeout=DEADLINE_S)
        except queue.Empty:
            proc.kill()
            pytest.fail(f"no output from sift watch; stderr: {proc.stderr.read()}")

    try:
        assert next_line().startswith("start sync: added 4, updated 0, removed 0, unchanged 0")
        (corpus_dir / "tea.md").write_text("# Tea\n\nTea is brewed from the leaves of Camellia sinensis.\n")
        assert re.match(r"\d+ changes: added 1, updated 0, removed 0, unchanged 0", next_line())
        (corpus_dir / "bread.txt").unlink()
        assert re.match(r"\d+ changes: removed 1 documents of deleted paths$", next_line())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=DEADLINE_S) == 0
        assert next_line() == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert set(Workspace(idx).files()) == {
        str((corpus_dir / n).resolve()) for n in ("cats.md", "paris.txt", "python.md", "tea.md")
    }
