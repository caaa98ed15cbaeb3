"""Which loader reads which file extension, and the one entry point ``load_file``."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from indexing.datatypes import Document
from indexing.errors import SiftError, UnsupportedFileError
from indexing.loaders.common import IMAGE_EXTENSIONS, ZIP_FORMATS, Loader, LoadOptions, check_zip, fail
from indexing.loaders.tabular import load_csv, load_jsonl
from indexing.loaders.text import load_text
from indexing.loaders.wiki import load_wiki_json


def _lazy(module: str, name: str) -> Loader:
    """``indexing.loaders.<module>.<name>``, imported on the first file of its type: a command that reads no PDF
    never pays for pypdf (nor for bs4, python-docx, python-pptx, openpyxl, odfpy, EbookLib or Pillow)."""

    def load(*args, **kwargs):  # type: ignore[no-untyped-def]
        return getattr(importlib.import_module(f"indexing.loaders.{module}"), name)(*args, **kwargs)

    load.__name__ = load.__qualname__ = name
    return load


LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_text,
    ".markdown": load_text,
    ".rst": load_text,
    ".html": _lazy("webpage", "load_html"),
    ".htm": _lazy("webpage", "load_html"),
    ".pdf": _lazy("pdf", "load_pdf"),
    ".docx": _lazy("word", "load_docx"),
    ".csv": load_csv,
    ".jsonl": load_jsonl,
    ".json": load_wiki_json,
    ".epub": _lazy("ebook", "load_epub"),
    ".pptx": _lazy("slides", "load_pptx"),
    ".xlsx": _lazy("spreadsheet", "load_xlsx"),
    ".odt": _lazy("opendocument", "load_odt"),
    ".eml": _lazy("mail", "load_eml"),
    **dict.fromkeys(IMAGE_EXTENSIONS, _lazy("image", "load_image")),
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
