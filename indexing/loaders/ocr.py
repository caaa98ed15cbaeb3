"""OCR with Debian's tesseract: text from page images and image files, one single-threaded tesseract per CPU.

Only the loaders call this module, and only for what has no text of its own: PDF pages without a
text layer and image files. Pages are read side by side (:func:`read_pages`), each by its own
``tesseract`` process limited to one thread: tesseract's OpenMP threads fight over busy cores (a page
took 15 s with its default threads and 3 s with one on a loaded 2-core machine, ``bench/bench_ocr.py``).
Failures name the file, the page and the fix: a missing binary or language, an image that cannot be
decoded, a page tesseract fails on.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import ModuleType

from PIL import Image

from indexing.env import env_int
from indexing.loaders.common import fail

OCR_ENGINE = "tesseract"  # the value of a document's meta["ocr"]
OCR_META = "ocr"
OCR_PAGES_META = "ocr_pages"
INSTALL_HINT = "install Debian's tesseract-ocr and tesseract-ocr-eng (or pass --no-ocr)"
# A scan of one page takes about a second; a minute means tesseract is stuck on a pathological image.
OCR_TIMEOUT_S = 120
# Images this small are icons, rules or bullets: tesseract finds no words there and warns on each.
MIN_SIDE_PX = 16
# Full-page scans are resampled to this resolution. bench/bench_ocr.py renders manual pages that have a text
# layer at 100-600 dpi and scores the OCR against it: accuracy is flat from 150 dpi up (0.974-0.977 on 8 pages)
# while CPU time grows with the pixels (200 dpi: 0.84x the time of 300, 0.48x that of 600); 200 rather than
# 150 because at 3/4 of the resolution (8 pt footnotes beside 10-11 pt text) 150 loses 2.4 points and 200 none.
OCR_DPI = 200
# Scans within this factor of OCR_DPI are read as they are; others are resampled, at most 2x up (a 100-dpi
# fax gains 8 points; further up only costs time).
DPI_TOLERANCE = 1.15
MAX_UPSCALE = 2.0
OCR_WORKERS_ENV = "SIFT_OCR_WORKERS"
IMAGE_SEPARATOR = "\n\n"  # between the texts of a page's images, as between pages
PageProgress = Callable[[str, int, int], None]  # (stage, pages done, pages) as indexing.engines.Progress
_PROGRESS: ContextVar[PageProgress | None] = ContextVar("sift_ocr_progress", default=None)
_PNG_MODES = ("1", "L", "LA", "RGB", "RGBA")


def _pytesseract() -> ModuleType:
    # Imported on first use: pytesseract imports pandas, 0.3 s on every start of the CLI otherwise.
    import pytesseract

    return pytesseract


def ocr_workers() -> int:
    """How many tesseract processes read pages side by side: ``$SIFT_OCR_WORKERS``, else one per CPU.

    Raises:
        ConfigError: ``SIFT_OCR_WORKERS`` is not a whole number of 1 or more.

    Example:
        >>> ocr_workers() >= 1
        True
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return env_int(OCR_WORKERS_ENV, cpus, minimum=1)


@contextmanager
def reporting(progress: PageProgress | None) -> Iterator[None]:
    """Within the block, files with several pages to OCR report ``("scanned pages of NAME", done, total)``.

    The sync wraps its loading in this, so progress counts pages without every loader signature carrying a
    callback; a loader on another thread or machine (Ray) reports nothing.

    Example:
        >>> with reporting(lambda stage, done, total: print(stage, done, total)):   # doctest: +SKIP
        ...     load_file(Path("scan.pdf"))
        scanned pages of scan.pdf 1 2
        scanned pages of scan.pdf 2 2
    """
    token = _PROGRESS.set(progress)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


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
    """A copy of the image in a mode PNG and PNM hold losslessly, without its source format.

    Palette images become RGBA and modes PNG cannot hold (CMYK, YCbCr, 32-bit) RGB, so a JPEG from a
    PDF is never re-compressed and an MPO or CMYK one is not refused.

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


def pnm_bytes(image: Image.Image) -> bytes:
    """The picture tesseract reads for an image, as PNM: the image :func:`prepare` gives, alpha flattened onto white.

    The pixels pytesseract used to hand over as a PNG, so the text is the same; PNM because encoding it is
    free (a PNG of a 200-dpi page took 0.15 s, a tenth of tesseract's time, beside tesseract on busy cores).

    Example:
        >>> pnm_bytes(Image.new("LA", (4, 4)))[:2]
        b'P6'
    """
    image = prepare(image)
    if "A" in image.getbands():
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, (0, 0), image.getchannel("A"))
        image = background
    buffer = io.BytesIO()
    image.save(buffer, "PPM")  # P4 bilevel, P5 grey or P6 colour: the mode's own depth
    return buffer.getvalue()


def _tesseract(picture: bytes, lang: str) -> str:
    """Tesseract's text for one PNM picture (:func:`pnm_bytes`), on one thread (``OMP_THREAD_LIMIT=1``).

    Raises what :func:`subprocess.run` raises: FileNotFoundError, TimeoutExpired, CalledProcessError.
    """
    cmd = [str(_pytesseract().pytesseract.tesseract_cmd), "stdin", "stdout", "-l", lang]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(cmd, input=picture, capture_output=True, timeout=OCR_TIMEOUT_S, env=env, check=True)
    return done.stdout.decode("utf-8", errors="replace")


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
    place = f" on {where}" if where else ""
    try:
        # No --dpi: passing the scan's resolution changed nothing on 100-300 dpi test pages.
        return _tidy(_tesseract(pnm_bytes(image), lang))
    except FileNotFoundError as exc:
        raise fail(path, f"needs OCR but the tesseract binary was not found; {INSTALL_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise fail(path, f"OCR{place} took longer than {OCR_TIMEOUT_S} s; pass --no-ocr to skip OCR") from exc
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or b"").decode("utf-8", errors="replace").strip().splitlines()
        raise fail(path, f"OCR failed{place}: tesseract exited with {exc.returncode}",
                   RuntimeError(said[-1] if said else "")) from exc  # fmt: skip


def at_ocr_dpi(image: Image.Image, dpi: float) -> Image.Image:
    """The image resampled to :data:`OCR_DPI` when its resolution ``dpi`` is far from it (up at most 2x).

    Example:
        >>> at_ocr_dpi(Image.new("L", (2550, 3300)), 300).size    # a letter page scanned at 300 dpi
        (1700, 2200)
    """
    if dpi <= 0 or 1 / DPI_TOLERANCE <= OCR_DPI / dpi <= DPI_TOLERANCE:
        return image
    scale = min(OCR_DPI / dpi, MAX_UPSCALE)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    source = image.convert("L") if image.mode == "1" else image  # bilevel only resamples by nearest neighbour
    # Measured on the bench's pages: 300 -> 200 dpi by area averaging (BOX) reads as well as a 200-dpi render
    # (0.976; Lanczos 0.970), 100 -> 200 by bicubic best (0.966; Lanczos 0.957, as it is 0.885).
    return source.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)


def read_pages(
    pages: Iterable[tuple[int, Sequence[Image.Image]]], path: Path, lang: str, *, total: int, named: bool = True,
) -> Iterator[tuple[int, str]]:
    """Each page's OCR text, in the order given, read by :func:`ocr_workers` tesseracts side by side.

    ``pages`` is consumed lazily on this thread (a PDF reader is not thread-safe) and at most two pages per
    worker are decoded ahead, so a long scan never sits in memory whole. Each page's images are read in turn
    and their texts joined with blank lines. Progress is reported per page (see :func:`reporting`).

    Args:
        pages: ``(page number, images)`` pairs, numbers from 1.
        path: the file (named in errors and progress).
        lang: tesseract languages, e.g. ``"eng"``.
        total: how many pages ``pages`` holds (for progress).
        named: name the page in errors (``False`` for a one-picture image file).

    Raises:
        LoaderError: tesseract failed on a page (the first in page order, naming it).

    Example:
        >>> list(read_pages([(1, [otters]), (2, [basalt])], Path("scan.pdf"), "eng", total=2))  # doctest: +SKIP
        [(1, 'Otters hold hands ...'), (2, 'Basalt columns form ...')]
    """
    workers = max(1, min(ocr_workers(), total))
    progress = _PROGRESS.get() if total > 1 else None
    stage = f"scanned pages of {path.name}"
    pending: deque[tuple[int, Future[str]]] = deque()
    source = iter(pages)
    with ThreadPoolExecutor(workers, thread_name_prefix="sift-ocr") as pool:
        try:
            done = 0
            while True:
                for number, images in source:
                    where = f"page {number}" if named else ""
                    pending.append((number, pool.submit(_read_page, images, path, lang, where)))
                    if len(pending) >= 2 * workers:
                        break
                if not pending:
                    return
                number, future = pending.popleft()
                text = future.result()
                done += 1
                if progress is not None:
                    progress(stage, done, total)
                yield number, text
        finally:
            for _, future in pending:  # an error or an early close: pages not started are dropped
                future.cancel()


def _read_page(images: Sequence[Image.Image], path: Path, lang: str, where: str) -> str:
    texts = [ocr_image(image, path, lang, where=where) for image in images]
    return IMAGE_SEPARATOR.join(text for text in texts if text)


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

