"""Plain-text loader for .txt, .md/.markdown and .rst: the file's text, kept as written."""

from __future__ import annotations

import re
from pathlib import Path

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, read_text, source_of

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


def load_text(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a plain-text, Markdown or reStructuredText file as one document.

    The title is the first level-one heading (Markdown) or section title (reST), else the stem.

    Args:
        path: a .txt, .md, .markdown or .rst file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document whose ``id`` is its ``source``; ``meta`` is ``{"encoding": "cp1252"}`` when
        the file was not UTF-8, else empty.

    Raises:
        LoaderError: the file is binary, undecodable or blank.

    Example:
        ``notes.md`` holding ``"# Plans\\n\\nShip it."`` → ``Document(title="Plans", text="# Plans…")``.
    """
    text, meta = read_text(path)
    suffix = path.suffix.lower()
    title = None
    if suffix in {".md", ".markdown"}:
        title = markdown_title(text)
    elif suffix == ".rst":
        title = rst_title(text)
    source = source_of(path)
    return [Document(id=source, source=source, title=title or path.stem, text=text, meta=meta)]
