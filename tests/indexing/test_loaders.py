"""Loaders: every format round-trips text/title/meta; every bad input becomes a named LoaderError."""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import zipfile
from pathlib import Path

import docx
import pytest
from pdf_testkit import write_fpdf
from pypdf import PdfWriter

from indexing.datatypes import Document
from indexing.errors import LoaderError, SiftError, UnsupportedFileError
from indexing.loaders import SUPPORTED_EXTENSIONS, is_supported, iter_files, load_file
from indexing.loaders.pdf import join_pages, parse_page_starts

# ---------------------------------------------------------------------------------------------
# Builders for real files


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """Write a minimal valid PDF: one Helvetica text line per page, correct xref table."""
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    font = 3 + 2 * n
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td {_pdf_string(text)} Tj ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title is not None:
        objects.append(f"<< /Title {_pdf_string(title)} >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    info = f" /Info {len(objects)} 0 R" if title is not None else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def write_docx(
    path: Path, paragraphs: list[str], table: list[list[str]] | None = None, title: str | None = None
) -> Path:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table is not None:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
        document.add_paragraph("After the table.")
    document.core_properties.title = title or ""
    document.save(str(path))
    return path


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only(docs: list[Document]) -> Document:
    assert len(docs) == 1
    return docs[0]


# ---------------------------------------------------------------------------------------------
# Plain text, Markdown, reStructuredText


@pytest.mark.parametrize(
    ("name", "content", "title"),
    [
        ("notes.txt", "Just some notes.\nSecond line, émoji 🎉.\n", "notes"),
        ("readme.md", "intro line\n\n# Big Title #\n\nBody text.\n", "Big Title"),
        ("setext.md", "Heading Here\n============\n\nBody.\n", "Heading Here"),
        ("fenced.md", "```bash\n# not a title\n```\n\nBody only.\n", "fenced"),
        ("plain.markdown", "No heading at all, ## not at line start.\n", "plain"),
        ("guide.rst", "=====\nGuide\n=====\n\nInstall\n-------\nRun it.\n", "Guide"),
        ("bare.rst", "Paragraph without any section.\n", "bare"),
        ("Loud.TXT", "upper-case extension\n", "Loud"),
    ],
)
def test_plain_text_round_trip(tmp_path: Path, name: str, content: str, title: str) -> None:
    path = write(tmp_path / name, content)
    doc = only(load_file(path))
    assert doc.text == content
    assert doc.title == title
    assert doc.source == str(path.resolve())
    assert doc.id == doc.source
    assert doc.meta == {}


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.txt", "\ufeffhello".encode())
    assert only(load_file(path)).text == "hello"


def test_cp1252_file_decodes_and_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "legacy.txt", "café – “quoted” €5".encode("cp1252"))
    doc = only(load_file(path))
    assert doc.text == "café – “quoted” €5"
    assert doc.meta == {"encoding": "cp1252"}


def test_source_is_resolved_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "rel.txt", "relative")
    monkeypatch.chdir(tmp_path / "sub")
    doc = only(load_file(Path("../rel.txt")))
    assert doc.source == str((tmp_path / "rel.txt").resolve())


# ---------------------------------------------------------------------------------------------
# HTML

PAGE = """<!doctype html>
<html><head><title> The
  Page </title><style>p { color: red }</style><script>var hidden = 1;</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Main heading</h1>
<p>First paragraph with <b>bold</b>
   and a line break<br>right here.</p>
<div><p>Nested paragraph.</p>Tail text.</div>
<ul><li>one</li><li>two</li></ul>
<!-- a comment -->
<script>console.log("also hidden")</script>
</body></html>
"""


def test_html_visible_text_in_paragraphs(tmp_path: Path) -> None:
    doc = only(load_file(write(tmp_path / "page.html", PAGE)))
    assert doc.title == "The Page"
    assert doc.text == (
        "Main heading\n\nFirst paragraph with bold and a line break\nright here."
        "\n\nNested paragraph.\n\nTail text.\n\none\n\ntwo"
    )
    assert doc.id == doc.source == str((tmp_path / "page.html").resolve())


@pytest.mark.parametrize(
    ("name", "html", "title"),
    [
        ("h1.htm", "<body><h1>From <i>H1</i></h1><p>text</p></body>", "From H1"),
        ("stem.html", "<p>no title anywhere</p>", "stem"),
        ("empty-title.html", "<title>  </title><h1>Fallback</h1>", "Fallback"),
    ],
)
def test_html_title_fallbacks(tmp_path: Path, name: str, html: str, title: str) -> None:
    assert only(load_file(write(tmp_path / name, html))).title == title


def test_html_pre_keeps_line_breaks(tmp_path: Path) -> None:
    doc = only(load_file(write(tmp_path / "code.html", "<p>See:</p><pre>a = 1\nb = 2</pre>")))
    assert doc.text == "See:\n\na = 1\nb = 2"


def test_html_without_visible_text_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "blank.html", "<html><head><title>T</title></head><body><script>x</script></body>"
    )
    with pytest.raises(LoaderError, match=r"blank\.html: no visible text"):
        load_file(path)


# ---------------------------------------------------------------------------------------------
# PDF


def test_pdf_pages_title_and_page_count(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "report.pdf", ["First page text", "Second (page) text"], title="Annual Report"
    )
    doc = only(load_file(path))
    assert doc.text == "First page text\n\nSecond (page) text"
    assert doc.title == "Annual Report"
    assert doc.meta == {"pages": 2, "page_starts": "0,17"}
    assert doc.id == doc.source == str(path.resolve())


def test_pdf_without_metadata_title_uses_stem(tmp_path: Path) -> None:
    doc = only(load_file(write_pdf(tmp_path / "memo.pdf", ["Only page"])))
    assert (doc.title, doc.text, doc.meta) == ("memo", "Only page", {"pages": 1, "page_starts": "0"})


MULTI_PAGE = [
    "Otters hold hands while they sleep so that the current does not carry them apart. " * 3,
    "Basalt columns form when thick lava cools slowly and cracks into hexagonal prisms.",
    "",
    "The Antikythera mechanism is an ancient Greek analogue computer for predicting eclipses. " * 2,
    "",
]


def test_pdf_page_starts_give_the_real_page_numbers_across_blank_pages(tmp_path: Path) -> None:
    doc = only(load_file(write_fpdf(tmp_path / "facts.pdf", MULTI_PAGE)))
    starts = parse_page_starts(doc.meta["page_starts"])
    assert doc.meta["pages"] == 5 and len(starts) == 5
    assert doc.text.startswith("Otters") and starts[0] == 0
    assert doc.text[starts[1]:].startswith("Basalt columns")
    assert starts[2] == starts[3]  # blank page 3 spans nothing; page 4 starts where it would have
    assert doc.text[starts[3]:].startswith("The Antikythera")
    assert starts[4] == len(doc.text)  # trailing blank page
    assert doc.text[starts[1] - 2 : starts[1]] == "\n\n"
    assert "\n\n\n" not in doc.text  # blank pages leave no extra separator


@pytest.mark.parametrize(
    ("pages", "text", "starts"),
    [
        (["a"], "a", [0]),
        (["", "a"], "a", [0, 0]),
        (["a", ""], "a", [0, 1]),
        (["ab", "", "", "cd", ""], "ab\n\ncd", [0, 4, 4, 4, 6]),
        (["ab", "cd", "ef"], "ab\n\ncd\n\nef", [0, 4, 8]),
        (["", ""], "", [0, 0]),
    ],
)
def test_join_pages(pages: list[str], text: str, starts: list[int]) -> None:
    assert join_pages(pages) == (text, starts)
    for page, start in zip(pages, starts):
        if page:
            assert text[start : start + len(page)] == page


@pytest.mark.parametrize("value", ["", "0,x", "3,5", "0,9,4"])
def test_parse_page_starts_refuses_malformed_values(value: str) -> None:
    with pytest.raises(ValueError, match="re-index the PDF"):
        parse_page_starts(value)


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    path = tmp_path / "scan.pdf"
    writer.write(path)
    with pytest.raises(LoaderError, match=r"scan\.pdf: no text layer \(scanned\?\)"):
        load_file(path)


# ---------------------------------------------------------------------------------------------
# DOCX


def test_docx_paragraphs_tables_and_title(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "letter.docx",
        ["Dear reader,", "", "Here is the plan."],
        table=[["Item", "Cost"], ["Tea", "3"]],
        title="The Plan",
    )
    doc = only(load_file(path))
    assert doc.text == "Dear reader,\n\nHere is the plan.\n\nItem | Cost\nTea | 3\n\nAfter the table."
    assert doc.title == "The Plan"
    assert doc.id == doc.source == str(path.resolve())


def test_docx_without_title_uses_stem(tmp_path: Path) -> None:
    assert only(load_file(write_docx(tmp_path / "draft.docx", ["Body"]))).title == "draft"


def test_docx_without_text_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"hollow\.docx: no text"):
        load_file(write_docx(tmp_path / "hollow.docx", ["", "   "]))


# ---------------------------------------------------------------------------------------------
# CSV and JSONL


@pytest.mark.parametrize("column", ["text", "content", "body", "extract", "summary", "description"])
def test_csv_finds_usual_text_column(tmp_path: Path, column: str) -> None:
    path = write(tmp_path / "t.csv", f"lang,{column}\nen,hello there\n")
    doc = only(load_file(path))
    assert doc.text == "hello there"
    assert doc.meta == {"lang": "en"}


def test_csv_prefers_text_over_description_and_matches_case(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "Description,Text\nshort,the long text\n")
    doc = only(load_file(path))
    assert doc.text == "the long text"
    assert doc.meta == {"Description": "short"}


def test_csv_rows_titles_ids_and_meta(tmp_path: Path) -> None:
    path = write(
        tmp_path / "films.csv",
        "title,text,year,note\n"
        'Alien,"In space, no one\ncan hear you.",1979,\n'
        ",Untitled text,,x\n"
        ",,2001,skip me\n",
    )
    docs = load_file(path)
    source = str(path.resolve())
    assert [d.id for d in docs] == [f"{source}#row=1", f"{source}#row=2"]
    assert [d.title for d in docs] == ["Alien", "films row 2"]
    assert docs[0].text == "In space, no one\ncan hear you."
    assert docs[0].meta == {"year": "1979"}
    assert docs[1].meta == {"note": "x"}
    assert all(d.source == source for d in docs)


def test_csv_id_column_gives_stable_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "id,name,text\n7,Seven,a\n9,Nine,b\n7,Again,c\n,Blank,d\n")
    docs = load_file(path)
    source = str(path.resolve())
    assert [d.id for d in docs] == [f"{source}#id=7", f"{source}#id=9", f"{source}#row=3", f"{source}#row=4"]
    assert [d.title for d in docs] == ["Seven", "Nine", "Again", "Blank"]
    assert docs[0].meta == {"id": "7"}


def test_csv_explicit_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.csv", "movie_name,review,text\nAankhen,Great heist,ignored\n")
    doc = only(load_file(path, text_column="review", title_column="movie_name"))
    assert (doc.title, doc.text, doc.meta) == ("Aankhen", "Great heist", {"text": "ignored"})


def test_csv_missing_text_column_names_columns_and_flag(tmp_path: Path) -> None:
    path = write(tmp_path / "odd.csv", "category,movie_name\nplot,Aankhen\n")
    with pytest.raises(LoaderError, match=r"odd\.csv: no text column") as info:
        load_file(path)
    assert "'category', 'movie_name'" in str(info.value)
    assert "--text-column" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "missing"), [({"text_column": "review"}, "review"), ({"title_column": "headline"}, "headline")]
)
def test_csv_explicit_column_must_exist(tmp_path: Path, kwargs: dict, missing: str) -> None:
    path = write(tmp_path / "t.csv", "title,text\na,b\n")
    with pytest.raises(LoaderError, match=rf"t\.csv: no column '{missing}'; columns seen: 'title', 'text'"):
        load_file(path, **kwargs)


def test_csv_header_only_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"t\.csv: no rows with text in column 'text'"):
        load_file(write(tmp_path / "t.csv", "title,text\n"))


def test_csv_long_field_is_read(tmp_path: Path) -> None:
    long_text = "word " * 50_000  # beyond the csv module's default 128 KiB field limit
    doc = only(load_file(write(tmp_path / "big.csv", f'text\n"{long_text}"\n')))
    assert doc.text == long_text.strip()


def test_csv_in_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "title,text\nCafé,crème brûlée\n".encode("cp1252"))
    doc = only(load_file(path))
    assert (doc.title, doc.text) == ("Café", "crème brûlée")
    assert doc.meta == {}


def test_jsonl_rows_blank_lines_and_value_types(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "title": "One", "body": "first", "score": 0.5, "tags": ["a", "b"], "ok": True},
        {},
        {"body": "second", "extra": None, "lang": "fr"},
    ]
    content = json.dumps(lines[0]) + "\n\n   \n" + json.dumps(lines[1]) + "\n" + json.dumps(lines[2]) + "\n"
    path = write(tmp_path / "rows.jsonl", content)
    docs = load_file(path)
    source = str(path.resolve())
    assert [d.id for d in docs] == [f"{source}#id=1", f"{source}#row=3"]
    assert [d.text for d in docs] == ["first", "second"]
    assert [d.title for d in docs] == ["One", "rows row 3"]
    assert docs[0].meta == {"id": "1", "score": "0.5", "tags": '["a", "b"]', "ok": "true"}
    assert docs[1].meta == {"lang": "fr"}


def test_jsonl_keeps_line_separator_inside_strings(tmp_path: Path) -> None:
    path = write(tmp_path / "sep.jsonl", json.dumps({"text": "a\u2028b"}, ensure_ascii=False) + "\n")
    assert only(load_file(path)).text == "a\u2028b"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\n\n{"text": broken}\n', r"bad\.jsonl: line 3 is not valid JSON"),
        ('{"text": "ok"}\n["a", "list"]\n', r"bad\.jsonl: line 2 is a JSON list, expected an object"),
        ('{"category": "x"}\n{"foo": "y"}\n', r"bad\.jsonl: no text column .*'category', 'foo'"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(LoaderError, match=message):
        load_file(write(tmp_path / "bad.jsonl", content))


# ---------------------------------------------------------------------------------------------
# Wikipedia summaries JSON


def test_wiki_json_one_document_per_article(tmp_path: Path) -> None:
    corpus = {
        "Go (game)": {
            "title": "Go (game)",
            "extract": "Go is an abstract strategy board game.",
            "description": "Board game",
            "topic": "Games",
        },
        "Empty": {"title": "Empty", "extract": "", "description": "x", "topic": "y"},
        "Jazz": {"title": "Jazz", "extract": "Jazz is a music genre.", "description": "", "topic": "Arts"},
    }
    path = write(tmp_path / "summaries.json", json.dumps(corpus))
    docs = load_file(path)
    source = str(path.resolve())
    assert [d.id for d in docs] == [f"{source}#Go (game)", f"{source}#Jazz"]
    assert [d.title for d in docs] == ["Go (game)", "Jazz"]
    assert docs[0].text == "Go is an abstract strategy board game."
    assert docs[0].meta == {"topic": "Games", "description": "Board game"}
    assert docs[1].meta == {"topic": "Arts"}


@pytest.mark.parametrize(
    "content",
    ['[{"title": "a", "extract": "b"}]', '{"a": "just a string"}', '{"a": {"title": "a"}}', "{}", "42"],
)
def test_json_of_other_shape_says_what_is_expected(tmp_path: Path, content: str) -> None:
    with pytest.raises(LoaderError, match=r"data\.json: .*expected .*Wikipedia summaries format"):
        load_file(write(tmp_path / "data.json", content))


def test_invalid_json_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"data\.json: not valid JSON"):
        load_file(write(tmp_path / "data.json", '{"a": '))


# ---------------------------------------------------------------------------------------------
# Bad inputs: every one is a LoaderError naming the file


def _zip_without_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "not a readable PDF"),
        ("broken.pdf", b"this is plain text, not a PDF at all", "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 truncated zip", "not a readable Word document"),
        ("broken.docx", _zip_without_document(), "not a readable Word document"),
        ("binary.txt", b"ELF\x00\x01\x02 header", r"binary file \(NUL bytes found\)"),
        ("binary.csv", b"text\n\x00\x00\x00", "binary file"),
        ("binary.html", "<p>x</p>".encode("utf-16"), "binary file"),
        ("undecodable.txt", b"caf\xc3 and \x81\x8d", "not UTF-8 text"),
        ("undecodable.md", b"\x90\x9d", "not UTF-8 text"),
    ],
)
def test_bad_file_is_a_named_loader_error(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(LoaderError, match=rf"^{re.escape(str(tmp_path / name))}: {reason}"):
        load_file(path)


@pytest.mark.parametrize("extension", sorted(SUPPORTED_EXTENSIONS))
def test_empty_file_of_any_type(tmp_path: Path, extension: str) -> None:
    path = write(tmp_path / f"empty{extension}", b"")
    with pytest.raises(LoaderError, match=rf"empty\{extension}: empty$"):
        load_file(path)


@pytest.mark.parametrize(
    "name", ["blank.txt", "blank.md", "blank.rst", "blank.html", "blank.csv", "blank.json"]
)
def test_whitespace_only_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(LoaderError, match=r"blank\.\w+: empty \(only whitespace\)"):
        load_file(write(tmp_path / name, " \n\t\r\n  \u00a0"))


@pytest.mark.parametrize("extension", sorted(SUPPORTED_EXTENSIONS))
def test_random_bytes_never_leak_a_library_exception(tmp_path: Path, extension: str) -> None:
    rng = random.Random(extension)
    for i in range(5):
        path = write(tmp_path / f"noise{i}{extension}", rng.randbytes(rng.choice([1, 64, 3000])))
        try:
            load_file(path)
        except SiftError:
            pass


@pytest.mark.parametrize("name", ["song.mp3", "archive.tar.gz", "Makefile"])
def test_unsupported_extension_lists_supported_ones(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "data")
    with pytest.raises(UnsupportedFileError, match=rf"{name}: unsupported .*supported extensions: .*\.pdf"):
        load_file(path)


def test_missing_file_and_folder_are_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"gone\.txt: no such file"):
        load_file(tmp_path / "gone.txt")
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(LoaderError, match=r"folder\.md: not a regular file"):
        load_file(tmp_path / "folder.md")


def test_supported_extensions() -> None:
    assert SUPPORTED_EXTENSIONS == {
        ".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".docx", ".csv", ".jsonl", ".json",
        ".epub", ".pptx", ".xlsx", ".odt", ".eml", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
    }  # fmt: skip
    assert is_supported(Path("A.PDF")) and is_supported("notes.Md")
    assert not is_supported(Path("song.mp3")) and not is_supported(Path("README"))


# ---------------------------------------------------------------------------------------------
# iter_files


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in [
        "b.md", "a/z.txt", "a/y/deep.pdf", "c.csv", "image.bmp", ".hidden.txt", ".git/config.txt",
        "a/.cache/x.md", "B.txt",
    ]:  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    return tmp_path


def test_iter_files_order_and_skips(tree: Path) -> None:
    found = [p.relative_to(tree).as_posix() for p in iter_files([tree])]
    assert found == ["B.txt", "a/y/deep.pdf", "a/z.txt", "b.md", "c.csv"]


def test_iter_files_explicit_files_first_once_and_unsupported_kept(tree: Path) -> None:
    found = list(iter_files([tree / "image.bmp", tree / ".hidden.txt", tree / "a", tree / "a" / "z.txt"]))
    assert found == [tree / "image.bmp", tree / ".hidden.txt", tree / "a/y/deep.pdf", tree / "a/z.txt"]


def test_iter_files_missing_path_raises_before_yielding(tree: Path) -> None:
    files = iter_files([tree / "b.md", tree / "nope", tree / "also-missing.txt"])
    with pytest.raises(SiftError, match=r"no such file or folder: .*nope, .*also-missing\.txt"):
        next(files)


def test_iter_files_survives_symlink_loop(tree: Path) -> None:
    (tree / "a" / "loop").symlink_to(tree, target_is_directory=True)
    found = [p.relative_to(tree).as_posix() for p in iter_files([tree])]
    assert found == ["B.txt", "a/y/deep.pdf", "a/z.txt", "b.md", "c.csv"]


def test_words_a_man_page_broke_across_lines_are_joined(tmp_path: Path) -> None:
    """groff hyphenates with U+2010 at a line's end; the word is whole again in the document, so BM25 and the
    embedding see "executed", not "exe" and "cuted". A typed hyphen (ASCII) and a U+2010 inside a line stay."""
    page = (
        "DESCRIPTION\n"
        "       Some commands can usefully be exe\u2010\n"
        "       cuted in parallel too; see the system-de\u2010\n"
        "       fined limits.  A well\u2010known option.\n"
    )
    doc = only(load_file(write(tmp_path / "xargs.txt", page)))
    assert "be executed in parallel" in doc.text and "the system-defined limits" in doc.text
    assert "well\u2010known" in doc.text and "\u2010\n" not in doc.text


@pytest.mark.skipif(not Path("/usr/share/man/man1/xargs.1.gz").exists() or shutil.which("groff") is None,
                    reason="needs findutils' xargs(1) and groff (Debian)")
def test_a_real_rendered_man_page_has_no_broken_words(tmp_path: Path) -> None:
    from pipelines.debian_manuals import render_man

    rendered = render_man(Path("/usr/share/man/man1/xargs.1.gz"))
    assert "\u2010\n" in rendered, "groff hyphenated some words of this page"
    doc = only(load_file(write(tmp_path / "xargs.txt", rendered)))
    assert "\u2010\n" not in doc.text and "response" in doc.text
