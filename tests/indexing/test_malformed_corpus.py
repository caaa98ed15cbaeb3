"""Every malformed file loads or is refused by name within a time and memory budget; the indexer skips it.

Each file is loaded in its own child process (:func:`malformed_testkit.load_within_budget`) under a CPU-time
budget, a wall-clock limit for hangs and an address-space cap, so a hang or a memory blow-up is caught and
named instead of stalling the suite, and a loaded machine (which stretches wall time only) fails nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from malformed_testkit import CONTROL_TEXT, Outcome, load_within_budget, write_huge_line, write_malformed_corpus

from app.workspace import Workspace

NOBODY = 65534

@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[Path, Outcome]]:
    """The quick corpus (no 50 MB line, small bombs), each file loaded once under the budget."""
    folder = tmp_path_factory.mktemp("malformed")
    kinds = write_malformed_corpus(folder, heavy=False)
    started = time.perf_counter()
    outcomes = load_within_budget([folder / name for name in kinds])
    print(f"\nloaded {len(kinds)} malformed files in {time.perf_counter() - started:.1f} s")
    return folder, kinds, outcomes


def test_corpus_has_every_kind_and_200_files(corpus: tuple[Path, dict[str, str], dict[Path, Outcome]]) -> None:
    _, kinds, _ = corpus
    counts = Counter(kinds.values())
    assert sum(n for kind, n in counts.items() if kind != "control") >= 200
    expected = {
        "truncated-pdf", "encrypted-pdf", "broken-pdf", "zip-bomb", "broken-docx", "nul-bytes", "deep-html",
        "invalid-utf8", "utf16-no-bom", "symlink-loop", "unreadable", "fifo", "broken-epub", "broken-pptx",
        "broken-xlsx", "broken-odt", "broken-eml", "broken-image", "broken-csv", "broken-jsonl", "broken-json",
        "empty", "control",
    }  # fmt: skip
    assert set(counts) == expected


def test_no_crash_no_hang_and_every_refusal_names_its_file(
    corpus: tuple[Path, dict[str, str], dict[Path, Outcome]],
) -> None:
    folder, kinds, outcomes = corpus
    over = {
        f"{path.name}": f"{o.status}, {o.cpu_seconds:.1f} CPU-s ({o.seconds:.1f} s), {o.peak_rss >> 20} MiB "
        f"{o.message[:200]}"
        for path, o in outcomes.items()
        if not o.within_budget
    }
    assert over == {}
    unnamed = [p.name for p, o in outcomes.items() if o.status == "refused" and str(p) not in o.message]
    assert unnamed == []
    # Kinds no reader can make sense of are refused, never loaded as garbage text.
    always_refused = {
        "fifo", "symlink-loop", "empty", "broken-image", "broken-eml", "broken-json", "broken-jsonl", "broken-docx",
        "broken-epub", "broken-pptx", "broken-xlsx", "broken-odt",
    }  # fmt: skip
    loaded = [n for n, kind in kinds.items() if kind in always_refused and outcomes[folder / n].status == "loaded"]
    assert loaded == []
    assert outcomes[folder / "control.md"].status == "loaded"
    assert outcomes[folder / "deep-div-100000.html"].cpu_seconds < 5


@pytest.mark.slow  # the real embedding model; ~75-105 s here on 2 shared cores
def test_index_skips_every_unreadable_file_with_its_reason(
    corpus: tuple[Path, dict[str, str], dict[Path, Outcome]], tmp_path: Path
) -> None:
    folder, kinds, outcomes = corpus
    real = folder.resolve()
    # Entries that are not regular files (FIFOs, links leading nowhere or back up) are reported under their own path.
    special = {str(real / n): n for n, kind in kinds.items() if kind in {"fifo", "symlink-loop"}}
    regular = {str((folder / n).resolve()): outcomes[folder / n] for n in kinds if str(real / n) not in special}
    refused = {source: o.message for source, o in regular.items() if o.status == "refused"}
    ws = Workspace(tmp_path / "index")
    report = ws.index([folder])
    print(f"\nindexed: {report.summary()}")
    skipped = dict(report.skipped)
    assert set(skipped) == set(refused) | set(special)
    assert {source: skipped[source] for source in refused} == refused  # the loader's own words, file named
    assert all(skipped[source].startswith(str(folder / name)) for source, name in special.items())
    assert set(ws.files()) == {source for source, o in regular.items() if o.status == "loaded"}
    assert report.to_dict()["counts"]["skipped"] == len(skipped) and f"skipped {len(skipped)}," in report.summary()
    for mode in ("dense", "bm25", "hybrid"):
        assert ws.search(CONTROL_TEXT, k=3, mode=mode)[0].source == str(real / "control.md")


def test_unreadable_file_is_refused_by_name_for_a_user_who_cannot_read_it() -> None:
    """Root reads every file, so the check runs as ``nobody`` in a folder that user can enter."""
    folder = Path(tempfile.mkdtemp(prefix="sift-unreadable-"))
    try:
        folder.chmod(0o755)
        locked = folder / "locked.md"
        locked.write_text("# Locked\n\nNobody may read this.\n")
        locked.chmod(0)
        outcome = load_within_budget([locked], user=NOBODY if os.geteuid() == 0 else None)[locked]
    finally:
        shutil.rmtree(folder)
    assert outcome.status == "refused"
    assert outcome.message.startswith(f"{locked}: cannot be read (") and "Permission denied" in outcome.message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("single-line-50mb.jsonl", "refused"),  # ~0.2 s, ~220 MB
        ("bomb-media.docx", "refused"),  # a 512 MiB member of zeros: a bomb, refused unread even if unreferenced
        ("bomb-paragraphs-16mb.docx", "refused"),  # check_zip: refused before python-docx inflates it
        ("bomb-paragraphs-64mb.docx", "refused"),
    ],
)
def test_heavy_file_within_budget(name: str, status: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.getbasetemp() / "malformed-heavy"
    if not folder.exists():
        write_malformed_corpus(folder, heavy=True)
    outcome = load_within_budget([folder / name])[folder / name]
    assert outcome.within_budget, outcome
    assert outcome.status == status
    assert status == "loaded" or outcome.message.startswith(str(folder / name))


@pytest.mark.slow
def test_huge_single_line_is_skipped_by_the_indexer(tmp_path: Path) -> None:
    folder = tmp_path / "huge"
    folder.mkdir()
    kinds: dict[str, str] = {}
    write_huge_line(folder, kinds)
    (folder / "ok.md").write_text(f"# Control\n\n{CONTROL_TEXT}\n")
    report = Workspace(tmp_path / "index").index([folder])
    assert [Path(source).name for source, _ in report.skipped] == ["single-line-50mb.jsonl"]
    assert "line 1 is not valid JSON" in report.skipped[0][1]
    assert report.added == [str((folder / "ok.md").resolve())]
