"""What one batch of file events asks of the index: which paths to sync, which to check for removal.

Pure functions over paths (they look at the file system, never at the store), used by
:class:`app.watch.Watcher`; the one rule for "hidden" is the indexer's: a name starting with ``"."``.

Example:
    >>> from watchfiles import Change
    >>> plan = plan_changes({(Change.added, "/docs/new.md"), (Change.deleted, "/docs/old")}, ["/docs"])
    >>> plan.index, plan.check                                        # doctest: +SKIP
    ([PosixPath('/docs/new.md')], ['/docs/old'])
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from watchfiles import Change

from indexing.loaders import is_supported
from indexing.report import SyncReport

# A folder with at least this many changed files in one batch is synced as a folder: one sync root
# instead of hundreds (each explicit root costs the sync a pass over the indexed files).
COALESCE_FILES = 32


@dataclass(frozen=True)
class Plan:
    """``index``: files and folders to sync (outermost only); ``check``: paths that may have lost indexed files."""

    index: list[Path]
    check: list[str]


@dataclass
class WatchBatch:
    """What one applied batch did.

    Attributes:
        changes: file events in the batch (0 for the start sync).
        report: the sync of the files and folders that exist (None when there were none).
        removed: documents removed because their file was deleted or moved away (or its root vanished).
        errors: one line per path that could not be synced; the watcher carried on.
        initial: this is the full hash sync at start (or after a watched root came back).
    """

    changes: int
    report: SyncReport | None
    removed: int = 0
    errors: list[str] = field(default_factory=list)
    initial: bool = False

    @property
    def changed(self) -> bool:
        """True when the index differs after this batch."""
        return bool(self.removed or (self.report is not None and self.report.changed))

    def summary(self) -> str:
        """One line, e.g. ``3 changes: added 1, updated 1, removed 0, … ; removed 2 documents of deleted paths``."""
        parts = [self.report.summary()] if self.report is not None else []
        if self.removed or self.report is None:
            parts.append(f"removed {self.removed} documents of deleted paths")
        parts += [f"error: {e}" for e in self.errors]
        head = "start sync" if self.initial else f"{self.changes} changes"
        return f"{head}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``report`` is :meth:`SyncReport.to_dict` or None."""
        return {
            "changes": self.changes,
            "initial": self.initial,
            "removed": self.removed,
            "errors": list(self.errors),
            "report": self.report.to_dict() if self.report is not None else None,
        }


def visible(path: str, roots: Sequence[str | Path]) -> bool:
    """True when ``path`` is a root or lies under one with no hidden name below the root.

    Example:
        >>> visible("/docs/a/b.md", ["/docs"]), visible("/docs/.git/x.md", ["/docs"]), visible("/etc/x", ["/docs"])
        (True, False, False)
    """
    for root in roots:
        base = str(root).rstrip(os.sep) or os.sep
        if path == base:
            return True
        prefix = base if base.endswith(os.sep) else base + os.sep
        if path.startswith(prefix):
            return not any(part.startswith(".") for part in path[len(prefix):].split(os.sep))
    return False


def plan_changes(changes: Iterable[tuple[Change, str]], roots: Sequence[str | Path]) -> Plan:
    """Sort a batch's (change, path) events into paths to sync and paths to check for removals.

    A path that is now a supported file is synced; a folder is synced when it was added or replaced
    (a folder moved in gives one event, for the folder only) and skipped when merely modified; any
    other path (deleted, moved away, now a socket or an unsupported file) is checked for indexed
    files equal to or under it. Only the outermost paths to sync are kept, and a folder with
    :data:`COALESCE_FILES` or more changed files is synced as that folder.
    """
    kinds: dict[str, set[Change]] = defaultdict(set)
    for change, path in changes:
        kinds[path].add(change)
    files: list[Path] = []
    folders: list[Path] = []
    check: list[str] = []
    for path, seen in sorted(kinds.items()):
        p = Path(path)
        if p.is_file() and is_supported(p):
            files.append(p)
        elif p.is_dir():
            if seen != {Change.modified}:
                folders.append(p)
        else:
            check.append(path)
    files, grouped = _coalesce(files, roots)
    return Plan(index=outermost(files + folders + grouped), check=check)


def _coalesce(files: list[Path], roots: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """(files left alone, folders that replace their many changed files) — never a folder above a root."""
    by_parent: dict[Path, list[Path]] = defaultdict(list)
    for f in files:
        by_parent[f.parent].append(f)
    keep: list[Path] = []
    folders: list[Path] = []
    for parent, group in by_parent.items():
        if len(group) >= COALESCE_FILES and visible(str(parent), roots):
            folders.append(parent)
        else:
            keep.extend(group)
    return keep, folders


def outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside another of them: ``[/a, /a/b, /c]`` → ``[/a, /c]``."""
    unique = sorted(set(paths))
    chosen = set(unique)
    return [p for p in unique if not any(parent in chosen for parent in p.parents)]


def indexed_under(files: Sequence[str], paths: Iterable[str]) -> list[str]:
    """Indexed files equal to or under any of ``paths``; ``files`` must be sorted.

    A binary search per path, so a burst of deletions costs O(k log n), not O(k n).

    Example:
        >>> indexed_under(["/d/a.md", "/d/sub/b.md", "/d/sub2.md"], ["/d/sub"])
        ['/d/sub/b.md']
    """
    found: set[str] = set()
    for path in paths:
        i = bisect_left(files, path)
        if i < len(files) and files[i] == path:
            found.add(path)
        prefix = path.rstrip(os.sep) + os.sep
        j = bisect_left(files, prefix)
        while j < len(files) and files[j].startswith(prefix):
            found.add(files[j])
            j += 1
    return sorted(found)


def merge_reports(reports: Sequence[SyncReport]) -> SyncReport | None:
    """One report for several syncs of one batch: list fields joined, numbers summed; None for none.

    Example:
        ``merge_reports([r1, r2]).added == r1.added + r2.added``, ``.seconds == r1.seconds + r2.seconds``.
    """
    if not reports:
        return None
    merged: dict[str, Any] = {}
    for f in fields(SyncReport):
        values = [getattr(r, f.name) for r in reports]
        if isinstance(values[0], list):
            merged[f.name] = [item for value in values for item in value]
        elif isinstance(values[0], bool):
            merged[f.name] = any(values)
        else:
            merged[f.name] = sum(values)
    return SyncReport(**merged)
