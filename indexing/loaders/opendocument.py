"""OpenDocument text (.odt) loader (odfpy): headings, paragraphs, lists and tables in document order."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.parsers import expat

from odf import dc, teletype
from odf.element import Element
from odf.opendocument import load

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, source_of

_PARAGRAPHS = frozenset({"text:p", "text:h"})
# Deleted text kept for change tracking, and declarations, are not part of what the reader sees.
_HIDDEN = frozenset({"text:tracked-changes", "text:sequence-decls", "text:variable-decls", "office:forms"})
_ROW_GROUPS = frozenset({"table:table-header-rows", "table:table-rows", "table:table-row-group"})
_XML_PARTS = ("content.xml", "styles.xml", "meta.xml")


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _elements(node: Element) -> Iterator[Element]:
    return (child for child in node.childNodes if child.nodeType == child.ELEMENT_NODE)


def _rows(table: Element) -> Iterator[Element]:
    for child in _elements(table):
        if child.tagName == "table:table-row":
            yield child
        elif child.tagName in _ROW_GROUPS:
            yield from _rows(child)


def table_text(table: Element) -> str:
    """A table as lines of non-empty cells joined by ``" | "`` (cells spanned by a merge are skipped).

    Example:
        A 2×2 table ``[["Item", "Cost"], ["Tea", "3"]]`` → ``"Item | Cost\\nTea | 3"``.
    """
    lines = []
    for row in _rows(table):
        cells = []
        for cell in _elements(row):
            if cell.tagName == "table:table-cell":
                text = " ".join(_clean(teletype.extractText(p)) for p in _elements(cell))
                if text.strip():
                    cells.append(" ".join(text.split()))
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def blocks(node: Element) -> Iterator[str]:
    """The text blocks under ``node`` in order: each paragraph or heading, each table as one block.

    Example:
        A body with a heading "Plan", a list item "Ship it" and a table → ``"Plan"``, ``"Ship it"``, ``"a | b"``.
    """
    for child in _elements(node):
        if child.tagName in _PARAGRAPHS:
            text = _clean(teletype.extractText(child))
        elif child.tagName == "table:table":
            text = table_text(child)
        elif child.tagName in _HIDDEN:
            continue
        else:  # lists, sections, frames: containers of paragraphs
            yield from blocks(child)
            continue
        if text:
            yield text


def check_package(path: Path) -> None:
    """Refuse a package without ``content.xml`` or with an XML part that is not well-formed.

    odfpy does not raise on either: it skips a missing part and prints a part it cannot parse to
    stdout (all of it), then returns a document with the text missing, which would pass as empty.
    expat reads each part as a stream, so a huge part costs no memory here.

    Raises:
        ValueError: what is wrong, for :func:`~indexing.loaders.common.fail` to append.
        zipfile.BadZipFile: the file is not a zip archive.

    Example:
        A .odt whose content.xml was cut in half → ``ValueError("content.xml is not well-formed XML: …")``.
    """
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "content.xml" not in names:
            raise ValueError("no content.xml in the package")
        for name in _XML_PARTS:
            if name in names:
                parser = expat.ParserCreate()
                with archive.open(name) as stream:
                    try:
                        parser.ParseFile(stream)
                    except expat.ExpatError as exc:
                        raise ValueError(f"{name} is not well-formed XML: {exc}") from exc


def load_odt(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load an OpenDocument text as one document, blocks separated by blank lines.

    Args:
        path: the .odt file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document; the title is the document's ``dc:title`` metadata, else the file stem.

    Raises:
        LoaderError: the file is not a readable OpenDocument text, or holds no text (status "empty").

    Example:
        Heading "Otters" and paragraph "They hold hands." → ``Document(text="Otters\\n\\nThey hold hands.")``.
    """
    try:
        check_package(path)
        document = load(str(path))
        if document.mimetype != "application/vnd.oasis.opendocument.text":
            raise ValueError(f"its mimetype is {document.mimetype!r}, not an OpenDocument text")
        found = list(blocks(document.text))
        titles = document.meta.getElementsByType(dc.Title)
        title = " ".join(teletype.extractText(titles[0]).split()) if titles else ""
    except Exception as exc:  # zipfile, xml.sax and odfpy each raise their own types on damage
        raise fail(path, "not a readable OpenDocument text", exc) from exc
    if not found:
        raise fail(path, "no text in the document", status="empty")
    source = source_of(path)
    return [Document(id=source, source=source, title=title or path.stem, text="\n\n".join(found))]
