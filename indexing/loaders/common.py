"""What every loader shares: options, the loader signature, error wording and text decoding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexing.errors import LoaderError
from indexing.types import Document

# Only the head of a file is sniffed for NUL bytes: enough to catch binaries, cheap on big files.
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class LoadOptions:
    """Per-call options; only the tabular loaders (CSV, JSONL) read them.

    Attributes:
        text_column: column holding each row's text; ``None`` picks a usual name ("text", …).
        title_column: column holding each row's title; ``None`` tries "title", then "name".
    """

    text_column: str | None = None
    title_column: str | None = None


Loader = Callable[[Path, LoadOptions], list[Document]]
"""A loader reads one file into documents, e.g. ``load_text(Path("a.txt"), LoadOptions())``."""


def source_of(path: Path) -> str:
    """The ``source`` string of a file: its absolute, resolved path.

    Example:
        >>> source_of(Path("/tmp/../tmp/a.txt"))
        '/tmp/a.txt'
    """
    return str(path.resolve())


def fail(path: Path, reason: str, cause: BaseException | None = None) -> LoaderError:
    """Build a :class:`LoaderError` that names the file, the reason and the library's own words.

    Example:
        >>> str(fail(Path("notes.pdf"), "not a readable PDF", ValueError("EOF marker not found")))
        'notes.pdf: not a readable PDF (EOF marker not found)'
    """
    if cause is not None:
        detail = str(cause).strip() or type(cause).__name__
        reason = f"{reason} ({detail})"
    return LoaderError(f"{path}: {reason}")


def read_text(path: Path) -> tuple[str, dict[str, str]]:
    """Read a text-type file, refusing binaries, undecodable bytes and blank files.

    UTF-8 (with or without a byte-order mark) is tried first; Windows-1252 is the fallback, and
    its use is reported in the returned metadata so the index shows how the file was read.

    Args:
        path: the file to read.

    Returns:
        ``(text, meta)`` where ``meta`` is ``{}`` or ``{"encoding": "cp1252"}``.

    Raises:
        LoaderError: the file is unreadable, binary, neither UTF-8 nor cp1252, or blank.

    Example:
        A file holding the bytes ``b"caf\\xe9"`` reads as ``("café", {"encoding": "cp1252"})``.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(path, "cannot be read", exc) from exc
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise fail(path, "binary file (NUL bytes found), not text")
    meta: dict[str, str] = {}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise fail(path, "not UTF-8 text (and not Windows-1252 either); re-save it as UTF-8") from exc
        meta["encoding"] = "cp1252"
    if not text.strip():
        raise fail(path, "empty (only whitespace)" if text else "empty")
    return text, meta
