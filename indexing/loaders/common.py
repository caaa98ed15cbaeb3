"""What every loader shares: options, the loader signature, error wording and text decoding."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexing.datatypes import Document
from indexing.errors import ConfigError, LoaderError, LoaderStatus

# Only the head of a file is sniffed for NUL bytes: enough to catch binaries, cheap on big files.
BINARY_SNIFF_BYTES = 8192
# Tesseract language codes ("eng", "chi_sim", "script/Latin") joined by "+", as `tesseract -l` takes them.
_OCR_LANG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_/-]*(\+[A-Za-z0-9_][A-Za-z0-9_/-]*)*")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # read by OCR (indexing.loaders.image)


@dataclass(frozen=True)
class LoadOptions:
    """Per-call options: columns for the tabular loaders (CSV, JSONL), OCR for PDFs and images.

    Attributes:
        text_column: column holding each row's text; ``None`` picks a usual name ("text", …).
        title_column: column holding each row's title; ``None`` tries "title", then "name".
        ocr: read PDF pages without a text layer, and images, with tesseract.
        ocr_lang: tesseract language(s), e.g. ``"eng"`` or ``"eng+deu"`` (see ``tesseract --list-langs``).

    Raises:
        ConfigError: ``ocr`` is not a bool or ``ocr_lang`` is not a tesseract language list.

    Example:
        >>> LoadOptions(ocr_lang="eng+deu").ocr
        True
    """

    text_column: str | None = None
    title_column: str | None = None
    ocr: bool = True
    ocr_lang: str = "eng"

    def __post_init__(self) -> None:
        if not isinstance(self.ocr, bool):
            raise ConfigError(f"ocr must be True or False, not {self.ocr!r}")
        if not isinstance(self.ocr_lang, str) or not _OCR_LANG.fullmatch(self.ocr_lang):
            raise ConfigError(
                f"OCR language {self.ocr_lang!r} is not a tesseract language list such as 'eng' or 'eng+deu'; "
                "see `tesseract --list-langs`"
            )


Loader = Callable[[Path, LoadOptions], list[Document]]
"""A loader reads one file into documents, e.g. ``load_text(Path("a.txt"), LoadOptions())``."""


def source_of(path: Path) -> str:
    """The ``source`` string of a file: its absolute, resolved path.

    Example:
        >>> source_of(Path("/tmp/../tmp/a.txt"))
        '/tmp/a.txt'
    """
    return str(path.resolve())


def fail(
    path: Path, reason: str, cause: BaseException | None = None, status: LoaderStatus = "failed"
) -> LoaderError:
    """Build a :class:`LoaderError` that names the file, the reason and the library's own words.

    Args:
        path: the file at fault.
        reason: what is wrong, and the fix where there is one.
        cause: the library exception, whose message is appended in parentheses.
        status: the report's class for the file: "failed", "empty" or "encrypted".

    Example:
        >>> str(fail(Path("notes.pdf"), "not a readable PDF", ValueError("EOF marker not found")))
        'notes.pdf: not a readable PDF (EOF marker not found)'
        >>> fail(Path("blank.txt"), "empty", status="empty").status
        'empty'
    """
    if cause is not None:
        detail = str(cause).strip() or type(cause).__name__
        reason = f"{reason} ({detail})"
    return LoaderError(f"{path}: {reason}", status=status)


def read_bytes(path: Path, kind: str) -> bytes:
    """The file's bytes, refusing an unreadable file or a binary one (NUL bytes in its head) as not ``kind``.

    Example:
        A file starting ``b"\\x00\\x01"`` raises ``"<path>: binary file (NUL bytes found), not text"``.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(path, "cannot be read", exc) from exc
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise fail(path, f"binary file (NUL bytes found), not {kind}")
    return data


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
    data = read_bytes(path, "text")
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
        raise fail(path, "empty (only whitespace)" if text else "empty", status="empty")
    return text, meta


# A member that inflates past this, and over 100 times its compressed size, is a zip bomb, not a document:
# ordinary Office and EPUB parts stay far below it (a 300-page novel's text is about 1 MiB).
MAX_MEMBER_BYTES = 8 << 20
MAX_RATIO = 100
# The same rule over the whole archive: many members each under MAX_MEMBER_BYTES (the parsers read them
# all) that add up past this at over MAX_RATIO times the archive's compressed total are a bomb too. A big
# real deck or workbook either stays under it or compresses far less (images and media are stored as is).
MAX_TOTAL_BYTES = 64 << 20
ZIP_FORMATS = frozenset({".docx", ".pptx", ".xlsx", ".odt", ".epub"})


def check_zip(path: Path) -> None:
    """Refuse a zip-based document that would inflate to a zip bomb, before any parser reads it.

    A file that is not a zip at all is left to its loader, whose error says so.

    Raises:
        LoaderError: a member inflates past :data:`MAX_MEMBER_BYTES`, or all members together past
            :data:`MAX_TOTAL_BYTES`, at over :data:`MAX_RATIO` times their compressed size.

    Example:
        A .docx whose ``word/document.xml`` is 85 KiB compressed and 16 MiB inflated is refused in
        milliseconds with "…word/document.xml inflates 16 MiB from 85 KiB (a zip bomb?); not read"; one
        holding twelve 6 MiB parts with "…12 members inflate 72 MiB in all from 74 KiB (a zip bomb?); not read".
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    for info in members:
        if info.file_size > MAX_MEMBER_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise fail(path, f"{info.filename} inflates {info.file_size >> 20} MiB from "
                       f"{info.compress_size >> 10} KiB (a zip bomb?); not read")
    total, packed = sum(i.file_size for i in members), sum(i.compress_size for i in members)
    if total > MAX_TOTAL_BYTES and total > MAX_RATIO * max(packed, 1):
        raise fail(path, f"{len(members)} members inflate {total >> 20} MiB in all from {packed >> 10} KiB "
                   "(a zip bomb?); not read")
