"""PDF loader (pypdf): the text layer of every page, pages separated by blank lines.

Page boundaries survive as document metadata so a citation can name the page to open:
``page_starts`` holds, for every page of the PDF in order, the character offset where its text
starts (see :func:`join_pages`). A page without a text layer (a scan) is read by OCR from the
images pypdf extracts from it (:mod:`indexing.loaders.ocr`), pages side by side, a full-page scan
resampled to :data:`~indexing.loaders.ocr.OCR_DPI`; a page with a text layer never is.
Rendering whole pages would also catch vector-drawn text, but needs a rasteriser (pdfium, poppler)
that is not a dependency; scanners store each page as an image, which is what this reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image
from pypdf import PageObject, PdfReader

from indexing.datatypes import Document
from indexing.errors import LoaderError
from indexing.loaders.common import LoadOptions, fail, source_of
from indexing.loaders.ocr import (
    OCR_ENGINE,
    OCR_META,
    OCR_PAGES_META,
    at_ocr_dpi,
    read_pages,
    require_tesseract,
)

PAGE_SEPARATOR = "\n\n"
PAGE_STARTS = "page_starts"  # document meta key; read back with parse_page_starts
# A page's one image is a full-page scan when its sides' ratio is within 3% of the page's (a scanner's own page).
SCAN_SHAPE_TOLERANCE = 0.03


def _open(path: Path) -> PdfReader:
    try:
        reader = PdfReader(path)
        # Many PDFs are encrypted with an empty user password only to restrict editing.
        locked = reader.is_encrypted and not reader.decrypt("")
    except Exception as exc:  # pypdf raises many types (PdfReadError, KeyError, …) on damaged files
        raise fail(path, "not a readable PDF", exc) from exc
    if locked:
        raise fail(path, "encrypted PDF; a password is needed to read it", status="encrypted")
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


def page_images(page: PageObject, path: Path, number: int) -> list[Image.Image]:
    """The decoded images drawn on one page, turned upright by the page's ``/Rotate``.

    Args:
        page: the pypdf page.
        path: the PDF (named in errors).
        number: the 1-based page number (named in errors).

    Raises:
        LoaderError: an image's data cannot be decoded (e.g. JBIG2 without its decoder).

    Example:
        A scanned page stored as one JPEG → ``[<PIL.Image mode=L size=2480x3508>]``.
    """
    try:
        images = [file.image for file in page.images]
    except Exception as exc:  # pypdf and Pillow raise many types on undecodable image streams
        reason = f"page {number}: its image could not be decoded for OCR; pass --no-ocr to skip it"
        raise fail(path, reason, exc) from exc
    rotation = page.rotation % 360
    # /Rotate turns the page clockwise for display; Pillow's rotate() turns counter-clockwise.
    return [image.rotate(-rotation, expand=True) if rotation else image for image in images if image is not None]


def ocr_empty_pages(reader: PdfReader, pages: list[str], path: Path, lang: str) -> tuple[list[str], int, int]:
    """Fill the pages without a text layer with OCR of their images, pages side by side, in page order.

    Args:
        reader: the open PDF.
        pages: the text layer of every page (:func:`page_texts`); pages with text are kept as they are.
        path: the PDF (named in errors).
        lang: tesseract languages, e.g. ``"eng"``.

    Returns:
        ``(pages, ocr_pages, scanned)``: the page texts with OCR filled in, how many pages got their
        text from OCR, and how many empty pages had images to read.

    Raises:
        LoaderError: tesseract or a language is missing, an image cannot be decoded, or OCR fails
            (naming the page).

    Example:
        A 3-page PDF whose middle page is a scan of "Results" → ``(["Intro.", "Results", "End."], 1, 1)``.
    """
    scanned = [i for i, text in enumerate(pages) if not text and _has_images(reader.pages[i], path, i + 1)]
    if not scanned:
        return pages, 0, 0
    require_tesseract(path, lang)
    filled = list(pages)
    for number, text in read_pages(_scans(reader, scanned, path), path, lang, total=len(scanned)):
        filled[number - 1] = text
    return filled, sum(bool(filled[i]) for i in scanned), len(scanned)


def _has_images(page: PageObject, path: Path, number: int) -> bool:
    try:
        return len(page.images) > 0  # lists the page's images without decoding them
    except Exception as exc:  # pypdf raises many types on damaged resources
        raise fail(path, f"page {number}: its images could not be listed for OCR; pass --no-ocr to skip it",
                   exc) from exc  # fmt: skip


def _scans(reader: PdfReader, indexes: list[int], path: Path) -> Iterator[tuple[int, list[Image.Image]]]:
    """``(page number, images)`` of each page, decoded one at a time; a full-page scan at :data:`OCR_DPI`."""
    for i in indexes:
        page = reader.pages[i]
        images = page_images(page, path, i + 1)
        if len(images) == 1:
            images = [at_ocr_dpi(images[0], scan_dpi(page, images[0]))]
        yield i + 1, images


def scan_dpi(page: PageObject, image: Image.Image) -> float:
    """The resolution of a full-page scan: its pixels over the page's inches; ``0.0`` when the image's shape is
    not the page's (a figure, a strip), whose resolution the page size does not tell.

    Example:
        A letter page (612 x 792 pt) holding one 1700 x 2200 px image → ``200.0``.
    """
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    if min(width, height) <= 0 or min(image.size) <= 0:
        return 0.0
    page_long, page_short = max(width, height), min(width, height)
    image_long, image_short = max(image.size), min(image.size)
    if abs(image_long / image_short - page_long / page_short) > SCAN_SHAPE_TOLERANCE * page_long / page_short:
        return 0.0
    return image_long / (page_long / 72)


def _no_text(path: Path, ocr: bool, scanned: int) -> LoaderError:
    if not ocr:
        reason = "no text layer (scanned?) and OCR is off; drop --no-ocr to read it with tesseract"
    elif scanned:
        reason = f"no text layer (scanned?) and OCR found no text in the images of its {scanned} page(s)"
    else:
        reason = "no text layer (scanned?) and no page images to OCR: its pages are blank"
    return fail(path, reason, status="empty")


def load_pdf(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a PDF's text layer, with OCR of pages that have none, as one document.

    Args:
        path: the PDF file.
        options: ``ocr`` and ``ocr_lang`` say whether and in which language pages without a text
            layer are read by tesseract (default: yes, English).

    Returns:
        One document with ``meta == {"pages": n, "page_starts": "0,…"}``: the page count and the
        comma-separated character offset where each page's text starts (one per page, in order; an
        empty page has the offset of the next page's text). When OCR supplied the text of some pages,
        ``meta`` also holds ``"ocr": "tesseract"`` and ``"ocr_pages"``, their count. Its title is the
        PDF's metadata title, else the file stem.

    Raises:
        LoaderError: the file is not a readable PDF, is encrypted (status "encrypted"), has no text
            (status "empty"), or needs OCR that cannot run (tesseract or the language missing).

    Example:
        A two-page ``report.pdf`` → ``Document(text="page one\\n\\npage two",
        meta={"pages": 2, "page_starts": "0,10"})``; a one-page scan of "Hello" →
        ``Document(text="Hello", meta={"pages": 1, "page_starts": "0", "ocr": "tesseract", "ocr_pages": 1})``.
    """
    options = options or LoadOptions()
    reader = _open(path)
    pages = page_texts(reader, path)
    ocr_pages = scanned = 0
    if options.ocr:
        pages, ocr_pages, scanned = ocr_empty_pages(reader, pages, path, options.ocr_lang)
    text, starts = join_pages(pages)
    if not text:
        raise _no_text(path, options.ocr, scanned)
    source = source_of(path)
    title = _metadata_title(reader) or path.stem
    meta: dict[str, str | int] = {"pages": len(pages), PAGE_STARTS: ",".join(map(str, starts))}
    if ocr_pages:
        meta.update({OCR_META: OCR_ENGINE, OCR_PAGES_META: ocr_pages})
    return [Document(id=source, source=source, title=title, text=text, meta=meta)]
