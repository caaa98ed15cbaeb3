"""Where a passage sits in its document, in terms a person can open: a PDF page, a record, a heading and a line.

PDFs: the page (and last page) from the ``page_starts`` offsets the PDF loader records. Records of a
CSV, JSONL or Wikipedia-summaries JSON file (one document each, :mod:`indexing.loaders.tabular`): the
record, by what its document id says: ``row 3`` of a CSV, ``record 3`` of a JSONL file, ``id 7`` when
the file has an ``id`` column, ``record "Mona Lisa"`` of the JSON; a line of a record's text is no line
of the file, so none is given. Other files: the nearest heading at or above the passage and the 1-based
line where it starts, except in a document of one line, where "line 1" would tell nothing. How headings
are recognised depends on what the loader produced, chosen by the file's suffix:

* Markdown (``.md``, ``.markdown``): ATX (``## Install``) and setext (``===`` / ``---`` underlines),
  skipping fenced code blocks and YAML front matter.
* reStructuredText (``.rst``): a title line under- (and optionally over-) lined with one repeated
  punctuation character at least as long as the title.
* HTML and DOCX (``.html``, ``.htm``, ``.docx``): their loaders render every block, ``<h1>``–``<h6>``
  included, as a plain paragraph between blank lines, so no markup is left. A heading is then a
  one-line paragraph of at most 100 characters that does not end like a sentence and is followed by a
  paragraph that is not heading-like itself. No line number is given: lines of the rendered text are
  not lines of the file a person opens.
* Anything else (``.txt``, unknown): the Markdown and reStructuredText rules together.

The outline of a document (its heading offsets) is computed once and cached by the text itself, so
locating many passages of a 1 MB document scans it once.

Example:
    >>> text = "# Guide\\n\\n## Install\\n\\nRun pip install sift.\\n"
    >>> locate(text, {}, text.index("Run"), len(text), source="guide.md").label
    '§ Install, line 5'
    >>> locate("one\\n\\ntwo", {"page_starts": "0,5"}, 5, 8).label
    'p. 2'
    >>> locate("Sold out.", {}, 0, 9, source="/d/t.csv", doc_id="/d/t.csv#row=3").label
    'row 3'
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePath
from typing import Any, Literal

from indexing.loaders.pdf import PAGE_STARTS, parse_page_starts

Style = Literal["markdown", "rst", "text", "blocks"]
_STYLES: dict[str, Style] = {
    ".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".html": "blocks", ".htm": "blocks", ".docx": "blocks",
}
# Files whose loaders make one document per record, and what a record is called in each.
_RECORDS = {".csv": "row", ".jsonl": "record", ".json": "record"}
MAX_HEADING_CHARS = 100
OUTLINE_CACHE_SIZE = 32  # documents whose outline is kept; a RAG answer cites a handful

_ATX = re.compile(r" {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r" {0,3}(=+|-{2,})[ \t]*")
# reStructuredText adornment: one non-alphanumeric printable character repeated (docutils' rule).
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1{2,}[ \t]*")
_SENTENCE_END = tuple(".,;:!?…")


@dataclass(frozen=True)
class Location:
    """A place in a document a person can go to.

    Attributes:
        page: 1-based PDF page where the passage starts (None for other files).
        page_end: 1-based PDF page where it ends (equal to ``page`` when it stays on one page).
        line: 1-based line of the file where it starts (None for PDFs, HTML, DOCX, records and
            one-line documents).
        heading: the nearest heading at or above the passage, if any.
        record: which record of a CSV, JSONL or JSON file the document is (``"row 3"``, ``"id 7"``).

    Example:
        >>> Location(page=3, page_end=4).label, Location(line=42, heading="Installation").label
        ('pp. 3–4', '§ Installation, line 42')
        >>> Location(record='record "Mona Lisa"').label
        'record "Mona Lisa"'
    """

    page: int | None = None
    page_end: int | None = None
    line: int | None = None
    heading: str | None = None
    record: str | None = None

    @property
    def label(self) -> str:
        """Short human form: ``"p. 3"``, ``"pp. 3–4"``, ``"row 3"``, ``"§ Installation, line 42"``, ``"line 7"``
        (or ``""``)."""
        parts: list[str] = []
        if self.page is not None:
            last = self.page_end if self.page_end is not None else self.page
            parts.append(f"p. {self.page}" if last == self.page else f"pp. {self.page}–{last}")
        if self.record:
            parts.append(self.record)
        if self.heading:
            parts.append(f"§ {self.heading}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, label included."""
        return {"page": self.page, "page_end": self.page_end, "line": self.line, "heading": self.heading,
                "record": self.record, "label": self.label}


def style_of(source: str | None) -> Style:
    """Which heading rules fit a document, from its file's suffix: ``style_of("a/B.MD") == "markdown"``."""
    if not source:
        return "text"
    return _STYLES.get(PurePath(source).suffix.lower(), "text")


def locate(
    text: str, meta: Mapping[str, Any], start: int, end: int, *, source: str | None = None, doc_id: str | None = None
) -> Location:
    """Where the span ``text[start:end]`` of a document is: page(s) for PDFs, the record of a table or JSON
    file, heading and line otherwise.

    Whitespace at the edges of the span is ignored, so a passage that begins with the blank lines
    between two pages is placed on the page its text is on.

    Args:
        text: the document's full text (the one chunk offsets point into).
        meta: the document's (or hit's) metadata; ``page_starts`` marks a PDF.
        start, end: character offsets of the span.
        source: the document's file, which picks the heading rules (see the module docstring).
        doc_id: the document's id, which names a record (``".../t.csv#row=3"``); without it a record is
            named by its ``id`` column, if it has one.

    Returns:
        The location; for PDFs ``page`` and ``page_end`` only, for records ``record`` only.

    Raises:
        ValueError: the offsets are outside the text (the document changed since it was searched), or
            ``page_starts`` is malformed.

    Example:
        >>> locate("a\\n\\nb\\n\\nc", {"page_starts": "0,3,3,6"}, 0, 7)
        Location(page=1, page_end=4, line=None, heading=None, record=None)
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(
            f"span {start}-{end} is outside the {len(text)}-character document; it changed since it was "
            "searched: search again"
        )
    span = text[start:end]
    first = start + len(span) - len(span.lstrip())
    last = max(first, start + len(span.rstrip()) - 1)
    if PAGE_STARTS in meta:
        starts = _page_starts(str(meta[PAGE_STARTS]))
        return Location(page=bisect_right(starts, first), page_end=bisect_right(starts, last))
    kind = _RECORDS.get(PurePath(source).suffix.lower()) if source else None
    if kind is not None:
        return Location(record=record_name(kind, source or "", doc_id, meta))
    style = style_of(source)
    offsets, titles = outline(text, style)
    index = bisect_right(offsets, first) - 1
    heading = titles[index] if index >= 0 else None
    one_line = "\n" not in text.strip()
    line = None if style == "blocks" or one_line else text.count("\n", 0, first) + 1
    return Location(line=line, heading=heading)


def record_name(kind: str, source: str, doc_id: str | None, meta: Mapping[str, Any]) -> str | None:
    """How a reader finds a record in its file, from the id its loader gave it.

    Args:
        kind: what the file calls a record ("row" for CSV, "record" for JSONL and JSON).
        source: the file (the document id starts with it and ``#``).
        doc_id: ``"{source}#row=3"``, ``"{source}#id=7"`` (tabular loaders) or ``"{source}#Mona Lisa"`` (the
            Wikipedia-summaries JSON, keyed by title); None when unknown.
        meta: the document's metadata; its ``id`` names the record when ``doc_id`` is None.

    Example:
        >>> record_name("record", "/d/s.jsonl", "/d/s.jsonl#row=12", {})
        'record 12'
        >>> record_name("row", "/d/t.csv", None, {"id": "A7"})
        'id A7'
    """
    if doc_id is None:
        return f"id {meta['id']}" if meta.get("id") else None
    key = doc_id[len(source) + 1:] if doc_id.startswith(source + "#") else doc_id.partition("#")[2]
    name, _, value = key.partition("=")
    if PurePath(source).suffix.lower() != ".json" and value and name in ("row", "id"):
        return f"{kind} {value}" if name == "row" else f"id {value}"
    return f'{kind} "{key}"' if key else None


@lru_cache(maxsize=OUTLINE_CACHE_SIZE)
def _page_starts(value: str) -> tuple[int, ...]:
    return tuple(parse_page_starts(value))  # a tuple: the cached value is shared by every caller


@lru_cache(maxsize=OUTLINE_CACHE_SIZE)
def outline(text: str, style: Style = "text") -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Headings of a text: their start offsets (ascending) and their titles.

    Cached by the text (Python caches a string's hash, so a repeated lookup with the same string is cheap).

    Example:
        >>> outline("Intro\\n=====\\n\\n```\\n# not a heading\\n```\\n## Usage ##\\n", "markdown")
        ((0, 37), ('Intro', 'Usage'))
    """
    if style == "blocks":
        found = _block_headings(text)
    else:
        found = _markup_headings(text, style)
    return tuple(offset for offset, _ in found), tuple(title for _, title in found)


def _lines(text: str) -> list[tuple[int, str]]:
    """``(offset, line)`` pairs, split on ``"\\n"`` only so offsets match the text (``\\r`` is dropped)."""
    pairs = []
    offset = 0
    for line in text.split("\n"):
        pairs.append((offset, line.rstrip("\r")))
        offset += len(line) + 1
    return pairs


def _markup_headings(text: str, style: Style) -> list[tuple[int, str]]:
    markdown, rst = style in ("markdown", "text"), style in ("rst", "text")
    lines = _lines(text)
    found: list[tuple[int, str]] = []
    fence = ""  # the open code fence ("```", "~~~~"), empty outside one
    previous: tuple[int, str] | None = None  # the line above, while it could be a title
    skip = _front_matter_end(lines) if markdown else 0
    for offset, line in lines[skip:]:
        if markdown and fence:
            stripped = line.strip()
            if stripped and stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = ""
            continue
        if markdown and (match := _FENCE.match(line)):
            fence, previous = match.group(1), None
            continue
        # Before ATX: in plain text "Title" over "#####" is a reST underline, not an empty Markdown heading.
        if previous is not None and _underlines(line, previous[1], markdown, rst):
            found.append((previous[0], previous[1].strip()))
            previous = None
            continue
        if markdown and (match := _ATX.fullmatch(line)):
            if match.group(1) and match.group(1).strip():
                found.append((offset, match.group(1).strip()))
            previous = None
            continue
        is_rule = (rst and _ADORNMENT.fullmatch(line.strip()) is not None) or (markdown and _SETEXT.fullmatch(line))
        previous = (offset, line) if line.strip() and not is_rule else None
    return found


def _underlines(line: str, title: str, markdown: bool, rst: bool) -> bool:
    if markdown and _SETEXT.fullmatch(line) and not title.startswith((" " * 4, "\t")):
        return True
    stripped = line.strip()
    return rst and _ADORNMENT.fullmatch(stripped) is not None and len(stripped) >= len(title.strip())


def _front_matter_end(lines: list[tuple[int, str]]) -> int:
    """Index of the first line after a YAML front matter block (``---`` … ``---``), 0 when there is none."""
    if not lines or lines[0][1].strip() != "---":
        return 0
    for i in range(1, len(lines)):
        if lines[i][1].strip() in ("---", "..."):
            return i + 1
    return 0


def _block_headings(text: str) -> list[tuple[int, str]]:
    blocks: list[tuple[int, str]] = []
    offset = 0
    for block in text.split("\n\n"):
        blocks.append((offset, block))
        offset += len(block) + 2
    found = []
    for (offset, block), (_, following) in zip(blocks, blocks[1:]):
        if _heading_like(block) and not _heading_like(following):
            lead = len(block) - len(block.lstrip())
            found.append((offset + lead, block.strip()))
    return found


def _heading_like(block: str) -> bool:
    """A one-line block short enough for a title that does not end like a sentence."""
    stripped = block.strip()
    return (
        0 < len(stripped) <= MAX_HEADING_CHARS
        and "\n" not in stripped
        and not stripped.endswith(_SENTENCE_END)
        and any(ch.isalpha() for ch in stripped)
    )
