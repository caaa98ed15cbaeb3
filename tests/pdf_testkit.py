"""PDFs for the loader, OCR and citation tests: text layers laid out by fpdf2, scans drawn by Pillow."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont


def write_fpdf(path: Path, pages: list[str]) -> Path:
    """A PDF laid out by fpdf2: each page's text wrapped into lines; ``""`` makes a blank page."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


# ---------------------------------------------------------------------------------------------
# Scans: pages that exist only as pictures of text, for the OCR tests


def render_text(lines: list[str], *, size: int = 36, background: tuple[int, ...] | int = 255) -> Image.Image:
    """A white page image (Pillow's bundled font, black text) showing ``lines``, one under another.

    ``background`` picks the mode too: an int gives a greyscale page, a 4-tuple an RGBA one.
    """
    font = ImageFont.load_default(size=size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    height = (len(lines) + 1) * int(size * 1.6) + size
    mode = "L" if isinstance(background, int) else ("RGBA" if len(background) == 4 else "RGB")
    image = Image.new(mode, (width, height), background)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((size, size + n * int(size * 1.6)), line, fill=0 if mode == "L" else (0, 0, 0, 255), font=font)
    return image


def write_image_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF without a text layer, saved by Pillow: each page is one image of its lines of text."""
    images = [render_text(lines) for lines in pages]
    images[0].save(path, "PDF", resolution=200.0, save_all=True, append_images=images[1:])
    return path


def write_fpdf_with_scans(path: Path, pages: list[str | list[str]]) -> Path:
    """A PDF laid out by fpdf2 mixing text pages (a ``str``) and scanned pages (a ``list`` of lines, as an image)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for page in pages:
        pdf.add_page()
        if isinstance(page, str):
            pdf.multi_cell(0, 8, page)
        else:
            pdf.image(render_text(page), x=10, y=10, w=190)
    pdf.output(str(path))
    return path
