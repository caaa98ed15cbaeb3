"""One writer at a time: a second `sift index` waits for the first, naming its PID, and then writes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.workspace import Workspace
from indexing.errors import IndexBusyError
from indexing.store.lock import write_lock


def test_a_busy_lock_names_the_writer_and_times_out(tmp_path: Path) -> None:
    with write_lock(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
        child = subprocess.run(
            [sys.executable, "-c", "from pathlib import Path; from indexing.store.lock import write_lock\n"
             f"with write_lock(Path({str(tmp_path)!r}), timeout=0.3): pass"],
            capture_output=True, text=True, timeout=60,
        )
    assert child.returncode == 1
    assert f"is being written by PID {os.getpid()}" in child.stderr and "IndexBusyError" in child.stderr
    with write_lock(tmp_path, timeout=0.3):  # released: taken at once
        pass
    with pytest.raises(IndexBusyError, match=f"PID {os.getpid()}"), write_lock(tmp_path):
        with write_lock(tmp_path, timeout=0.2):  # a second writer in this process waits like another would
            pass


@pytest.mark.slow
def test_a_second_sift_index_waits_then_writes(tmp_path: Path, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    Workspace(index).index([corpus_dir])
    (corpus_dir / "owl.txt").write_text("Owls hunt at night with silent flight.\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    lines: list[str] = []
    with write_lock(index):
        child = subprocess.Popen([sys.executable, "-m", "app", "index", str(corpus_dir), "--index", str(index)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        reader = threading.Thread(target=lambda: lines.extend(child.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        deadline = time.monotonic() + 240
        while not any("is being written by PID" in line for line in lines):
            assert child.poll() is None and time.monotonic() < deadline, f"no wait for the lock: {lines}"
            time.sleep(0.2)
        assert child.poll() is None  # still waiting while the lock is held
    out = child.stdout.read() if child.stdout else ""
    assert child.wait(timeout=300) == 0
    reader.join(timeout=30)
    assert any(f"is being written by PID {os.getpid()}; waiting" in line for line in lines)
    assert "added 1" in out
