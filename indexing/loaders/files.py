"""Expand the paths a user names into the files to load, in a stable order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from indexing.errors import SiftError
from indexing.loaders.registry import is_supported


def _walk(directory: Path, seen_dirs: set[Path]) -> Iterator[Path]:
    real = directory.resolve()
    if real in seen_dirs:  # a symlink loop, or a folder reached twice
        return
    seen_dirs.add(real)
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise SiftError(f"{directory}: cannot list folder ({exc.strerror or exc})") from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry, seen_dirs)
        elif entry.is_file() and is_supported(entry):
            yield entry


def iter_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Yield the files to load from files and folders, each once, in a deterministic order.

    Folders are walked recursively in name order, skipping hidden entries (names starting with
    ``"."``) and files no loader supports. A file named explicitly is always yielded, even if
    unsupported, so the caller can report it.

    Args:
        paths: files and folders, in the order they should be visited.

    Yields:
        Paths as reached from the given ones (not resolved); duplicates are dropped.

    Raises:
        SiftError: a path does not exist (checked for all paths before anything is yielded).

    Example:
        With ``docs/b.md``, ``docs/a/z.txt``, ``docs/.git/x.txt`` and ``docs/img.png``:
        ``list(iter_files([Path("docs")]))`` → ``[docs/a/z.txt, docs/b.md]``.
    """
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SiftError(f"no such file or folder: {', '.join(missing)}; check the path and try again")
    seen_files: set[Path] = set()
    seen_dirs: set[Path] = set()
    for path in paths:
        found = _walk(path, seen_dirs) if path.is_dir() else iter([path])
        for file in found:
            real = file.resolve()
            if real not in seen_files:
                seen_files.add(real)
                yield file
