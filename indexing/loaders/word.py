"""Word (.docx) loader (python-docx): paragraphs and table cells in document order."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.table import Table

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, source_of


def table_text(table: Table) -> str:
    """A table as lines of cells separated by ``" | "``; a merged cell is written once per row.

    Example:
        A 2×2 table ``[["a", "b"], ["c", "d"]]`` → ``"a | b\\nc | d"``.
    """
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # python-docx repeats a horizontally merged cell once per grid column it spans.
            if previous is not None and cell._tc is previous._tc:
                continue
            previous = cell
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def load_docx(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a Word document's body text as one document.

    Args:
        path: the .docx file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document: paragraphs and tables joined by blank lines; the title is the document's
        core-properties title, else the file stem.

    Raises:
        LoaderError: the file is not a readable .docx or holds no text.

    Example:
        Paragraphs "Intro" and "Body" → ``Document(text="Intro\\n\\nBody")``.
    """
    try:
        document = docx.Document(str(path))
        blocks = []
        for item in document.iter_inner_content():
            text = table_text(item) if isinstance(item, Table) else item.text.strip()
            if text:
                blocks.append(text)
        title = (document.core_properties.title or "").strip()
    except Exception as exc:  # zipfile, lxml and python-docx each raise their own types on damage
        raise fail(path, "not a readable Word document", exc) from exc
    if not blocks:
        raise fail(path, "no text in the document", status="empty")
    source = source_of(path)
    return [Document(id=source, source=source, title=title or path.stem, text="\n\n".join(blocks))]
