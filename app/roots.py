"""The folders a server may index: every path a client asks to sync must lie under one of them.

A path is checked after it is resolved the way the indexer resolves it (``~`` expanded, ``..`` and
symlinks followed, as :func:`os.path.realpath` does), so ``ROOT/../secret`` and a symlink in a root that
points elsewhere are judged by where they really lead. Front-end neutral: the REST server and the MCP
server both check their sync requests here.

Example:
    >>> roots = Roots.of(["/home/me/notes"])
    >>> roots.check(["/home/me/notes/cats.md"])
    [PosixPath('/home/me/notes/cats.md')]
    >>> roots.check(["/home/me/notes/../.ssh"])
    Traceback (most recent call last):
    ...
    indexing.errors.PathNotAllowedError: /home/me/notes/../.ssh (which leads to /home/me/.ssh) is outside \
the folders this server may index (/home/me/notes): start the server with `sift serve --root DIR` for a \
folder that holds it
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexing.errors import ConfigError, PathNotAllowedError


def real_path(path: str | Path) -> Path:
    """Where ``path`` really leads: ``~`` expanded, made absolute, ``..`` and symlinks followed.

    The indexer resolves its paths the same way (``os.path.realpath``, which also turns a symlink loop
    into a path instead of an error), so what is checked is what gets read.
    """
    return Path(os.path.realpath(Path(path).expanduser()))


@dataclass(frozen=True)
class Roots:
    """Folders (or single files) whose contents may be indexed; nothing else may.

    Attributes:
        paths: the roots, resolved, without duplicates and without one that lies under another.
    """

    paths: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        resolved = sorted({real_path(p) for p in self.paths}, key=lambda p: (len(p.parts), str(p)))
        outer: list[Path] = []
        for path in resolved:
            if not any(_under(path, o) for o in outer):
                outer.append(path)
        object.__setattr__(self, "paths", tuple(sorted(outer)))

    @classmethod
    def of(cls, paths: Iterable[str | Path], *, option: str | None = None) -> Roots:
        """Roots from ``paths``; with ``option`` (e.g. ``"--root"``) each must exist, named in the error.

        Raises:
            ConfigError: ``option`` is given and a path does not exist.
        """
        paths = list(paths)
        if option is not None:
            for path in paths:
                if not real_path(path).exists():
                    raise ConfigError(f"{option} {path} does not exist: give a folder that does, nothing was served")
        return cls(tuple(Path(p) for p in paths))

    def including(self, *paths: str | Path) -> Roots:
        """These roots and ``paths`` too (e.g. the upload folder, which may not exist yet)."""
        return Roots((*self.paths, *(Path(p) for p in paths)))

    def allows(self, path: str | Path) -> bool:
        """Whether ``path``, resolved, is a root or lies under one."""
        real = real_path(path)
        return any(_under(real, root) for root in self.paths)

    def check(self, paths: Sequence[str | Path]) -> list[Path]:
        """The resolved ``paths``, once every one of them is allowed; index these, not the originals.

        Raises:
            PathNotAllowedError: a path lies outside every root (the first such path is named).
        """
        resolved = [real_path(p) for p in paths]
        for asked, real in zip(paths, resolved, strict=True):
            if not any(_under(real, root) for root in self.paths):
                leads = f" (which leads to {real})" if str(real) != str(asked) else ""
                raise PathNotAllowedError(
                    f"{asked}{leads} is outside the folders this server may index ({self}): "
                    "start the server with `sift serve --root DIR` for a folder that holds it"
                )
        return resolved

    def __str__(self) -> str:
        return ", ".join(str(p) for p in self.paths) or "none"


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
