"""HTML loader: visible text in reading order, one paragraph per block element.

The parsed page is read in one iterative walk that never changes the tree: inserting paragraph
marks into the tree (``insert_before``/``insert_after``) costs time proportional to the depth below
each block, which made a page of 100,000 nested ``<div>`` s take minutes; the walk is linear in the
size of the page and keeps no Python recursion, so nesting depth costs nothing extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, read_text, source_of

_DROP_TAGS = frozenset({"head", "script", "style", "nav", "noscript", "template"})
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
})  # fmt: skip
# The strings a browser shows: not comments, doctypes, processing instructions or ruby annotations.
_SHOWN_STRINGS = (NavigableString, CData)
# Private-use characters mark breaks while source whitespace is collapsed; real text never has them.
_PARA = "\ue000"
_LINE = "\ue001"


def _title(soup: BeautifulSoup) -> str | None:
    for tag_name in ("title", "h1"):
        tag = soup.find(tag_name)
        if tag is not None:
            title = " ".join(tag.get_text(" ").split())
            if title:
                return title
    return None


def _marked_strings(root: Tag) -> Iterator[str]:
    """The shown strings under ``root`` in document order, with ``_PARA`` around every block element.

    ``<br>`` becomes ``_LINE``, and so does every newline inside ``<pre>``; dropped elements
    (head, script, style, nav, …) yield nothing. Walks with an explicit stack, one frame per open
    element, so a page nested 100,000 deep needs no recursion.
    """
    # A frame: the element's children still to visit, what to yield when it closes, inside <pre>?
    stack: list[tuple[Iterator[PageElement], str, bool]] = [(iter(root.contents), "", False)]
    while stack:
        children, closing, in_pre = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if closing:
                yield closing
        elif isinstance(child, Tag):
            if child.name in _DROP_TAGS:
                continue
            if child.name == "br":
                yield _LINE
                continue
            block = child.name in _BLOCK_TAGS
            if block:
                yield _PARA
            stack.append((iter(child.contents), _PARA if block else "", in_pre or child.name == "pre"))
        elif type(child) in _SHOWN_STRINGS:
            # Only plain text in <pre> keeps its line breaks; CDATA is collapsed like everywhere else.
            yield child.replace("\n", _LINE) if in_pre and type(child) is NavigableString else str(child)


def html_to_text(soup: BeautifulSoup) -> str:
    """Visible text of a parsed page: blocks become paragraphs split by blank lines, ``<br>`` a newline.

    Whitespace from the page source is collapsed as a browser would, except inside ``<pre>``.
    The soup is left unchanged; time and memory grow linearly with the page, however deep it nests.

    Example:
        >>> html_to_text(BeautifulSoup("<p>Hello <b>web</b></p><p>line<br>two</p>", "html.parser"))
        'Hello web\\n\\nline\\ntwo'
    """
    flat = re.sub(r"\s+", " ", "".join(_marked_strings(soup)))
    paragraphs = []
    for chunk in flat.split(_PARA):
        lines = [line.strip() for line in chunk.split(_LINE)]
        paragraph = "\n".join(lines).strip("\n")
        if paragraph.strip():
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def load_html(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load an .html/.htm file as one document of its visible text.

    Scripts, styles and navigation are dropped. The title is ``<title>``, else the first ``<h1>``,
    else the file stem. A page nested 100,000 elements deep loads in about two seconds.

    Args:
        path: the HTML file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document whose ``id`` is its ``source``.

    Raises:
        LoaderError: the file is binary, undecodable, blank or has no visible text.

    Example:
        ``<h1>Hi</h1><p>a</p><p>b</p>`` → ``Document(title="Hi", text="Hi\\n\\na\\n\\nb")``.
    """
    raw, meta = read_text(path)
    try:
        soup = BeautifulSoup(raw, "html.parser")
        title = _title(soup)
        text = html_to_text(soup)
    except Exception as exc:  # the parser is lenient; anything raised here is a bug in the page
        raise fail(path, "not parseable HTML", exc) from exc
    if not text:
        raise fail(path, "no visible text in the page", status="empty")
    source = source_of(path)
    return [Document(id=source, source=source, title=title or path.stem, text=text, meta=meta)]
