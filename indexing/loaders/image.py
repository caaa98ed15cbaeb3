"""Image loader (.png, .jpg/.jpeg, .tif/.tiff): the text tesseract reads in the picture.

A multi-page TIFF (the usual output of a document scanner or fax) keeps its page boundaries in
``page_starts``, exactly like a PDF, so a citation can name the page; its pages are read side by side.
An image file is read at its own resolution: its dpi tag (often 72 on a photo) says nothing reliable.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, source_of
from indexing.loaders.ocr import OCR_ENGINE, OCR_META, OCR_PAGES_META, read_pages, require_tesseract
from indexing.loaders.pdf import PAGE_STARTS, join_pages


def read_frames(path: Path) -> list[Image.Image]:
    """Decode every frame of an image file, turned upright by its EXIF orientation (phone photos).

    Raises:
        LoaderError: the file is not an image Pillow can decode (damaged, truncated, another format),
            or is so large it looks like a decompression bomb.

    Example:
        A 3-page fax ``fax.tif`` → three ``PIL.Image`` values; ``photo.jpg`` → one (the first frame of
        a multi-picture JPEG).
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns about damaged metadata (the pixels decode or fail on their own) and only warns
            # between its pixel limit and twice that, where an error is clearer for a file.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                # A TIFF's frames are pages; a JPEG's extra frames (MPO: stereo views, previews) repeat the first.
                sequence = ImageSequence.Iterator(image) if image.format == "TIFF" else [image]
                frames = []
                for frame in sequence:
                    frame.load()
                    frames.append(ImageOps.exif_transpose(frame.copy()))
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, … on damaged files
        raise fail(path, "not a readable image", exc) from exc
    return frames


def load_image(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load an image file as one document of the text OCR finds in it.

    Args:
        path: a .png, .jpg/.jpeg or .tif/.tiff file.
        options: ``ocr`` (must be on: an image has no text layer) and ``ocr_lang``.

    Returns:
        One document titled with the file stem and ``meta["ocr"] == "tesseract"``; a TIFF of several
        pages also has ``pages``, ``page_starts`` and ``ocr_pages`` (pages where OCR found text).

    Raises:
        LoaderError: not a readable image; OCR is off (status "empty"); tesseract or the language is
            missing; OCR found no text (status "empty").

    Example:
        ``sign.png`` showing "No parking" → ``Document(title="sign", text="No parking", meta={"ocr": "tesseract"})``.
    """
    options = options or LoadOptions()
    frames = read_frames(path)
    if not options.ocr:
        raise fail(path, "an image has no text layer and OCR is off; drop --no-ocr to read it with tesseract",
                   status="empty")  # fmt: skip
    require_tesseract(path, options.ocr_lang)
    many = len(frames) > 1
    pages = ((n, [frame]) for n, frame in enumerate(frames, start=1))
    texts = [text for _, text in read_pages(pages, path, options.ocr_lang, total=len(frames), named=many)]
    text, starts = join_pages(texts)
    if not text:
        raise fail(path, "OCR found no text in the image", status="empty")
    meta: dict[str, str | int] = {OCR_META: OCR_ENGINE}
    if many:
        meta.update({"pages": len(frames), PAGE_STARTS: ",".join(map(str, starts)),
                     OCR_PAGES_META: sum(bool(t) for t in texts)})  # fmt: skip
    source = source_of(path)
    return [Document(id=source, source=source, title=path.stem, text=text, meta=meta)]
