"""Which loader reads which file extension, and the one entry point ``load_file``."""

from __future__ import annotations

import os
from pathlib import Path

from indexing.errors import SiftError, UnsupportedFileError
from indexing.loaders.common import ZIP_FORMATS, Loader, LoadOptions, check_zip, fail
from indexing.loaders.ebook import load_epub
from indexing.loaders.html import load_html
from indexing.loaders.image import IMAGE_EXTENSIONS, load_image
from indexing.loaders.mail import load_eml
from indexing.loaders.opendocument import load_odt
from indexing.loaders.pdf import load_pdf
from indexing.loaders.slides import load_pptx
from indexing.loaders.spreadsheet import load_xlsx
from indexing.loaders.tabular import load_csv, load_jsonl
from indexing.loaders.text import load_text
from indexing.loaders.wiki import load_wiki_json
from indexing.loaders.word import load_docx
from indexing.types import Document

LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_text,
    ".markdown": load_text,
    ".rst": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".csv": load_csv,
    ".jsonl": load_jsonl,
    ".json": load_wiki_json,
    ".epub": load_epub,
    ".pptx": load_pptx,
    ".xlsx": load_xlsx,
    ".odt": load_odt,
    ".eml": load_eml,
    **dict.fromkeys(IMAGE_EXTENSIONS, load_image),
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(LOADERS)


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Whether some loader reads this file, judged by its extension alone (any case).

    Example:
        >>> is_supported(Path("Notes.MD")), is_supported(Path("photo.JPG")), is_supported(Path("song.mp3"))
        (True, True, False)
    """
    return Path(path).suffix.lower() in LOADERS


def load_file(
    path: Path,
    *,
    text_column: str | None = None,
    title_column: str | None = None,
    ocr: bool = True,
    ocr_lang: str = "eng",
) -> list[Document]:
    """Read one file into documents with the loader registered for its extension.

    Args:
        path: the file; its ``source`` is recorded as the resolved absolute path.
        text_column: CSV/JSONL only: the column holding each row's text (default: the first of
            text, content, body, extract, summary, description).
        title_column: CSV/JSONL only: the column holding each row's title (default: title or name).
        ocr: read images, and PDF pages without a text layer, with tesseract.
        ocr_lang: tesseract language(s) for OCR, e.g. ``"eng"`` or ``"eng+deu"``.

    Returns:
        One document per file, or one per row (CSV, JSONL), article (Wikipedia .json) or sheet (.xlsx).

    Raises:
        UnsupportedFileError: no loader handles the extension; the message lists those that do.
        LoaderError: the file is missing, unreadable, corrupt, binary, undecodable, empty or encrypted;
            its ``status`` says which ("failed", "empty", "encrypted").
        ConfigError: ``ocr`` is not a bool or ``ocr_lang`` is not a tesseract language list.

    Example:
        ``load_file(Path("notes.md"))`` → ``[Document(id="/abs/notes.md", title="Plans", …)]``;
        ``load_file(Path("reviews.csv"), text_column="review")`` → one document per row;
        ``load_file(Path("scan.png"), ocr_lang="deu")`` → one document read by tesseract.
    """
    options = LoadOptions(text_column=text_column, title_column=title_column, ocr=ocr, ocr_lang=ocr_lang)
    path = Path(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        kind = f"file type {path.suffix!r}" if path.suffix else "file without an extension"
        supported = ", ".join(sorted(LOADERS))
        raise UnsupportedFileError(f"{path}: unsupported {kind}; supported extensions: {supported}")
    if not path.exists():
        raise fail(path, "no such file")
    if not path.is_file():
        raise fail(path, "not a regular file")
    try:
        if path.stat().st_size == 0:
            raise fail(path, "empty", status="empty")
        if path.suffix.lower() in ZIP_FORMATS:
            check_zip(path)
        return loader(path, options)
    except SiftError:
        raise
    except Exception as exc:  # a loader missed a library error; still report it against the file
        raise fail(path, f"could not be read: {type(exc).__name__}", exc) from exc
