"""PDF loader (pypdf): the text layer of every page, pages separated by blank lines."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader

from indexing.loaders.common import LoadOptions, fail, source_of
from indexing.types import Document


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


def load_pdf(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a PDF's text layer as one document.

    Args:
        path: the PDF file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document with ``meta == {"pages": n}``; its title is the PDF's metadata title, else
        the file stem.

    Raises:
        LoaderError: the file is not a readable PDF, is encrypted, or has no text layer.

    Example:
        A two-page ``report.pdf`` → ``Document(text="page one\\n\\npage two", meta={"pages": 2})``.
    """
    reader = _open(path)
    try:
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except Exception as exc:
        raise fail(path, "not a readable PDF", exc) from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise fail(path, "no text layer (scanned?); run OCR on it first")
    source = source_of(path)
    title = _metadata_title(reader) or path.stem
    return [Document(id=source, source=source, title=title, text=text, meta={"pages": len(pages)})]
