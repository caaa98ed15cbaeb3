"""Expand the paths a user names into the files to load, in a stable order, and say which cannot be read."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexing.errors import SiftError
from indexing.loaders.registry import is_supported

_KINDS = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a character device",
          stat.S_ISBLK: "a block device"}  # fmt: skip


@dataclass(frozen=True)
class FoundFile:
    """One entry a walk reached.

    Attributes:
        path: as reached from the given paths (not resolved).
        supported: some loader reads its extension.
        problem: why it cannot be read at all, naming it (not a regular file, broken symlink, symlink loop);
            ``None`` for a regular file (or a symlink to one).
        explicit: named by the caller rather than found in a folder.
    """

    path: Path
    supported: bool
    problem: str | None = None
    explicit: bool = False

    @property
    def key(self) -> str:
        """The absolute path the index records: the resolved file, or the link's own place when it leads nowhere.

        Example:
            ``FoundFile(Path("docs/gone.md"), True, "docs/gone.md: broken symlink").key`` → ``"/abs/docs/gone.md"``
        """
        if self.problem is None:
            return str(self.path.resolve())
        return os.path.join(os.path.realpath(self.path.parent), self.path.name)


def _problem(entry: Path) -> str | None:
    """Why ``entry`` is not a readable regular file (following symlinks), or None when it is one."""
    try:
        mode = entry.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{entry}: symlink loop (the link leads back to itself); remove or fix the link"
        if entry.is_symlink():
            return f"{entry}: broken symlink (points to {os.readlink(entry)}, which does not exist)"
        return f"{entry}: cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = next((name for test, name in _KINDS.items() if test(mode)), "a special file")
    return f"{entry}: not a regular file ({kind}); only regular files are indexed"


def _walk(directory: Path, seen_dirs: set[Path]) -> Iterator[FoundFile]:
    real = directory.resolve()
    if real in seen_dirs:  # a folder reached twice through a symlink: its files were listed already
        return
    seen_dirs.add(real)
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise SiftError(f"{directory}: cannot list folder ({exc.strerror or exc})") from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        problem = _problem(entry)
        if problem is not None:
            yield FoundFile(entry, is_supported(entry), problem)
        elif entry.is_dir():
            target = entry.resolve()
            if entry.is_symlink() and (target == real or target in real.parents):
                loop = f"{entry}: symlink loop (leads back to the folder {target}, already being indexed)"
                yield FoundFile(entry, False, loop)
            else:
                yield from _walk(entry, seen_dirs)
        else:
            yield FoundFile(entry, is_supported(entry))


def scan_files(paths: Sequence[Path]) -> Iterator[FoundFile]:
    """Yield every entry under files and folders, each once, in a deterministic order, with what is wrong with it.

    Folders are walked recursively in name order, skipping hidden entries (names starting with ``"."``).
    Files of types no loader reads are yielded with ``supported=False``; FIFOs, sockets, devices, broken
    symlinks and symlink loops (a link to itself, or to a folder above it) with a ``problem``.

    Args:
        paths: files and folders, in the order they should be visited.

    Yields:
        :class:`FoundFile` values; a file reached twice (through a symlink) is yielded once.

    Raises:
        SiftError: a path does not exist (checked for all paths before anything is yielded), or a folder
            cannot be listed.

    Example:
        With ``docs/b.md``, ``docs/.git/x.txt``, ``docs/data.gz`` and a FIFO ``docs/pipe.txt``:
        ``[(f.path.name, f.supported, f.problem is None) for f in scan_files([Path("docs")])]`` →
        ``[("b.md", True, True), ("data.gz", False, True), ("pipe.txt", True, False)]``.
    """
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SiftError(f"no such file or folder: {', '.join(missing)}; check the path and try again")
    seen: set[str] = set()
    seen_dirs: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = _walk(path, seen_dirs)
        else:
            found = iter([FoundFile(path, is_supported(path), _problem(path), explicit=True)])
        for file in found:
            if file.key not in seen:
                seen.add(file.key)
                yield file


def iter_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Yield the files to load from files and folders, each once, in a deterministic order.

    Folders are walked recursively in name order, skipping hidden entries (names starting with
    ``"."``), files no loader supports and entries that are not regular files. A file named
    explicitly is always yielded, even if unsupported, so the caller can report it.
    :func:`scan_files` yields the skipped entries too, with the reason.

    Args:
        paths: files and folders, in the order they should be visited.

    Yields:
        Paths as reached from the given ones (not resolved); duplicates are dropped.

    Raises:
        SiftError: a path does not exist (checked for all paths before anything is yielded).

    Example:
        With ``docs/b.md``, ``docs/a/z.txt``, ``docs/.git/x.txt`` and ``docs/data.gz``:
        ``list(iter_files([Path("docs")]))`` → ``[docs/a/z.txt, docs/b.md]``.
    """
    for file in scan_files(paths):
        if file.explicit or (file.supported and file.problem is None):
            yield file.path
