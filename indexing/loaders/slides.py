"""PowerPoint (.pptx) loader (python-pptx): every slide's text, tables and speaker notes, slide by slide.

Slide boundaries survive as ``meta["slide_starts"]``, built like a PDF's ``page_starts``
(:func:`indexing.loaders.pdf.join_pages`): one character offset per slide, so a citation can name
the slide to open.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.shapes.base import BaseShape
from pptx.slide import Slide

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, source_of
from indexing.loaders.pdf import join_pages

SLIDE_STARTS = "slide_starts"  # document meta key, same format as PDF page_starts


def _clean(text: str) -> str:
    # PowerPoint stores a soft line break (Shift+Enter) as a vertical tab.
    lines = (" ".join(line.split()) for line in text.replace("\v", "\n").splitlines())
    return "\n".join(line for line in lines if line)


def _shape_texts(shapes: Iterable[BaseShape]) -> Iterator[str]:
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = (" | ".join(c for c in (_clean(cell.text) for cell in row.cells) if c) for row in shape.table.rows)
            yield "\n".join(row for row in rows if row)
        elif shape.has_text_frame:
            yield _clean(shape.text_frame.text)


def slide_text(slide: Slide) -> str:
    """One slide's text: its shapes in drawing order (tables as ``a | b`` rows), then its speaker notes.

    Example:
        A slide titled "Plan" with a bullet "Ship it" and the note "Smile" → ``"Plan\\nShip it\\nSmile"``.
    """
    blocks = [text for text in _shape_texts(slide.shapes) if text]
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = _clean(slide.notes_slide.notes_text_frame.text)
        if notes:
            blocks.append(notes)
    return "\n".join(blocks)


def _first_slide_title(slides: list[Slide]) -> str:
    for slide in slides:
        title = slide.shapes.title
        if title is not None and _clean(title.text_frame.text):
            return " ".join(title.text_frame.text.split())
    return ""


def load_pptx(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a presentation as one document, slides separated by blank lines.

    Args:
        path: the .pptx file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document with ``meta == {"slides": n, "slide_starts": "0,…"}`` (one offset per slide; a
        slide without text has the offset of the next slide's text). The title is the core-properties
        title, else the first slide title, else the file stem.

    Raises:
        LoaderError: the file is not a readable .pptx, or no slide holds text (status "empty").

    Example:
        Slides "Plan / Ship it" and "Costs" → ``Document(title="Plan", text="Plan\\nShip it\\n\\nCosts",
        meta={"slides": 2, "slide_starts": "0,14"})``.
    """
    try:
        presentation = Presentation(str(path))
        slides = list(presentation.slides)
        texts = [slide_text(slide) for slide in slides]
        title = " ".join((presentation.core_properties.title or "").split()) or _first_slide_title(slides)
    except Exception as exc:  # zipfile, lxml and python-pptx each raise their own types on damage
        raise fail(path, "not a readable PowerPoint presentation", exc) from exc
    text, starts = join_pages(texts)
    if not text:
        raise fail(path, "no text on any slide", status="empty")
    source = source_of(path)
    meta = {"slides": len(slides), SLIDE_STARTS: ",".join(map(str, starts))}
    return [Document(id=source, source=source, title=title or path.stem, text=text, meta=meta)]
