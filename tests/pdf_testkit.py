"""PDFs with a real text layer for the loader and citation tests, laid out by fpdf2."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF


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
