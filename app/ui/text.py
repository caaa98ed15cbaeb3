"""Safe display of document text: escaped HTML (every character escaped first; the only tags are ours) and
escaped Markdown (:func:`plain`), so nothing a document says can make the browser fetch or run anything.

Example:
    >>> highlight("<b>Cats</b> purr", ["cat"])
    '&lt;b&gt;<mark>Cats</mark>&lt;/b&gt; purr'
    >>> print(plain("![x](http://127.0.0.1:9/x.png)"))
    \\!\\[x\\]\\(http\\:\\/\\/127\\.0\\.0\\.1\\:9\\/x\\.png\\)
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence

_WORD = re.compile(r"(?u)\b\w\w+\b")  # the token pattern of the BM25 index (bm25s)
# Every ASCII punctuation character: CommonMark lets a backslash escape each of them, and each can start
# Markdown (images, links, HTML, emphasis, headings, tables, Streamlit's :colour[...] and $math$).
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
PASSAGE_STYLE = "background: #ffe08a; padding: 0 2px;"
BOX_STYLE = "white-space: pre-wrap; line-height: 1.5; font-size: 0.95rem;"


def _english_stem() -> Callable[[str], str]:
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWord
    except ImportError:  # PyStemmer is a dependency of the index; without it match exact words
        return lambda word: word


_STEM = _english_stem()


def highlight(text: str, terms: Iterable[str], stem: Callable[[str], str] | None = None) -> str:
    """Escape ``text`` and wrap every word whose (stemmed, lowercased) form is a query term in ``<mark>``.

    Args:
        text: raw document text (never trusted).
        terms: lowercased, stemmed query terms, e.g. from ``Searcher.query_terms``.
        stem: word → stem (default: the English Snowball stemmer the BM25 index uses).

    Example:
        >>> highlight("Running dogs & cats", ["run", "cat"])
        '<mark>Running</mark> dogs &amp; <mark>cats</mark>'
    """
    wanted = {t.lower() for t in terms}
    if not wanted:
        return html.escape(text)
    stem = stem or _STEM
    parts: list[str] = []
    last = 0
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if word in wanted or stem(word) in wanted:
            parts.append(html.escape(text[last : match.start()]))
            parts.append(f"<mark>{html.escape(match.group(0))}</mark>")
            last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)


def plain(text: str) -> str:
    """``text`` as Markdown that shows exactly ``text``: every ASCII punctuation character backslash-escaped.

    For document-derived text (titles, passages, topic labels, label names, answers) passed to Markdown
    elements (``st.markdown``, ``st.caption``, ``st.subheader``, ``st.error`` …): ``![x](http://host/p.png)``
    would be an image the browser fetches, ``<img src=…>`` HTML; escaped they are the characters typed.
    Character by character, so the pieces of a stream escape alike: ``plain(a) + plain(b) == plain(a + b)``.

    Example:
        >>> print(plain("**Cats** <img src=x> & 2*3"))
        \\*\\*Cats\\*\\* \\<img src\\=x\\> \\& 2\\*3
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def marked_spans(text: str, spans: Iterable[tuple[int | None, int | None]]) -> str:
    """Escape ``text`` and mark the given ``(start, end)`` spans (merged where they overlap).

    Example:
        >>> marked_spans("a <b> c d", [(2, 5), (8, 9)]).replace(PASSAGE_STYLE, "…")
        'a <mark style="…">&lt;b&gt;</mark> c <mark style="…">d</mark>'
    """
    merged: list[list[int]] = []
    for start, end in sorted((s, e) for s, e in spans if s is not None and e is not None and s < e):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, last = [], 0
    for start, end in merged:
        parts += [html.escape(text[last:start]), f'<mark style="{PASSAGE_STYLE}">{html.escape(text[start:end])}</mark>']
        last = end
    return "".join(parts) + html.escape(text[last:])


def box(inner_html: str) -> str:
    """Wrap already-escaped HTML in a block that keeps the text's line breaks."""
    return f'<div style="{BOX_STYLE}">{inner_html}</div>'


def document_html(text: str, start: int, end: int, terms: Iterable[str] = (), context: int | None = 400) -> str:
    """The document around one passage: escaped, the passage in a marked span, query terms highlighted.

    Args:
        text: the document's full text.
        start / end: the passage's character offsets in ``text``.
        terms: query terms to highlight.
        context: characters shown before the passage (None: the whole document from its start).

    Example:
        >>> document_html("ab<cd>ef", 2, 6, context=1)
        '…b<mark style="background: #ffe08a; padding: 0 2px;">&lt;cd&gt;</mark>ef'
    """
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    begin = 0 if context is None else max(0, start - context)
    prefix = "…" if begin > 0 else ""
    return (
        prefix
        + highlight(text[begin:start], terms)
        + f'<mark style="{PASSAGE_STYLE}">{highlight(text[start:end], terms)}</mark>'
        + highlight(text[end:], terms)
    )


def token_chips(tokens: Sequence[str], ids: Sequence[int], limit: int | None = None) -> str:
    """Tokens as alternately shaded inline chips (id on hover); those past ``limit`` are struck through.

    Example:
        >>> token_chips(["<s>"], [1]).count("&lt;s&gt;")
        1
    """
    chips = []
    for position, (token, token_id) in enumerate(zip(tokens, ids)):
        shade = "#dbeafe" if position % 2 == 0 else "#fde68a"
        cut = "text-decoration: line-through; opacity: 0.5;" if limit is not None and position >= limit else ""
        shown = html.escape(token.replace("\n", "↵"))
        chips.append(
            f'<span title="id {int(token_id)}" style="display: inline-block; background: {shade}; '
            f'border-radius: 3px; padding: 0 3px; margin: 2px 1px; font-family: monospace; white-space: pre; {cut}">'
            f"{shown}</span>"
        )
    return f'<div style="line-height: 1.8;">{"<wbr>".join(chips)}</div>'

