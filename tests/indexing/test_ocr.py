"""OCR: scanned PDF pages and image files are read by the real tesseract; text layers never are."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path

import pytesseract
import pytest
from pdf_testkit import render_text, write_fpdf, write_fpdf_with_scans, write_image_pdf
from PIL import Image
from pypdf import PdfReader, PdfWriter

from indexing.errors import ConfigError, LoaderError
from indexing.loaders import load_file
from indexing.loaders.ocr import prepare
from indexing.loaders.pdf import parse_page_starts
from indexing.types import Document

OTTERS = ["Otters hold hands while they sleep", "so that the current does not carry them apart."]
BASALT = ["Basalt columns form when thick lava", "cools slowly and cracks into prisms."]
INSTALL = "install Debian's tesseract-ocr and tesseract-ocr-eng (or pass --no-ocr)"


def words(lines: list[str]) -> list[str]:
    return " ".join(lines).split()


def only(docs: list[Document]) -> Document:
    assert len(docs) == 1
    return docs[0]


def test_image_only_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", [OTTERS, BASALT])
    assert all(not page.extract_text().strip() for page in PdfReader(path).pages)  # no text layer at all
    doc = only(load_file(path))
    assert doc.text.split() == words(OTTERS) + words(BASALT)
    assert doc.title == "scan"
    assert {k: doc.meta[k] for k in ("ocr", "ocr_pages", "pages")} == {"ocr": "tesseract", "ocr_pages": 2, "pages": 2}
    starts = parse_page_starts(doc.meta["page_starts"])
    assert starts[0] == 0 and doc.text[starts[1]:].split() == words(BASALT)


def test_mixed_pdf_ocrs_only_the_scanned_page_and_keeps_page_starts(tmp_path: Path) -> None:
    first, last = "The first page has a text layer.", "The third page has one too."
    path = write_fpdf_with_scans(tmp_path / "mixed.pdf", [first, OTTERS, last])
    doc = only(load_file(path))
    starts = parse_page_starts(doc.meta["page_starts"])
    assert doc.meta["ocr"] == "tesseract" and doc.meta["ocr_pages"] == 1 and doc.meta["pages"] == 3
    assert doc.text[: starts[1]].strip() == first
    assert doc.text[starts[1] : starts[2]].split() == words(OTTERS)
    assert doc.text[starts[2]:] == last


def test_page_with_a_text_layer_is_never_ocred(tmp_path: Path) -> None:
    # One page holding both a text layer and a picture of other words: only the text layer is read.
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Typed words on the page.")
    pdf.image(render_text(BASALT), x=10, y=60, w=190)
    pdf.output(str(tmp_path / "figure.pdf"))
    doc = only(load_file(tmp_path / "figure.pdf"))
    assert doc.text == "Typed words on the page."
    assert "ocr" not in doc.meta and "ocr_pages" not in doc.meta


def test_text_pdf_has_no_ocr_meta(tmp_path: Path) -> None:
    doc = only(load_file(write_fpdf(tmp_path / "typed.pdf", ["Plain typed text.", "Page two."])))
    assert doc.meta == {"pages": 2, "page_starts": "0,19"}


def test_rotated_scan_is_turned_upright(tmp_path: Path) -> None:
    # The scanner stored the page sideways and set /Rotate 90 so viewers show it upright.
    render_text(OTTERS).rotate(90, expand=True).save(tmp_path / "side.pdf", "PDF", resolution=200.0)
    writer = PdfWriter(clone_from=tmp_path / "side.pdf")
    writer.pages[0].rotate(90)
    writer.write(tmp_path / "upright.pdf")
    assert only(load_file(tmp_path / "upright.pdf")).text.split() == words(OTTERS)


def test_ocr_off_on_a_scan_says_so(tmp_path: Path) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", [OTTERS])
    with pytest.raises(LoaderError, match=r"scan\.pdf: no text layer \(scanned\?\) and OCR is off") as info:
        load_file(path, ocr=False)
    assert info.value.status == "empty"


def test_ocr_off_keeps_the_text_pages_of_a_mixed_pdf(tmp_path: Path) -> None:
    doc = only(load_file(write_fpdf_with_scans(tmp_path / "m.pdf", ["Typed page.", OTTERS]), ocr=False))
    assert (doc.text, doc.meta) == ("Typed page.", {"pages": 2, "page_starts": "0,11"})


def test_blank_pdf_with_ocr_on_has_nothing_to_read(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.write(tmp_path / "blank.pdf")
    with pytest.raises(LoaderError, match=r"blank\.pdf: no text layer \(scanned\?\) and no page images") as info:
        load_file(tmp_path / "blank.pdf")
    assert info.value.status == "empty"


def test_scan_of_a_blank_sheet_says_ocr_found_nothing(tmp_path: Path) -> None:
    Image.new("L", (1700, 2200), 255).save(tmp_path / "white.pdf", "PDF", resolution=200.0)
    with pytest.raises(LoaderError, match=r"white\.pdf: no text layer \(scanned\?\) and OCR found no text") as info:
        load_file(tmp_path / "white.pdf")
    assert info.value.status == "empty"


# ---------------------------------------------------------------------------------------------
# Image files


@pytest.mark.parametrize(("name", "mode"), [("note.png", "L"), ("photo.JPG", "RGB"), ("sign.jpeg", "RGB")])
def test_image_file_is_read(tmp_path: Path, name: str, mode: str) -> None:
    render_text(OTTERS).convert(mode).save(tmp_path / name)
    doc = only(load_file(tmp_path / name))
    assert doc.text.split() == words(OTTERS)
    assert (doc.title, doc.meta) == (Path(name).stem, {"ocr": "tesseract"})
    assert doc.id == doc.source == str((tmp_path / name).resolve())


def test_transparent_png_is_read(tmp_path: Path) -> None:
    render_text(BASALT, background=(0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert only(load_file(tmp_path / "clear.png")).text.split() == words(BASALT)


def test_multi_picture_jpeg_reads_only_its_first_picture(tmp_path: Path) -> None:
    first, second = render_text(OTTERS).convert("RGB"), render_text(BASALT).convert("RGB")
    first.save(tmp_path / "camera.jpg", "MPO", save_all=True, append_images=[second])
    assert Image.open(tmp_path / "camera.jpg").format == "MPO"
    doc = only(load_file(tmp_path / "camera.jpg"))
    assert doc.text.split() == words(OTTERS) and doc.meta == {"ocr": "tesseract"}


@pytest.mark.parametrize(
    ("mode", "out"), [("P", "RGBA"), ("CMYK", "RGB"), ("YCbCr", "RGB"), ("I", "RGB"), ("LA", "LA"), ("1", "1")]
)
def test_prepare_gives_a_png_mode_and_no_source_format(mode: str, out: str) -> None:
    image = Image.new(mode, (4, 4))
    image.format = "JPEG"
    prepared = prepare(image)
    assert (prepared.mode, prepared.format) == (out, None) and prepared is not image
    prepared.save(io.BytesIO(), "PNG")


def test_multi_page_tiff_records_its_pages(tmp_path: Path) -> None:
    pages = [render_text(OTTERS), Image.new("L", (900, 300), 255), render_text(BASALT)]
    pages[0].save(tmp_path / "fax.tif", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    doc = only(load_file(tmp_path / "fax.tif"))
    starts = parse_page_starts(doc.meta["page_starts"])
    assert doc.meta["pages"] == 3 and doc.meta["ocr_pages"] == 2 and doc.meta["ocr"] == "tesseract"
    assert doc.text[: starts[1]].split() == words(OTTERS)
    assert starts[1] == starts[2] and doc.text[starts[2]:].split() == words(BASALT)


def test_image_with_ocr_off(tmp_path: Path) -> None:
    render_text(OTTERS).save(tmp_path / "note.png")
    with pytest.raises(LoaderError, match=r"note\.png: an image has no text layer and OCR is off") as info:
        load_file(tmp_path / "note.png", ocr=False)
    assert info.value.status == "empty"


def test_image_without_text(tmp_path: Path) -> None:
    Image.new("RGB", (800, 600), (255, 255, 255)).save(tmp_path / "white.png")
    with pytest.raises(LoaderError, match=r"white\.png: OCR found no text in the image") as info:
        load_file(tmp_path / "white.png")
    assert info.value.status == "empty"


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    render_text(OTTERS).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cut.png", _png_bytes()[:400]),
        ("noise.png", random.Random(1).randbytes(3000)),
        ("noise.jpg", b"\xff\xd8\xff" + random.Random(2).randbytes(3000)),
        ("noise.tiff", b"II*\x00" + random.Random(3).randbytes(3000)),
        ("renamed.png", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"),
        ("renamed.jpeg", b"# Not a picture\n\nJust Markdown.\n"),
    ],
)
def test_bad_image_is_a_named_loader_error(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(LoaderError, match=rf"^{re.escape(str(tmp_path / name))}: not a readable image") as info:
        load_file(tmp_path / name)
    assert info.value.status == "failed"


# ---------------------------------------------------------------------------------------------
# Tesseract missing, or without the language


@pytest.mark.parametrize("name", ["scan.pdf", "note.png"])
def test_missing_tesseract_binary_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / name
    write_image_pdf(path, [OTTERS]) if name.endswith(".pdf") else render_text(OTTERS).save(path)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-such-tesseract"))
    with pytest.raises(LoaderError, match=rf"{re.escape(name)}: needs OCR but the tesseract binary") as info:
        load_file(path)
    assert INSTALL in str(info.value) and info.value.status == "failed"


def test_tesseract_not_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    render_text(OTTERS).save(tmp_path / "note.png")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(LoaderError, match=r"note\.png: needs OCR but the tesseract binary \('tesseract'\) was not"):
        load_file(tmp_path / "note.png")


def test_missing_tesseract_does_not_matter_for_text_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-such-tesseract"))
    assert only(load_file(write_fpdf(tmp_path / "typed.pdf", ["Typed."]))).text == "Typed."


def test_unknown_language_names_it_and_the_command(tmp_path: Path) -> None:
    render_text(OTTERS).save(tmp_path / "note.png")
    with pytest.raises(LoaderError, match=r"note\.png: OCR language 'xyz' is not installed for tesseract") as info:
        load_file(tmp_path / "note.png", ocr_lang="eng+xyz")
    assert "`tesseract --list-langs`" in str(info.value) and "installed: eng" in str(info.value)


@pytest.mark.parametrize("lang", ["", "eng deu", "eng+", "../eng", "+eng"])
def test_malformed_language_is_a_config_error(tmp_path: Path, lang: str) -> None:
    render_text(OTTERS).save(tmp_path / "note.png")
    with pytest.raises(ConfigError, match=rf"OCR language {re.escape(repr(lang))} is not a tesseract language list"):
        load_file(tmp_path / "note.png", ocr_lang=lang)


def test_ocr_flag_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ocr must be True or False, not 'no'"):
        load_file(tmp_path / "note.png", ocr="no")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# End to end: a scanned PDF is found by its words through the Workspace


@pytest.mark.slow
def test_workspace_indexes_and_finds_a_scanned_pdf(tmp_path: Path) -> None:
    from app.workspace import Workspace

    folder = tmp_path / "docs"
    folder.mkdir()
    write_image_pdf(folder / "scan.pdf", [OTTERS])
    (folder / "bread.txt").write_text("Bread is baked from flour, water and yeast.\n", encoding="utf-8")
    ws = Workspace(tmp_path / "index")
    report = ws.index([folder])
    assert report.skipped == [] and len(report.added) == 2
    hits = ws.search("otters hold hands while they sleep", mode="bm25")
    assert hits[0].source == str((folder / "scan.pdf").resolve())
    assert hits[0].meta["ocr"] == "tesseract"
