"""Locating passages: PDF pages from the loader's page starts, headings and lines for other files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docx
import pytest
from pdf_testkit import write_fpdf

from app.workspace import Workspace
from indexing.loaders import load_file
from pipelines.rag.citations import resolve_citations
from pipelines.rag.locate import Location, locate, outline, style_of
from pipelines.rag.prompt import Passage

PAGES = [
    "Otters hold hands while they sleep so that the current does not carry them apart. " * 4,
    "Basalt columns form when thick lava cools slowly and cracks into hexagonal prisms. " * 4,
    "",
    "The Antikythera mechanism is an ancient Greek analogue computer for predicting eclipses. " * 4,
]
MARKDOWN = """---
title: Sift guide
---
# Sift guide

Sift searches your documents locally.

## Installation

Install it with pip install sift and then run sift index on a folder.

```bash
# Not a heading: a shell comment inside a fence
sift index docs/
```

Configuration
-------------

Settings live in sift.toml next to the index.
"""
RST = """=========
Reference
=========

Overview text.

Commands
========

sift search looks things up.

----------

After a transition, still under Commands.

Options
~~~~~~~

Use --k to set the number of hits.
Hi
~
Not a title: its underline is shorter than it.
"""
HTML = """<html><head><title>Field notes</title></head><body>
<h1>Field notes</h1>
<p>Notes taken on a walk along the coast.</p>
<h2>Birds</h2>
<p>Gannets dive from thirty metres to catch fish.</p>
<ul><li>Gannet</li><li>Puffin</li><li>Razorbill</li></ul>
<h2>Rocks</h2>
<p>The cliffs are made of red sandstone.</p>
</body></html>
"""


def span(text: str, needle: str, start_at: int = 0) -> tuple[int, int]:
    start = text.index(needle, start_at)
    return start, start + len(needle)


@pytest.fixture()
def pdf_doc(tmp_path: Path):
    return load_file(write_fpdf(tmp_path / "facts.pdf", PAGES))[0]


# ---------------------------------------------------------------------------------------------
# PDF pages


@pytest.mark.parametrize(("needle", "page"), [("Otters", 1), ("Basalt", 2), ("Antikythera", 4)])
def test_pdf_offsets_on_each_page_give_that_page(pdf_doc, needle: str, page: int) -> None:
    first = pdf_doc.text.index(needle)
    last = pdf_doc.text.rindex("apart." if page == 1 else "prisms." if page == 2 else "eclipses.")
    for start in (first, last):
        location = locate(pdf_doc.text, pdf_doc.meta, start, start + 5)
        assert location == Location(page=page, page_end=page)
        assert location.label == f"p. {page}"


def test_pdf_span_across_pages_gives_a_range(pdf_doc) -> None:
    text = pdf_doc.text
    start = text.rindex("Otters")
    assert locate(text, pdf_doc.meta, start, text.index("Basalt") + 6).label == "pp. 1–2"
    across_blank = locate(text, pdf_doc.meta, text.rindex("Basalt"), text.index("Antikythera") + 3)
    assert (across_blank.page, across_blank.page_end, across_blank.label) == (2, 4, "pp. 2–4")


def test_pdf_span_edges_in_the_page_separator_do_not_count(pdf_doc) -> None:
    text = pdf_doc.text
    basalt = text.index("Basalt")
    assert text[basalt - 2 : basalt] == "\n\n"
    # starts on the blank lines before page 2 and ends on the ones after page 1: only one page each
    assert locate(text, pdf_doc.meta, basalt - 2, basalt + 6).label == "p. 2"
    assert locate(text, pdf_doc.meta, basalt - 20, basalt - 1).label == "p. 1"


def test_pdf_location_has_no_line_or_heading(pdf_doc) -> None:
    location = locate(pdf_doc.text, pdf_doc.meta, 0, 10, source=pdf_doc.source)
    assert (location.line, location.heading) == (None, None)


# ---------------------------------------------------------------------------------------------
# Headings and lines


@pytest.mark.parametrize(
    ("needle", "heading", "line"),
    [
        ("Sift searches", "Sift guide", 6),
        ("Install it with", "Installation", 10),
        ("sift index docs/", "Installation", 14),  # the fenced "# Not a heading" is code
        ("Settings live", "Configuration", 20),
        ("title: Sift guide", None, 2),  # front matter is above every heading
    ],
)
def test_markdown_heading_and_line(needle: str, heading: str | None, line: int) -> None:
    start, end = span(MARKDOWN, needle)
    location = locate(MARKDOWN, {}, start, end, source="/docs/guide.md")
    assert (location.heading, location.line, location.page) == (heading, line, None)
    assert MARKDOWN.splitlines()[line - 1].startswith(needle)


def test_markdown_outline_skips_fences_and_front_matter() -> None:
    offsets, titles = outline(MARKDOWN, "markdown")
    assert titles == ("Sift guide", "Installation", "Configuration")
    assert [MARKDOWN[o:].split("\n", 1)[0] for o in offsets] == ["# Sift guide", "## Installation", "Configuration"]


@pytest.mark.parametrize(
    ("text", "titles"),
    [
        ("# One\n## Two ##\n### Three   ###\n", ("One", "Two", "Three")),
        ("#NoSpace\n####### seven\n#\n", ()),
        ("    # indented code\n\nPara\n\n---\n", ()),  # a rule after a blank line is no underline
        ("~~~~\n# inside\n~~~\n# still inside\n~~~~\n# After\n", ("After",)),
        ("Title\r\n=====\r\n\r\nBody\r\n", ("Title",)),
    ],
)
def test_markdown_edge_cases(text: str, titles: tuple[str, ...]) -> None:
    assert outline(text, "markdown")[1] == titles


@pytest.mark.parametrize(
    ("needle", "heading"),
    [
        ("Overview text", "Reference"),
        ("sift search looks", "Commands"),
        ("After a transition", "Commands"),
        ("Use --k", "Options"),
        ("Not a title", "Options"),
    ],
)
def test_rst_headings(needle: str, heading: str) -> None:
    start, end = span(RST, needle)
    location = locate(RST, {}, start, end, source="ref.rst")
    assert location.heading == heading
    assert location.line == RST[:start].count("\n") + 1
    assert location.label == f"§ {heading}, line {location.line}"


def test_html_headings_as_the_html_loader_renders_them(tmp_path: Path) -> None:
    path = tmp_path / "notes.html"
    path.write_text(HTML, encoding="utf-8")
    doc = load_file(path)[0]
    assert "Birds\n\nGannets dive" in doc.text  # the loader leaves no markup: headings are plain paragraphs
    assert outline(doc.text, "blocks")[1] == ("Field notes", "Birds", "Rocks")  # list items are not headings
    for needle, heading in [("Notes taken", "Field notes"), ("Gannets", "Birds"), ("Puffin", "Birds"),
                            ("red sandstone", "Rocks")]:
        location = locate(doc.text, doc.meta, *span(doc.text, needle), source=doc.source)
        assert location == Location(heading=heading)  # rendered lines are not the file's lines
        assert location.label == f"§ {heading}"


def test_docx_headings(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Quarterly review", level=1)
    document.add_paragraph("Revenue grew by four percent this quarter.")
    document.add_heading("Risks", level=2)
    document.add_paragraph("Supply of chips remains tight.")
    document.save(str(tmp_path / "review.docx"))
    doc = load_file(tmp_path / "review.docx")[0]
    assert locate(doc.text, doc.meta, *span(doc.text, "Supply"), source=doc.source).label == "§ Risks"


def test_plain_text_gives_line_only() -> None:
    text = "first line\nsecond line\nthird line\n"
    assert locate(text, {}, text.index("third"), len(text), source="a.txt").label == "line 3"
    assert locate(text, {}, 0, 4).label == "line 1"
    assert locate(text, {}, text.index("second") - 1, text.index("second") + 3).line == 2  # leading "\n" skipped


def test_a_one_line_document_has_no_line_1() -> None:
    text = "Mona Lisa is a half-length portrait painting by Leonardo da Vinci."
    assert locate(text, {}, 0, len(text), source="/d/mona.txt") == Location()
    assert locate(text + "\n", {}, 10, 20, source="/d/mona.md").label == ""  # a final newline is no second line


# ---------------------------------------------------------------------------------------------
# Records of tables and JSON files


def _label(path: Path, needle: str, **columns: str) -> list[str]:
    """The label of ``needle``'s passage in each document ``path`` loads to, found through its document id."""
    labels = []
    for doc in load_file(path, **columns):
        start = doc.text.find(needle)
        if start >= 0:
            where = locate(doc.text, doc.meta, start, start + len(needle), source=doc.source, doc_id=doc.id)
            labels.append(where.label)
    return labels


def test_csv_rows_are_named_by_id_or_row(tmp_path: Path) -> None:
    (tmp_path / "with_id.csv").write_text("id,title,text\nA7,Mona Lisa,A portrait.\nB2,Water Lilies,Oil paintings.\n")
    (tmp_path / "rows.csv").write_text("text\nA portrait.\n\"Oil paintings\nof ponds.\"\n")
    assert _label(tmp_path / "with_id.csv", "Oil") == ["id B2"]
    assert _label(tmp_path / "rows.csv", "of ponds") == ["row 2"], "a multi-line cell: the row, not a line in it"


def test_jsonl_records_are_numbered_and_wiki_entries_named(tmp_path: Path) -> None:
    lines = [{"title": "Mona Lisa", "text": "A portrait."}, {"title": "Water Lilies", "text": "Oil paintings."}]
    (tmp_path / "art.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (tmp_path / "summaries.json").write_text(json.dumps({"k1": {"title": "Mona Lisa", "extract": "A portrait."}}))
    assert _label(tmp_path / "art.jsonl", "Oil") == ["record 2"]
    assert _label(tmp_path / "summaries.json", "portrait") == ['record "Mona Lisa"']


def test_a_record_without_its_document_id_is_named_by_its_id_column() -> None:
    assert locate("A portrait.", {"id": "A7"}, 0, 5, source="/d/t.csv").label == "id A7"
    assert locate("A portrait.", {}, 0, 5, source="/d/t.jsonl") == Location(), "nothing better than no line 1"


def test_a_hash_in_the_file_name_is_not_the_record_key() -> None:
    assert locate("x", {}, 0, 1, source="/d/C#.csv", doc_id="/d/C#.csv#row=4").label == "row 4"
    assert locate("x", {}, 0, 1, source="/d/C#.json", doc_id="/d/C#.json#E=mc2").label == 'record "E=mc2"'


@pytest.mark.parametrize(
    ("source", "style"),
    [("a/B.MD", "markdown"), ("x.markdown", "markdown"), ("r.rst", "rst"), ("p.HTM", "blocks"),
     ("w.docx", "blocks"), ("n.txt", "text"), ("C# notes.md", "markdown"), (None, "text")],
)
def test_style_of(source: str | None, style: str) -> None:
    assert style_of(source) == style


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 4), (0, 999)])
def test_offsets_outside_the_text_are_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside the 10-character document"):
        locate("0123456789", {}, start, end)


def test_malformed_page_starts_are_refused() -> None:
    with pytest.raises(ValueError, match="re-index the PDF"):
        locate("0123456789", {"page_starts": "0,a"}, 0, 3)


@pytest.mark.parametrize(
    ("location", "label"),
    [
        (Location(page=3, page_end=3), "p. 3"),
        (Location(page=3, page_end=4), "pp. 3–4"),
        (Location(record="row 3"), "row 3"),
        (Location(page=3), "p. 3"),
        (Location(line=42, heading="Installation"), "§ Installation, line 42"),
        (Location(line=7), "line 7"),
        (Location(), ""),
    ],
)
def test_labels(location: Location, label: str) -> None:
    assert location.label == label
    assert location.to_dict()["label"] == label


def test_a_big_document_is_scanned_once() -> None:
    section = "## Part {n}\n\n" + "Some sentence about the topic at hand. " * 40 + "\n\n```\n# code\n```\n\n"
    text = "".join(section.format(n=n) for n in range(700))
    assert len(text) > 1_000_000
    outline.cache_clear()
    began = time.perf_counter()
    for n in range(0, 700, 3):
        start = text.index(f"## Part {n}\n") + 20
        assert locate(text, {}, start, start + 100, source="big.md").heading == f"Part {n}"
    elapsed = time.perf_counter() - began
    assert outline.cache_info().misses == 1
    assert elapsed < 5.0, f"234 lookups in a 1 MB document took {elapsed:.2f} s"


# ---------------------------------------------------------------------------------------------
# Citations


def _passage(number: int, doc_id: str, start: int, end: int) -> Passage:
    return Passage(number, doc_id, doc_id, doc_id, "x" * (end - start), start, end, (number,), 0.5)


def test_resolve_citations_fills_locations(pdf_doc) -> None:
    docs = {"facts.pdf": (pdf_doc.text, pdf_doc.meta), "guide.md": (MARKDOWN, {})}
    basalt = pdf_doc.text.index("Basalt")
    passages = [_passage(1, "facts.pdf", basalt, basalt + 40), _passage(2, "guide.md", *span(MARKDOWN, "Install it"))]
    calls: list[int] = []

    def where(passage: Passage) -> Location:
        calls.append(passage.number)
        text, meta = docs[passage.doc_id]
        return locate(text, meta, passage.start, passage.end, source=passage.source)

    result = resolve_citations("Basalt cools [1]. Use pip [2][1].", passages, locate=where)
    first, second = result.citations
    assert first.location == Location(page=2, page_end=2) and first.to_dict()["page"] == 2
    assert second.to_dict()["location"] == {"page": None, "page_end": None, "line": 10, "heading": "Installation",
                                            "record": None, "label": "§ Installation, line 10"}
    assert second.to_dict()["page"] is None
    assert calls == [1, 2]  # once per cited passage, not per reference


def test_resolve_citations_without_locate_leaves_location_null() -> None:
    result = resolve_citations("A [1].", [_passage(1, "d.txt", 0, 4)])
    assert result.citations[0].location is None
    assert result.citations[0].to_dict()["location"] is None and result.citations[0].to_dict()["page"] is None


# ---------------------------------------------------------------------------------------------
# Through the Workspace, with the real embedding model


@pytest.mark.slow
def test_workspace_locates_search_hits(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_fpdf(folder / "facts.pdf", PAGES)
    (folder / "guide.md").write_text(MARKDOWN, encoding="utf-8")
    ws = Workspace(tmp_path / "index")
    ws.index([folder], chunk_size=32, chunk_overlap=0)  # small chunks: one page or section each

    expected = {
        "Why do otters hold hands while sleeping?": ("facts.pdf", 1),
        "How do basalt columns form from lava?": ("facts.pdf", 2),
        "ancient Greek analogue computer for eclipses": ("facts.pdf", 4),
    }
    for query, (name, page) in expected.items():
        hit = ws.search(query, k=1)[0]
        assert Path(hit.source).name == name
        location = ws.locate(hit.doc_id, hit.start, hit.end)
        assert location is not None and location.page == page, (query, location)

    headings = {MARKDOWN.index("# Sift guide"): "Sift guide", MARKDOWN.index("## Installation"): "Installation",
                MARKDOWN.index("Configuration\n---"): "Configuration"}
    for query, needle in [("which file holds the settings", "Settings live"), ("install sift with pip", "Install it")]:
        hit = ws.search(query, k=1)[0]
        assert Path(hit.source).name == "guide.md" and needle in hit.text, (query, hit.text)
        location = ws.locate(hit.doc_id, hit.start, hit.end)
        first = hit.start + len(hit.text) - len(hit.text.lstrip())
        assert location is not None and location.page is None
        assert location.line == MARKDOWN[:first].count("\n") + 1
        assert location.heading == headings[max(o for o in headings if o <= first)]
    assert ws.locate("no/such/doc.md", 0, 1) is None
