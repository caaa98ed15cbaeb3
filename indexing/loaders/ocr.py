"""OCR with Debian's tesseract (through pytesseract): text from page images and image files.

Only the loaders call this module, and only for what has no text of its own: PDF pages without a
text layer and image files. Failures name the file and the fix: a missing tesseract binary, a
language whose traineddata is not installed, an image that cannot be decoded.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

from PIL import Image

from indexing.loaders.common import fail

OCR_ENGINE = "tesseract"  # the value of a document's meta["ocr"]
OCR_META = "ocr"
OCR_PAGES_META = "ocr_pages"
INSTALL_HINT = "install Debian's tesseract-ocr and tesseract-ocr-eng (or pass --no-ocr)"
# A scan of one page takes about a second; a minute means tesseract is stuck on a pathological image.
OCR_TIMEOUT_S = 120
# Images this small are icons, rules or bullets: tesseract finds no words there and warns on each.
MIN_SIDE_PX = 16
_PNG_MODES = ("1", "L", "LA", "RGB", "RGBA")


def _pytesseract() -> ModuleType:
    # Imported on first use: pytesseract imports pandas, 0.3 s on every start of the CLI otherwise.
    import pytesseract

    return pytesseract


def require_tesseract(path: Path, lang: str) -> None:
    """Check that the tesseract binary runs and has every language of ``lang`` installed.

    Called once per file, only when the file has something to OCR, so a machine without tesseract
    still indexes everything else.

    Args:
        path: the file that needs OCR (named in the error).
        lang: tesseract languages joined by ``+``, e.g. ``"eng+deu"``.

    Raises:
        LoaderError: the binary is missing (with the packages to install), or a language's
            traineddata is not installed (naming the language and ``tesseract --list-langs``).

    Example:
        ``require_tesseract(Path("scan.pdf"), "eng")`` returns ``None`` where tesseract-ocr-eng is installed.
    """
    pytesseract = _pytesseract()
    cmd = str(pytesseract.pytesseract.tesseract_cmd)
    if shutil.which(cmd) is None:
        raise fail(path, f"needs OCR but the tesseract binary ({cmd!r}) was not found; {INSTALL_HINT}")
    try:
        installed = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        raise fail(path, f"needs OCR but tesseract could not be run; {INSTALL_HINT}", exc) from exc
    except pytesseract.TesseractError as exc:
        raise fail(path, "needs OCR but `tesseract --list-langs` failed; reinstall tesseract-ocr", exc) from exc
    missing = [code for code in lang.split("+") if code not in installed]
    if missing:
        have = ", ".join(sorted(installed)) or "none"
        raise fail(
            path,
            f"OCR language {'+'.join(missing)!r} is not installed for tesseract (installed: {have}); "
            "see `tesseract --list-langs` and install its tesseract-ocr-<lang> package, or pass another --ocr-lang",
        )


def prepare(image: Image.Image) -> Image.Image:
    """A copy of the image that pytesseract hands to tesseract losslessly, as a PNG.

    pytesseract re-saves an image in its source format (a JPEG from a PDF is re-compressed at
    quality 75; an MPO or CMYK one is refused) and flattens an alpha channel onto white itself;
    this turns palette images into RGBA and modes PNG cannot hold (CMYK, YCbCr, 32-bit) into RGB,
    and drops the source format so PNG is used.

    Example:
        >>> prepared = prepare(Image.new("CMYK", (4, 4)))
        >>> prepared.mode, prepared.format
        ('RGB', None)
    """
    if image.mode == "P":
        return image.convert("RGBA")
    if image.mode not in _PNG_MODES:
        return image.convert("RGB")
    return image.copy()  # a copy has no format


def ocr_image(image: Image.Image, path: Path, lang: str, *, where: str = "") -> str:
    """The stripped text tesseract reads in one image; ``""`` for an image too small to hold words.

    Call :func:`require_tesseract` for the file first, so a missing binary or language is reported
    once and clearly rather than as a failed image.

    Args:
        image: a decoded Pillow image (any mode).
        path: the file it came from (named in errors).
        lang: tesseract languages, e.g. ``"eng"``.
        where: the image's place in the file for errors, e.g. ``"page 3"``.

    Raises:
        LoaderError: tesseract failed or ran past :data:`OCR_TIMEOUT_S`.

    Example:
        An image of the words "Hello world" in black on white → ``"Hello world"``.
    """
    if min(image.size) < MIN_SIDE_PX:
        return ""
    pytesseract = _pytesseract()
    place = f" on {where}" if where else ""
    try:
        # No --dpi: passing the scan's resolution changed nothing on 100-300 dpi test pages.
        text = pytesseract.image_to_string(prepare(image), lang=lang, timeout=OCR_TIMEOUT_S)
    except pytesseract.TesseractNotFoundError as exc:
        raise fail(path, f"needs OCR but the tesseract binary was not found; {INSTALL_HINT}") from exc
    except pytesseract.TesseractError as exc:
        raise fail(path, f"OCR failed{place}", exc) from exc
    except RuntimeError as exc:  # pytesseract's timeout (TesseractError, also a RuntimeError, is caught above)
        raise fail(path, f"OCR{place} took longer than {OCR_TIMEOUT_S} s; pass --no-ocr to skip OCR") from exc
    return _tidy(text)


def _tidy(text: str) -> str:
    """Tesseract's output with trailing spaces and form feeds gone and runs of blank lines cut to one.

    Example:
        >>> _tidy("Line one  \\n\\n\\n\\nLine two\\n\\x0c")
        'Line one\\n\\nLine two'
    """
    lines = [line.rstrip() for line in text.replace("\x0c", "\n").splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()
