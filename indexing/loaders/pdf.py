"""PDF loader (pypdf): the text layer of every page, pages separated by blank lines.

Page boundaries survive as document metadata so a citation can name the page to open:
``page_starts`` holds, for every page of the PDF in order, the character offset where its text
starts (see :func:`join_pages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pypdf import PdfReader

from indexing.loaders.common import LoadOptions, fail, source_of
from indexing.types import Document

PAGE_SEPARATOR = "\n\n"
PAGE_STARTS = "page_starts"  # document meta key; read back with parse_page_starts


def _open(path: Path) -> PdfReader:
    try:
        reader = PdfReader(path)
        # Many PDFs are encrypted with an empty user password only to restrict editing.
        locked = reader.is_encrypted and not reader.decrypt("")
    except Exception as exc:  # pypdf raises many types (PdfReadError, KeyError, …) on damaged files
        raise fail(path, "not a readable PDF", exc) from exc
    if locked:
        raise fail(path, "encrypted PDF; a password is needed to read it")
    return reader


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception:  # a broken info dictionary only costs the title, not the document
        return None
    if not title:
        return None
    return " ".join(str(title).split()) or None


def page_texts(reader: PdfReader, path: Path) -> list[str]:
    """The stripped text layer of every page, ``""`` for a page without one (one entry per PDF page).

    Kept per page so a later stage (OCR of scanned pages) can fill the empty entries before joining.

    Raises:
        LoaderError: pypdf fails on a page.

    Example:
        A 3-page PDF whose middle page is a scan → ``["Intro.", "", "Results."]``.
    """
    try:
        return [(page.extract_text() or "").strip() for page in reader.pages]
    except Exception as exc:
        raise fail(path, "not a readable PDF", exc) from exc


def join_pages(pages: Sequence[str]) -> tuple[str, list[int]]:
    """Join page texts with blank lines, skipping empty pages, and return where each page starts.

    ``starts[i]`` is the offset of page ``i + 1``'s text in the joined text. An empty page gets the
    offset where the next text starts (it spans no characters), so the list always has one entry per
    PDF page and page numbers stay the PDF's own even when empty pages were skipped.

    Example:
        >>> join_pages(["one", "", "three"])
        ('one\\n\\nthree', [0, 5, 5])
    """
    parts = [page for page in pages if page]
    text = PAGE_SEPARATOR.join(parts)
    text_starts = []
    offset = 0
    for part in parts:
        text_starts.append(offset)
        offset += len(part) + len(PAGE_SEPARATOR)
    starts = []
    filled = 0  # non-empty pages seen so far: the next text to start is text_starts[filled]
    for page in pages:
        starts.append(text_starts[filled] if filled < len(text_starts) else len(text))
        filled += bool(page)
    return text, starts


def parse_page_starts(value: str) -> list[int]:
    """The page start offsets stored under ``meta["page_starts"]``, one per page.

    Raises:
        ValueError: the value is not comma-separated non-decreasing offsets from 0.

    Example:
        >>> parse_page_starts("0,42,42,97")
        [0, 42, 42, 97]
    """
    try:
        starts = [int(part) for part in value.split(",")]
    except ValueError as exc:
        raise ValueError(f"page_starts {value!r} is not comma-separated integers; re-index the PDF") from exc
    if starts[0] != 0 or any(b < a for a, b in zip(starts, starts[1:])):
        raise ValueError(f"page_starts {value!r} must start at 0 and never decrease; re-index the PDF")
    return starts


def load_pdf(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a PDF's text layer as one document.

    Args:
        path: the PDF file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document with ``meta == {"pages": n, "page_starts": "0,…"}``: the page count and the
        comma-separated character offset where each page's text starts (one per page, in order; an
        empty page has the offset of the next page's text). Its title is the PDF's metadata title,
        else the file stem.

    Raises:
        LoaderError: the file is not a readable PDF, is encrypted, or has no text layer.

    Example:
        A two-page ``report.pdf`` → ``Document(text="page one\\n\\npage two",
        meta={"pages": 2, "page_starts": "0,10"})``.
    """
    reader = _open(path)
    pages = page_texts(reader, path)
    text, starts = join_pages(pages)
    if not text:
        raise fail(path, "no text layer (scanned?); run OCR on it first")
    source = source_of(path)
    title = _metadata_title(reader) or path.stem
    meta = {"pages": len(pages), PAGE_STARTS: ",".join(map(str, starts))}
    return [Document(id=source, source=source, title=title, text=text, meta=meta)]
