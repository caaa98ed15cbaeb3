"""OCR: scanned PDF pages and image files are read by the real tesseract; text layers never are."""

from __future__ import annotations

import io
import os
import random
import re
import subprocess
import threading
from pathlib import Path

import pytesseract
import pytest
from pdf_testkit import render_text, write_fpdf, write_fpdf_with_scans, write_image_pdf
from PIL import Image
from pypdf import PdfReader, PdfWriter

from indexing.datatypes import Document
from indexing.errors import ConfigError, LoaderError
from indexing.loaders import load_file, ocr
from indexing.loaders.ocr import _tidy, prepare
from indexing.loaders.pdf import parse_page_starts, scan_dpi

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


# ---------------------------------------------------------------------------------------------
# Pages side by side: one single-threaded tesseract per worker, the same text, in page order

PAGES = [OTTERS, BASALT, ["Glaciers carve valleys", "over thousands of years."], ["Bees dance to point", "at flowers."]]


class Tesseracts:
    """Wraps the one function that runs a tesseract process: counts the runs, notes which page each read.

    A page is told by its picture's size (:func:`sizes_of`); ``before`` and ``after`` run around the real
    tesseract with the page's index (-1: not one of ``pages``), so a test can hold one page back.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pages: list[tuple[int, int]] | None = None) -> None:
        self.pages = pages or []
        self.sizes: list[tuple[int, int]] = []
        self.finished: list[int] = []
        self.lock = threading.Lock()
        self.original = ocr._tesseract
        monkeypatch.setattr(ocr, "_tesseract", self.run)

    def before(self, page: int) -> None: ...

    def after(self, page: int) -> None: ...

    def run(self, picture: bytes, lang: str) -> str:
        size = Image.open(io.BytesIO(picture)).size
        page = self.pages.index(size) if size in self.pages else -1
        with self.lock:
            self.sizes.append(size)
        self.before(page)
        text = self.original(picture, lang)
        with self.lock:
            self.finished.append(page)
        self.after(page)
        return text

    @property
    def calls(self) -> int:
        return len(self.sizes)


def sizes_of(pages: list[list[str]]) -> list[tuple[int, int]]:
    sizes = [render_text(lines).size for lines in pages]
    assert len(set(sizes)) == len(sizes), "pages told apart by their size"
    return sizes


def test_pages_side_by_side_read_what_one_tesseract_at_a_time_and_pytesseract_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", PAGES)
    monkeypatch.setenv("SIFT_OCR_WORKERS", "1")
    one = only(load_file(path))
    monkeypatch.setenv("SIFT_OCR_WORKERS", "3")
    three = only(load_file(path))
    assert (three.text, three.meta) == (one.text, one.meta)
    # The path before pages went side by side: pytesseract with tesseract's own threads, one page after another.
    before = [_tidy(pytesseract.image_to_string(prepare(page.images[0].image), lang="eng"))
              for page in PdfReader(path).pages]
    assert three.text == "\n\n".join(before) and three.text.split() == sum(map(words, PAGES), [])


def test_pages_finished_out_of_order_keep_page_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", PAGES[:3])
    monkeypatch.setenv("SIFT_OCR_WORKERS", "3")
    runs = Tesseracts(monkeypatch, sizes_of(PAGES[:3]))
    third_done = threading.Event()

    def hold_the_first(page: int) -> None:
        if page == 0 and not third_done.wait(timeout=120):
            raise AssertionError("the third page was never read while the first waited")

    runs.before = hold_the_first  # type: ignore[method-assign]
    runs.after = lambda page: page == 2 and third_done.set()  # type: ignore[method-assign]
    doc = only(load_file(path))
    assert runs.finished.index(2) < runs.finished.index(0), "the first page was read last"
    starts = parse_page_starts(doc.meta["page_starts"])
    assert [doc.text[a:b].split() for a, b in zip(starts, [*starts[1:], len(doc.text)])] == [
        words(lines) for lines in PAGES[:3]
    ]


def test_two_workers_run_two_tesseracts_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", PAGES[:2])
    monkeypatch.setenv("SIFT_OCR_WORKERS", "2")
    runs = Tesseracts(monkeypatch)
    both = threading.Barrier(2, timeout=120)  # broken (an error) unless the two pages are read at the same time
    runs.before = lambda page: both.wait()  # type: ignore[method-assign]
    assert only(load_file(path)).text.split() == words(OTTERS) + words(BASALT)


def test_one_worker_runs_one_tesseract_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", PAGES[:3])
    monkeypatch.setenv("SIFT_OCR_WORKERS", "1")
    runs = Tesseracts(monkeypatch)
    running: list[int] = [0, 0]  # now, most at once

    def enter(page: int) -> None:
        with runs.lock:
            running[0] += 1
            running[1] = max(running)

    def leave(page: int) -> None:
        with runs.lock:
            running[0] -= 1

    runs.before, runs.after = enter, leave  # type: ignore[method-assign]
    load_file(path)
    assert runs.calls == 3 and running[1] == 1


@pytest.mark.parametrize(("value", "workers"), [("3", 3), (" 1 ", 1), ("16", 16)])
def test_worker_count_is_sift_ocr_workers(monkeypatch: pytest.MonkeyPatch, value: str, workers: int) -> None:
    monkeypatch.setenv("SIFT_OCR_WORKERS", value)
    assert ocr.ocr_workers() == workers


def test_worker_count_defaults_to_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIFT_OCR_WORKERS", raising=False)
    assert ocr.ocr_workers() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["0", "two", "1.5", "-2"])
def test_bad_worker_count_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", [OTTERS])
    monkeypatch.setenv("SIFT_OCR_WORKERS", value)
    with pytest.raises(ConfigError, match=rf"SIFT_OCR_WORKERS must be a whole number, 1 or more, got '{value}'"):
        load_file(path)


def test_a_failed_page_names_the_file_and_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", PAGES[:3])
    runs = Tesseracts(monkeypatch, sizes_of(PAGES[:3]))

    def refuse(page: int) -> None:
        if page == 1:
            raise subprocess.CalledProcessError(1, ["tesseract"], stderr=b"Warning\nError in pixReadMem: bad data\n")

    runs.before = refuse  # type: ignore[method-assign]
    with pytest.raises(LoaderError, match=r"scan\.pdf: OCR failed on page 2: tesseract exited with 1 "
                                          r"\(Error in pixReadMem: bad data\)$") as info:
        load_file(path)
    assert info.value.status == "failed"


def test_a_page_past_the_time_limit_names_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    render_text(OTTERS).save(tmp_path / "fax.tif", save_all=True, append_images=[render_text(BASALT)])
    runs = Tesseracts(monkeypatch, sizes_of([OTTERS, BASALT]))

    def stall(page: int) -> None:
        if page == 1:
            raise subprocess.TimeoutExpired(["tesseract"], ocr.OCR_TIMEOUT_S)

    runs.before = stall  # type: ignore[method-assign]
    with pytest.raises(LoaderError, match=r"fax\.tif: OCR on page 2 took longer than 120 s; pass --no-ocr"):
        load_file(tmp_path / "fax.tif")


def test_progress_counts_scanned_pages(tmp_path: Path) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", PAGES[:3])
    seen: list[tuple[str, int, int]] = []
    with ocr.reporting(lambda *step: seen.append(step)):
        load_file(path)
        load_file(write_image_pdf(tmp_path / "one.pdf", [OTTERS]))  # a single page: no bar
    assert seen == [("scanned pages of scan.pdf", n, 3) for n in (1, 2, 3)]


# ---------------------------------------------------------------------------------------------
# The resolution tesseract reads a full-page scan at


def letter_scan(path: Path, dpi: int) -> Path:
    """A letter-size page scanned at ``dpi``: the text drawn on a white sheet of 8.5 x 11 inches."""
    sheet = Image.new("L", (round(8.5 * dpi), 11 * dpi), 255)
    text = render_text(OTTERS, size=round(36 * dpi / 200))
    sheet.paste(text, (dpi // 2, dpi // 2))
    sheet.save(path, "PDF", resolution=float(dpi))
    return path


def test_a_300_dpi_scan_is_read_at_ocr_dpi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Tesseracts(monkeypatch)
    doc = only(load_file(letter_scan(tmp_path / "scan.pdf", 300)))
    assert ocr.OCR_DPI == 200 and runs.sizes == [(1700, 2200)]
    assert doc.text.split() == words(OTTERS)


def test_a_figure_is_read_at_its_own_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Tesseracts(monkeypatch)
    only(load_file(write_fpdf_with_scans(tmp_path / "mixed.pdf", ["Typed.", OTTERS])))
    assert runs.sizes == [render_text(OTTERS).size]  # its shape is not the page's: no resolution to trust


@pytest.mark.parametrize(
    ("size", "dpi", "out"),
    [
        ((2550, 3300), 300, (1700, 2200)),  # down to OCR_DPI
        ((1700, 2200), 210, (1700, 2200)),  # close enough: as it is
        ((850, 1100), 100, (1700, 2200)),  # a fax, up 2x
        ((425, 550), 50, (850, 1100)),  # a thumbnail: at most 2x
        ((425, 550), 0, (425, 550)),  # resolution unknown
    ],
)
def test_at_ocr_dpi(size: tuple[int, int], dpi: float, out: tuple[int, int]) -> None:
    image = Image.new("1", size, 1)
    resampled = ocr.at_ocr_dpi(image, dpi)
    assert resampled.size == out
    assert resampled is image if out == size else resampled.mode == "L"


@pytest.mark.parametrize(
    ("page", "image", "dpi"),
    [((612, 792), (1700, 2200), 200.0), ((792, 612), (1700, 2200), 200.0), ((612, 792), (2200, 1700), 200.0),
     ((595, 842), (1700, 2200), 0.0), ((612, 792), (1000, 300), 0.0)],
)
def test_scan_dpi(page: tuple[int, int], image: tuple[int, int], dpi: float) -> None:
    writer = PdfWriter()
    blank = writer.add_blank_page(width=page[0], height=page[1])
    assert scan_dpi(blank, Image.new("L", image)) == pytest.approx(dpi)


# ---------------------------------------------------------------------------------------------
# A sync reads a scan once: an unchanged file is not parsed again


def test_resync_of_an_unchanged_scan_runs_no_tesseract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: object
) -> None:
    from indexing.chunker import ChunkerConfig
    from indexing.sync import Syncer

    folder = tmp_path / "docs"
    folder.mkdir()
    write_image_pdf(folder / "scan.pdf", PAGES[:3])
    (folder / "note.txt").write_text("Bread is baked from flour.\n", encoding="utf-8")
    runs = Tesseracts(monkeypatch)
    syncer = Syncer(tmp_path / "index", embedder, ChunkerConfig(64, 8))  # type: ignore[arg-type]
    stages: list[tuple[str, int, int]] = []
    first = syncer.sync([folder], progress=lambda *step: stages.append(step))
    assert runs.calls == 3 and len(first.added) == 2
    assert [s for s in stages if s[0].startswith("scanned")] == [("scanned pages of scan.pdf", n, 3) for n in (1, 2, 3)]
    again = syncer.sync([folder])
    assert runs.calls == 3 and len(again.unchanged) == 2
    (folder / "note.txt").write_text("Bread is baked from flour and water.\n", encoding="utf-8")
    edited = syncer.sync([folder])
    assert runs.calls == 3 and len(edited.updated) == 1
