"""EPUB, PowerPoint, Excel, OpenDocument and e-mail loaders, each fed files written by the format's own
library; the bad-file battery for each; and the ``status`` every LoaderError carries."""

from __future__ import annotations

import datetime as dt
import io
import pickle
import random
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
import pytest
from ebooklib import epub
from odf import dc
from odf.opendocument import OpenDocumentSpreadsheet, OpenDocumentText
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import H, List, ListItem, P, S, Span
from pdf_testkit import write_fpdf
from pptx import Presentation
from pptx.util import Inches
from pypdf import PdfWriter

from indexing.datatypes import Document
from indexing.errors import LoaderError
from indexing.loaders import SUPPORTED_EXTENSIONS, load_file
from indexing.loaders.pdf import parse_page_starts


def only(docs: list[Document]) -> Document:
    assert len(docs) == 1
    return docs[0]


# ---------------------------------------------------------------------------------------------
# Writers: each format written by its own library


def write_epub(path: Path, chapters: list[str], title: str | None = "Otters of the Coast", author: str = "") -> Path:
    book = epub.EpubBook()
    book.set_identifier("otters-1")
    if title is not None:
        book.set_title(title)
    book.set_language("en")
    if author:
        book.add_author(author)
    items = []
    for n, html in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=f"Chapter {n}", file_name=f"c{n}.xhtml", lang="en")
        item.content = html
        book.add_item(item)
        items.append(item)
    book.toc = tuple(items)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return path


def write_pptx(path: Path, title: str = "") -> Path:
    presentation = Presentation()
    presentation.core_properties.title = title
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Quarterly Otters"
    first.placeholders[1].text = "Otters hold hands\nKelp forests   grow fast"
    first.notes_slide.notes_text_frame.text = "Mention the sea urchins."
    presentation.slides.add_slide(presentation.slide_layouts[6])  # blank layout, nothing on it
    third = presentation.slides.add_slide(presentation.slide_layouts[5])
    third.shapes.title.text = "Costs"
    table = third.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for r, row in enumerate([["Item", "Cost"], ["Tea", "3"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    group = third.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(4), Inches(3), Inches(1)).text_frame.text = "Grouped remark"
    presentation.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    budget = workbook.active
    budget.title = "Budget"
    budget.append(["Item", "Cost", "Paid", "Due"])
    budget.append(["Tea", 3.0, True, dt.datetime(2024, 5, 1)])
    budget.append([None, None, None, None])
    budget.append(["Cake", 2.5, False, None])
    budget.append(["Total", "=B2+B4"])  # written by a script: no cached value to read
    workbook.create_sheet("Empty")
    staff = workbook.create_sheet("Staff")
    staff["B2"] = "Ann"
    staff["C2"] = "otter keeper"
    workbook.save(path)
    return path


def write_odt(path: Path, title: str | None = "Otter Notes", body: bool = True) -> Path:
    document = OpenDocumentText()
    if title is not None:
        document.meta.addElement(dc.Title(text=title))
    if body:
        document.text.addElement(H(outlinelevel=1, text="Chapter One"))
        paragraph = P(text="Otters hold ")
        paragraph.addElement(Span(text="hands"))
        paragraph.addElement(S(c=3))
        paragraph.addText("while sleeping.")
        document.text.addElement(paragraph)
        items = List()
        for text in ("first item", "second item"):
            item = ListItem()
            item.addElement(P(text=text))
            items.addElement(item)
        document.text.addElement(items)
        table = Table(name="Costs")
        table.addElement(TableColumn(numbercolumnsrepeated=2))
        for row in [["Item", "Cost"], ["Tea", "3"]]:
            table_row = TableRow()
            for value in row:
                cell = TableCell()
                cell.addElement(P(text=value))
                table_row.addElement(cell)
            table.addElement(table_row)
        document.text.addElement(table)
    else:
        document.text.addElement(P(text="   "))
    document.save(str(path))
    return path


def write_eml(path: Path, plain: str | None, html: str | None, subject: str | None = "Otter survey") -> Path:
    message = EmailMessage()
    if subject is not None:
        message["Subject"] = subject
    message["From"] = "Ann Example <ann@example.org>"
    message["To"] = "bob@example.org"
    message["Date"] = "Mon, 06 May 2024 10:00:00 +0200"
    if plain is not None:
        message.set_content(plain)
    if html is not None:
        if plain is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    path.write_bytes(bytes(message))
    return path


# ---------------------------------------------------------------------------------------------
# EPUB


def test_epub_chapters_in_reading_order_title_and_author(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "book.epub",
        ["<h1>Chapter One</h1><p>Otters hold <b>hands</b>.</p>", "<h1>Chapter Two</h1><p>Kelp grows.</p><p>Fast.</p>"],
        author="A. Writer",
    )
    doc = only(load_file(path))
    # The navigation document (table of contents) is not read: headings appear once.
    assert doc.text == "Chapter One\n\nOtters hold hands.\n\nChapter Two\n\nKelp grows.\n\nFast."
    assert (doc.title, doc.meta) == ("Otters of the Coast", {"author": "A. Writer"})
    assert doc.id == doc.source == str(path.resolve())


def test_epub_without_title_uses_stem(tmp_path: Path) -> None:
    assert only(load_file(write_epub(tmp_path / "untitled.epub", ["<p>Text.</p>"], title=None))).title == "untitled"


def test_epub_without_text_is_empty(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"hollow\.epub: no text in the book's chapters") as info:
        load_file(write_epub(tmp_path / "hollow.epub", ["<p>  </p>", "<div></div>"]))
    assert info.value.status == "empty"


def _add_encryption(path: Path, uri: str, algorithm: str) -> Path:
    listing = (
        '<?xml version="1.0"?><encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
        f'<enc:EncryptionMethod Algorithm="{algorithm}"/>'
        f'<enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData></encryption>'
    )
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("META-INF/encryption.xml", listing)
    return path


def test_drm_epub_is_encrypted(tmp_path: Path) -> None:
    path = _add_encryption(
        write_epub(tmp_path / "shop.epub", ["<p>Text.</p>"]), "EPUB/c1.xhtml", "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
    )
    with pytest.raises(LoaderError, match=r"shop\.epub: DRM-protected EPUB") as info:
        load_file(path)
    assert info.value.status == "encrypted"


def test_epub_with_obfuscated_fonts_only_is_read(tmp_path: Path) -> None:
    path = _add_encryption(
        write_epub(tmp_path / "fonts.epub", ["<p>Readable text.</p>"]), "EPUB/fonts/a.otf", "http://www.idpf.org/2008/embedding"
    )
    assert only(load_file(path)).text == "Readable text."


# ---------------------------------------------------------------------------------------------
# PowerPoint


def test_pptx_slides_tables_groups_notes_and_slide_starts(tmp_path: Path) -> None:
    doc = only(load_file(write_pptx(tmp_path / "deck.pptx")))
    assert doc.text == (
        "Quarterly Otters\nOtters hold hands\nKelp forests grow fast\nMention the sea urchins."
        "\n\nCosts\nItem | Cost\nTea | 3\nGrouped remark"
    )
    assert doc.title == "Quarterly Otters"  # no core title: the first slide's title
    starts = parse_page_starts(doc.meta["slide_starts"])
    assert doc.meta["slides"] == 3 and len(starts) == 3
    assert starts[1] == starts[2] and doc.text[starts[2]:].startswith("Costs")  # slide 2 is blank


def test_pptx_core_title_wins(tmp_path: Path) -> None:
    assert only(load_file(write_pptx(tmp_path / "deck.pptx", title="Board  Meeting"))).title == "Board Meeting"


def test_pptx_without_text_is_empty(tmp_path: Path) -> None:
    presentation = Presentation()
    presentation.slides.add_slide(presentation.slide_layouts[6])
    presentation.save(str(tmp_path / "blank.pptx"))
    with pytest.raises(LoaderError, match=r"blank\.pptx: no text on any slide") as info:
        load_file(tmp_path / "blank.pptx")
    assert info.value.status == "empty"


# ---------------------------------------------------------------------------------------------
# Excel


def test_xlsx_one_document_per_sheet_with_values_as_shown(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "budget.xlsx")
    docs = load_file(path)
    source = str(path.resolve())
    assert [d.id for d in docs] == [f"{source}#sheet=Budget", f"{source}#sheet=Staff"]  # "Empty" has no values
    assert [d.title for d in docs] == ["budget / Budget", "budget / Staff"]
    assert [d.meta for d in docs] == [{"sheet": "Budget"}, {"sheet": "Staff"}]
    assert docs[0].text == "Item | Cost | Paid | Due\nTea | 3 | TRUE | 2024-05-01\nCake | 2.5 | FALSE\nTotal"
    assert docs[1].text == "Ann | otter keeper"


def test_xlsx_workbook_title(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "x"
    workbook.properties.title = "Annual Plan"
    workbook.save(tmp_path / "plan.xlsx")
    assert only(load_file(tmp_path / "plan.xlsx")).title == "Annual Plan / Sheet"


def test_xlsx_without_values_is_empty(tmp_path: Path) -> None:
    openpyxl.Workbook().save(tmp_path / "blank.xlsx")
    with pytest.raises(LoaderError, match=r"blank\.xlsx: no values in any sheet") as info:
        load_file(tmp_path / "blank.xlsx")
    assert info.value.status == "empty"


# ---------------------------------------------------------------------------------------------
# OpenDocument text


def test_odt_headings_spans_lists_and_tables(tmp_path: Path) -> None:
    doc = only(load_file(write_odt(tmp_path / "notes.odt")))
    assert doc.text == (
        "Chapter One\n\nOtters hold hands while sleeping.\n\nfirst item\n\nsecond item\n\nItem | Cost\nTea | 3"
    )
    assert doc.title == "Otter Notes"
    assert doc.id == doc.source == str((tmp_path / "notes.odt").resolve())


def test_odt_without_title_uses_stem(tmp_path: Path) -> None:
    assert only(load_file(write_odt(tmp_path / "draft.odt", title=None))).title == "draft"


def test_odt_without_text_is_empty(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"hollow\.odt: no text in the document") as info:
        load_file(write_odt(tmp_path / "hollow.odt", body=False))
    assert info.value.status == "empty"


# ---------------------------------------------------------------------------------------------
# E-mail


def test_eml_prefers_plain_text_and_keeps_headers(tmp_path: Path) -> None:
    path = write_eml(tmp_path / "survey.eml", "Otters hold hands while sleeping.\n", "<p>HTML <b>copy</b></p>")
    doc = only(load_file(path))
    assert (doc.title, doc.text) == ("Otter survey", "Otters hold hands while sleeping.")
    assert doc.meta == {
        "from": "Ann Example <ann@example.org>",
        "to": "bob@example.org",
        "date": "2024-05-06T10:00:00+02:00",
    }


def test_eml_html_only_body_is_stripped(tmp_path: Path) -> None:
    html = "<html><head><style>p{}</style></head><body><p>Kelp <b>grows</b></p><p>fast.</p></body></html>"
    assert only(load_file(write_eml(tmp_path / "news.eml", None, html))).text == "Kelp grows\n\nfast."


def test_eml_encoded_subject_and_latin1_body(tmp_path: Path) -> None:
    raw = (
        "Subject: =?utf-8?q?Caf=C3=A9_menu?=\nFrom: a@example.org\nContent-Type: text/plain; charset=latin-1\n"
        "Content-Transfer-Encoding: 8bit\n\nCrème brûlée today.\n"
    ).encode("latin-1")
    (tmp_path / "menu.eml").write_bytes(raw)
    doc = only(load_file(tmp_path / "menu.eml"))
    assert (doc.title, doc.text, doc.meta) == ("Café menu", "Crème brûlée today.", {"from": "a@example.org"})


def test_eml_without_subject_or_body(tmp_path: Path) -> None:
    assert only(load_file(write_eml(tmp_path / "quick.eml", "Body only.", None, subject=None))).title == "quick"
    subject_only = only(load_file(write_eml(tmp_path / "ping.eml", None, None, subject="Meeting moved to 3pm")))
    assert (subject_only.title, subject_only.text) == ("Meeting moved to 3pm", "Meeting moved to 3pm")
    with pytest.raises(LoaderError, match=r"void\.eml: no text in the message") as info:
        load_file(write_eml(tmp_path / "void.eml", "  \n", None, subject=None))
    assert info.value.status == "empty"


# ---------------------------------------------------------------------------------------------
# Bad files: empty, truncated, random bytes, another format renamed


def _docx_bytes() -> bytes:
    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("A Word document.")
    document.save(buffer)
    return buffer.getvalue()


def _ods_bytes(tmp_path: Path) -> bytes:
    sheet = OpenDocumentSpreadsheet()
    sheet.spreadsheet.addElement(Table(name="S"))
    sheet.save(str(tmp_path / "sheet.ods"))
    return (tmp_path / "sheet.ods").read_bytes()


def _truncated(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) // 2]


def _noise(seed: int, size: int = 3000) -> bytes:
    return random.Random(seed).randbytes(size)


READ_ERRORS = {
    ".epub": "not a readable EPUB",
    ".pptx": "not a readable PowerPoint presentation",
    ".xlsx": "not a readable Excel workbook",
    ".odt": "not a readable OpenDocument text",
}


def _good(tmp_path: Path, extension: str) -> Path:
    writers = {
        ".epub": lambda p: write_epub(p, ["<p>Some text.</p>"]),
        ".pptx": write_pptx,
        ".xlsx": write_xlsx,
        ".odt": write_odt,
    }
    return writers[extension](tmp_path / f"good{extension}")


@pytest.mark.parametrize("extension", sorted(READ_ERRORS))
@pytest.mark.parametrize("kind", ["truncated", "noise", "docx renamed", "zip without the parts"])
def test_bad_package_is_a_named_loader_error(tmp_path: Path, extension: str, kind: str) -> None:
    if kind == "truncated":
        content = _truncated(_good(tmp_path, extension))
    elif kind == "noise":
        content = _noise(len(extension))
    elif kind == "docx renamed":
        content = _docx_bytes()
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "not a document")
        content = buffer.getvalue()
    path = tmp_path / f"bad{extension}"
    path.write_bytes(content)
    with pytest.raises(LoaderError, match=rf"^{re.escape(str(path))}: {READ_ERRORS[extension]}") as info:
        load_file(path)
    assert info.value.status == "failed"


def test_spreadsheet_renamed_to_odt_names_its_mimetype(tmp_path: Path) -> None:
    (tmp_path / "sheet.odt").write_bytes(_ods_bytes(tmp_path))
    with pytest.raises(LoaderError, match=r"sheet\.odt: not a readable OpenDocument text \(its mimetype is "
                       r"'application/vnd\.oasis\.opendocument\.spreadsheet'"):  # fmt: skip
        load_file(tmp_path / "sheet.odt")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"Return-Path: <a@example.org>\n\n" + bytes(range(256)), r"binary file \(NUL bytes found\)"),
        (bytes(b for b in _noise(7) if b), r"not an e-mail message \(none of the headers From, To"),
        (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", r"not an e-mail message"),
        (b"# Notes\n\nJust Markdown, renamed.\n", r"not an e-mail message"),
    ],
)
def test_bad_eml_is_a_named_loader_error(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "bad.eml").write_bytes(content)
    with pytest.raises(LoaderError, match=rf"^{re.escape(str(tmp_path / 'bad.eml'))}: {reason}"):
        load_file(tmp_path / "bad.eml")


def test_truncated_multipart_eml(tmp_path: Path) -> None:
    full = write_eml(tmp_path / "full.eml", "Plain part.", "<p>HTML part.</p>").read_bytes()
    (tmp_path / "cut.eml").write_bytes(full[: full.index(b"HTML part")])
    with pytest.raises(LoaderError, match=r"cut\.eml: truncated or damaged MIME message \(CloseBoundaryNotFound"):
        load_file(tmp_path / "cut.eml")


def _rezip(source: Path, target: Path, drop: str = "", replace: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for name in archive.namelist():
            if name != drop:
                out.writestr(name, (replace or {}).get(name, archive.read(name)))
    return target


def test_xlsx_missing_its_sheet_part_is_damaged_not_empty(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "x"
    workbook.save(tmp_path / "good.xlsx")
    path = _rezip(tmp_path / "good.xlsx", tmp_path / "hollow.xlsx", drop="xl/worksheets/sheet1.xml")
    with pytest.raises(LoaderError, match=r"hollow\.xlsx: not a readable Excel workbook \(it has no worksheets") as i:
        load_file(path)
    assert i.value.status == "failed"


def test_odt_with_broken_xml_is_damaged_and_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _rezip(write_odt(tmp_path / "good.odt"), tmp_path / "cut.odt", replace={"content.xml": b"<a><b></a>"})
    with pytest.raises(LoaderError, match=r"cut\.odt: not a readable OpenDocument text \(content\.xml is not well"):
        load_file(path)
    assert capsys.readouterr().out == ""  # odfpy itself would print the whole part and carry on


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"Subject: b\nContent-Transfer-Encoding: base64\n\n!!!not*base64***\n", r"its base64 body cannot be decoded"),
        (b"Subject: c\nContent-Type: text/plain; charset=no-such-set\n\ntext\n", r"unknown encoding: no-such-set"),
        (b"Subject: " + b"s" * 5000 + b"\n\nbody\n", r"the 'Subject' header line is longer than the 998 characters"),
    ],
)
def test_damaged_eml_is_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "bad.eml").write_bytes(content)
    with pytest.raises(LoaderError, match=rf"bad\.eml: .*{reason}"):
        load_file(tmp_path / "bad.eml")


def test_eml_base64_body_with_a_padding_slip_is_read(tmp_path: Path) -> None:
    body = b"T3R0ZXJzIGhvbGQgaGFuZHMu"  # "Otters hold hands." with its padding dropped by a sloppy mailer
    (tmp_path / "ok.eml").write_bytes(b"Subject: s\nContent-Transfer-Encoding: base64\n\n" + body[:-1] + b"\n")
    assert only(load_file(tmp_path / "ok.eml")).text.startswith("Otters hold hands")


NEW = [".epub", ".pptx", ".xlsx", ".odt", ".eml", ".png", ".jpg", ".jpeg", ".tif", ".tiff"]


@pytest.mark.parametrize("extension", NEW)
def test_new_extensions_are_registered_and_empty_files_are_empty(tmp_path: Path, extension: str) -> None:
    assert extension in SUPPORTED_EXTENSIONS
    path = tmp_path / f"empty{extension.upper()}"
    path.write_bytes(b"")
    with pytest.raises(LoaderError, match=rf"empty\{extension.upper()}: empty$") as info:
        load_file(path)
    assert info.value.status == "empty"


# ---------------------------------------------------------------------------------------------
# LoaderError.status across the existing loaders


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("blank.txt", " \n\t", "empty"),
        ("header.csv", "title,text\n", "empty"),
        ("none.json", '{"a": {"title": "a", "extract": ""}}', "empty"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "failed"),
        ("binary.txt", b"ELF\x00\x01", "failed"),
        ("odd.csv", "category\nplot\n", "failed"),
    ],
)
def test_status_of_existing_loaders(tmp_path: Path, name: str, content: str | bytes, status: str) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(LoaderError) as info:
        load_file(path)
    assert info.value.status == status


def test_docx_without_text_is_empty(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("   ")
    document.save(str(tmp_path / "hollow.docx"))
    with pytest.raises(LoaderError, match=r"hollow\.docx: no text in the document") as info:
        load_file(tmp_path / "hollow.docx")
    assert info.value.status == "empty"


def test_encrypted_pdf_is_encrypted(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=write_fpdf(tmp_path / "open.pdf", ["Secret plans."]))
    writer.encrypt(user_password="hunter2", owner_password="owner")
    writer.write(tmp_path / "locked.pdf")
    with pytest.raises(LoaderError, match=r"locked\.pdf: encrypted PDF; a password is needed to read it$") as info:
        load_file(tmp_path / "locked.pdf")
    assert info.value.status == "encrypted"


def test_loader_error_status_is_checked_and_survives_pickling() -> None:
    error = LoaderError("x.pdf: encrypted PDF", status="encrypted")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.status) == ("x.pdf: encrypted PDF", "encrypted")
    assert LoaderError("x.txt: broken").status == "failed"
    with pytest.raises(ValueError, match=r"status 'locked' is not one of \['empty', 'encrypted', 'failed'\]"):
        LoaderError("x", status="locked")  # type: ignore[arg-type]
