"""Checking and saving uploaded files before they are indexed (no Streamlit here): one size limit, no silent overwrite.

The limit in MiB is one value per front end (``sift serve --max-upload-mb``, the Library page's
:data:`MAX_UPLOAD_MB`): :func:`check_upload`, :func:`require_upload`, :func:`save_upload` and the
server's request-size cap (:func:`upload_body_limit`) all take it from the caller.

Example:
    >>> check_upload("notes.md", 1200) is None, check_upload("notes.md", 3 * MIB, max_mb=2)
    (True, 'notes.md: 3.0 MB is over the 2 MB limit per file')
"""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from indexing.errors import ConfigError, UploadConflictError, UploadTooLargeError
from indexing.loaders import SUPPORTED_EXTENSIONS

MAX_UPLOAD_MB = 50
MIB = 1024 * 1024
MULTIPART_SLACK = 64 * 1024  # multipart framing (boundaries, part headers) around one file stays far below this
UPLOAD_TYPES: list[str] = sorted(ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS)
UploadStatus = Literal["added", "unchanged", "replaced"]
_NO_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS})


@dataclass(frozen=True)
class SavedUpload:
    """Where an upload is and what saving it did: ``added`` (new name), ``unchanged`` (the same bytes were
    already there: nothing written) or ``replaced`` (other bytes of that name, replaced on request)."""

    path: Path
    status: UploadStatus

    def summary(self) -> str:
        """One line for the user, e.g. ``"notes.md is already in /data/uploads with the same bytes: ..."``."""
        if self.status == "unchanged":
            return f"{self.path.name} is already in {self.path.parent} with the same bytes: nothing was written"
        if self.status == "replaced":
            return f"{self.path.name} replaced the earlier file of that name in {self.path.parent}"
        return f"{self.path.name} saved in {self.path.parent}"


def default_upload_dir(index_dir: Path) -> Path:
    """Where uploads are kept: an ``uploads`` folder beside the index, e.g. ``data/index`` → ``data/uploads``."""
    return Path(index_dir).expanduser().resolve().parent / "uploads"


def upload_body_limit(max_mb: int) -> int:
    """The largest request body that can carry one file of ``max_mb`` MiB (the server's cap for uploads)."""
    return max_mb * MIB + MULTIPART_SLACK


def _problem(name: str, size: int, max_mb: int) -> tuple[Literal["invalid", "too_large"], str] | None:
    base = Path(name).name
    plain = base == name and not base.startswith(".") and "\\" not in name and name.isprintable()
    if not base or not plain:
        return "invalid", f"{name!r}: not a plain file name (no folders, not hidden)"
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        kind = f"file type {suffix}" if suffix else "file without an extension"
        return "invalid", f"{base}: unsupported {kind}; supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
    if size == 0:
        return "invalid", f"{base}: the file is empty"
    if size > max_mb * MIB:
        return "too_large", f"{base}: {size / MIB:.1f} MB is over the {max_mb} MB limit per file"
    return None


def check_upload(name: str, size: int, max_mb: int = MAX_UPLOAD_MB) -> str | None:
    """Why an uploaded file cannot be accepted, or None when it can.

    Args:
        name: the file name the browser sent.
        size: its size in bytes.
        max_mb: the size limit in MiB.
    """
    problem = _problem(name, size, max_mb)
    return None if problem is None else problem[1]


def require_upload(name: str, size: int, max_mb: int = MAX_UPLOAD_MB) -> None:
    """:func:`check_upload` as domain errors, for front ends that answer with a status.

    Raises:
        UploadTooLargeError: the file is over ``max_mb`` MiB (HTTP 413).
        ConfigError: the name is not plain, the type unsupported or the file empty (HTTP 422).

    Example:
        ``require_upload("big.txt", 3 * MIB, max_mb=2)`` raises
        ``UploadTooLargeError("big.txt: 3.0 MB is over the 2 MB limit per file")``.
    """
    problem = _problem(name, size, max_mb)
    if problem is not None:
        kind, reason = problem
        raise (UploadTooLargeError if kind == "too_large" else ConfigError)(reason)


def save_upload(
    name: str, data: bytes, folder: Path, *, max_mb: int = MAX_UPLOAD_MB, replace: bool = False,
    how_to_replace: str = "ask to replace it",
) -> SavedUpload:
    """Write one checked upload into ``folder`` (created if needed); never overwrite a file unasked.

    The bytes go to a temporary file first and are hard-linked (new name) or renamed (``replace``) into
    place, so an indexer never reads a half-written file, and a file of the same name that appears
    meanwhile is never overwritten.

    Args:
        name: a plain file name (see :func:`check_upload`).
        data: the file's bytes.
        folder: the upload folder.
        max_mb: the size limit in MiB (the caller's one value).
        replace: replace a file of that name with other bytes instead of refusing (the same bytes are
            left as they are either way).
        how_to_replace: the fix the refusal suggests, in the caller's terms (a query flag, a checkbox).

    Raises:
        ValueError: ``name`` or the size fails :func:`check_upload` (callers check first).
        UploadConflictError: ``folder`` holds other bytes under ``name`` and ``replace`` is False.

    Example:
        ``save_upload("a.md", b"# A", up)`` → ``SavedUpload(up/a.md, "added")``; again with the same bytes →
        ``"unchanged"``; with ``b"# B"`` → UploadConflictError; with ``b"# B", replace=True`` → ``"replaced"``.
    """
    reason = check_upload(name, len(data), max_mb)
    if reason is not None:
        raise ValueError(reason)
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder.resolve() / name
    if os.path.lexists(target):
        if _same_bytes(target, data):
            return SavedUpload(target.resolve(), "unchanged")
        if not replace:
            raise _conflict(target, how_to_replace)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if replace:
            existed = os.path.lexists(target)
            os.replace(tmp, target)
            return SavedUpload(target.resolve(), "replaced" if existed else "added")
        try:
            os.link(tmp, target)  # unlike a rename, fails when the name exists
        except FileExistsError:  # saved by someone else since the check above
            return _unchanged_or_conflict(target, data, how_to_replace)
        except OSError as exc:  # a file system without hard links: rename, re-checking the name first
            if exc.errno not in _NO_LINKS or os.path.lexists(target):
                raise
            os.replace(tmp, target)
        return SavedUpload(target.resolve(), "added")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _same_bytes(target: Path, data: bytes) -> bool:
    return target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data


def _conflict(target: Path, how_to_replace: str) -> UploadConflictError:
    return UploadConflictError(
        f"{target.name} is already in {target.parent} with other content: rename your file, or {how_to_replace}"
    )


def _unchanged_or_conflict(target: Path, data: bytes, how_to_replace: str) -> SavedUpload:
    if _same_bytes(target, data):
        return SavedUpload(target.resolve(), "unchanged")
    raise _conflict(target, how_to_replace)
