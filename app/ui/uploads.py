"""Checking and saving uploaded files before they are indexed (no Streamlit here).

Example:
    >>> check_upload("notes.md", 1200) is None, check_upload("photo.jpg", 10)
    (True, 'photo.jpg: unsupported file type .jpg; supported: .csv, .docx, .htm, .html, .json, .jsonl, \
.markdown, .md, .pdf, .rst, .txt')
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from indexing.loaders import SUPPORTED_EXTENSIONS

MAX_UPLOAD_MB = 50
UPLOAD_TYPES: list[str] = sorted(ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS)


def default_upload_dir(index_dir: Path) -> Path:
    """Where uploads are kept: an ``uploads`` folder beside the index, e.g. ``data/index`` → ``data/uploads``."""
    return Path(index_dir).expanduser().resolve().parent / "uploads"


def check_upload(name: str, size: int, max_mb: int = MAX_UPLOAD_MB) -> str | None:
    """Why an uploaded file cannot be accepted, or None when it can.

    Args:
        name: the file name the browser sent.
        size: its size in bytes.
        max_mb: the size limit in MiB.
    """
    base = Path(name).name
    plain = base == name and not base.startswith(".") and "\\" not in name and name.isprintable()
    if not base or not plain:
        return f"{name!r}: not a plain file name (no folders, not hidden)"
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        kind = f"file type {suffix}" if suffix else "file without an extension"
        return f"{base}: unsupported {kind}; supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
    if size == 0:
        return f"{base}: the file is empty"
    if size > max_mb * 1024 * 1024:
        return f"{base}: {size / 1024 / 1024:.1f} MB is over the {max_mb} MB limit per file"
    return None


def save_upload(name: str, data: bytes, folder: Path) -> Path:
    """Write one checked upload into ``folder`` (created if needed), replacing a file of the same name.

    The bytes go to a temporary file first and are renamed into place, so an indexer never reads
    a half-written file.

    Raises:
        ValueError: ``name`` fails :func:`check_upload`.
    """
    reason = check_upload(name, len(data))
    if reason is not None:
        raise ValueError(reason)
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target.resolve()
