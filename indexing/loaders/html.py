"""HTML loader: visible text in reading order, one paragraph per block element."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString

from indexing.loaders.common import LoadOptions, fail, read_text, source_of
from indexing.types import Document

_DROP_TAGS = ["head", "script", "style", "nav", "noscript", "template"]
_BLOCK_TAGS = [
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
]  # fmt: skip
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


def html_to_text(soup: BeautifulSoup) -> str:
    """Visible text of a parsed page: blocks become paragraphs split by blank lines, ``<br>`` a newline.

    Whitespace from the page source is collapsed as a browser would, except inside ``<pre>``.
    The soup is modified in place.

    Example:
        >>> html_to_text(BeautifulSoup("<p>Hello <b>web</b></p><p>line<br>two</p>", "html.parser"))
        'Hello web\\n\\nline\\ntwo'
    """
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for pre in soup.find_all("pre"):
        for string in list(pre.find_all(string=True)):
            if type(string) is NavigableString:  # leave comments and other special strings alone
                string.replace_with(NavigableString(string.replace("\n", _LINE)))
    for br in soup.find_all("br"):
        br.replace_with(NavigableString(_LINE))
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before(NavigableString(_PARA))
        block.insert_after(NavigableString(_PARA))
    flat = re.sub(r"\s+", " ", soup.get_text())
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
    else the file stem.

    Args:
        path: the HTML file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document whose ``id`` is its ``source``.

    Raises:
        LoaderError: the file is binary, undecodable, blank or has no visible text.

    Example:
        ``<title>Hi</title><p>a</p><p>b</p>`` → ``Document(title="Hi", text="a\\n\\nb")``.
    """
    raw, meta = read_text(path)
    try:
        soup = BeautifulSoup(raw, "html.parser")
        title = _title(soup)
        text = html_to_text(soup)
    except Exception as exc:  # the parser is lenient; anything raised here is a bug in the page
        raise fail(path, "not parseable HTML", exc) from exc
    if not text:
        raise fail(path, "no visible text in the page")
    source = source_of(path)
    return [Document(id=source, source=source, title=title or path.stem, text=text, meta=meta)]
