"""Plain-text loader for .txt, .md/.markdown and .rst: the file's text, kept as written."""

from __future__ import annotations

import re
from pathlib import Path

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, read_text, source_of

# A word groff broke across lines: U+2010 HYPHEN at a line's end, the word going on after the next line's indent
# (man pages rendered to text, `man xargs > xargs.txt`). A hyphen typed in the text is an ASCII "-" there.
_BROKEN_WORD = re.compile(r"(?<=\w)\u2010\n[ \t]*(?=\w)")
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# reStructuredText section adornment: one punctuation character repeated.
_RST_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1+[ \t]*$")


def markdown_title(text: str) -> str | None:
    """The first level-one heading of a Markdown text, ignoring fenced code blocks.

    Both ``# Title`` and a line underlined with ``===`` count.

    Example:
        >>> markdown_title("intro\\n\\n# Getting started #\\n\\ntext")
        'Getting started'
    """
    lines = text.splitlines()
    in_fence = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = _ATX_H1.match(line)
        if match:
            return match.group(1).strip()
        below = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r" {0,3}=+[ \t]*", below):
            return line.strip()
    return None


def rst_title(text: str) -> str | None:
    """The first section title of a reStructuredText text (a line with an adornment line below).

    Example:
        >>> rst_title("Install\\n=======\\n\\nRun pip.")
        'Install'
    """
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        title, below = lines[i].strip(), lines[i + 1].strip()
        if title and not _RST_ADORNMENT.match(title) and _RST_ADORNMENT.match(below):
            if len(below) >= len(title):
                return title
    return None


def join_broken_words(text: str) -> str:
    r"""Words a man page's renderer hyphenated at a line's end, joined again (the line's rest moves up).

    Example:
        >>> join_broken_words("runs any initial-argu\u2010\n       ments given")
        'runs any initial-arguments given'
    """
    return _BROKEN_WORD.sub("", text)


def load_text(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a plain-text, Markdown or reStructuredText file as one document.

    The title is the first level-one heading (Markdown) or section title (reST), else the stem.

    Args:
        path: a .txt, .md, .markdown or .rst file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document whose ``id`` is its ``source``; ``meta`` is ``{"encoding": "cp1252"}`` when
        the file was not UTF-8, else empty. Words a man page's renderer broke across lines are joined
        (:func:`join_broken_words`), so "exe‐ cuted" is found as "executed".

    Raises:
        LoaderError: the file is binary, undecodable or blank.

    Example:
        ``notes.md`` holding ``"# Plans\\n\\nShip it."`` → ``Document(title="Plans", text="# Plans…")``.
    """
    text, meta = read_text(path)
    text = join_broken_words(text)
    suffix = path.suffix.lower()
    title = None
    if suffix in {".md", ".markdown"}:
        title = markdown_title(text)
    elif suffix == ".rst":
        title = rst_title(text)
    source = source_of(path)
    return [Document(id=source, source=source, title=title or path.stem, text=text, meta=meta)]
