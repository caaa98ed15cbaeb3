"""Split answer text into sentences with exact offsets, and strip ``[n]`` citation markers.

Used by the sentence-support check (:mod:`pipelines.rag.support`): each line break ends a sentence,
list markers are left out, and titles, abbreviations, initials and decimals do not end one.

Example:
    >>> text = "Dr. Smith met J. R. R. Tolkien in 1950 [1]. He was 3.5 m away."
    >>> [text[a:b] for a, b in split_sentences(text)]
    ['Dr. Smith met J. R. R. Tolkien in 1950 [1].', 'He was 3.5 m away.']
"""

from __future__ import annotations

import re

from pipelines.rag.citations import CITATION_RE

_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)")
_TRAILING_CITES = re.compile(r"(?:\s*" + CITATION_RE.pattern.removeprefix(" ?") + r")+[.!?]?")
_MARKER = re.compile(r"\s*(?:[-*•+]|\d{1,3}[.)])\s+")
_TITLES = frozenset("mr mrs ms dr prof st mt sr jr gen col lt capt sgt rev gov sen rep hon fr vs cf approx ca fig "
                    "figs eq e.g i.e".split())
_ABBREVIATIONS = frozenset("etc inc ltd co corp no nos vol pp ed eds dept univ est al jan feb mar apr jun jul aug "
                           "sep sept oct nov dec".split())
_STARTERS = frozenset("The This That These Those It Its He She They We You There Here His Her Their Our In On At "
                      "After Before When While However But And So Yet Also As For From By With During Since If Then "
                      "Thus Today Later Finally".split())


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Offsets of the sentences of ``text``; each line break ends one, list markers are left out.

    Titles ("Dr."), abbreviations ("etc.", "U.S."), initials ("J. R. R.") and decimals ("3.5") do not
    end a sentence unless a typical sentence opener follows ("… the U.S. The …"); a citation after
    the full stop ("… 1889. [1]") stays with its sentence.

    Example:
        >>> text = "Dr. Smith met J. R. R. Tolkien in the U.S. in 1950 [1]. He was 3.5 m away. [2] Yes!"
        >>> [text[a:b] for a, b in split_sentences(text)]
        ['Dr. Smith met J. R. R. Tolkien in the U.S. in 1950 [1].', 'He was 3.5 m away. [2]', 'Yes!']
    """
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        marker = _MARKER.match(text, line.start(), line.end())
        pos = marker.end() if marker else line.start()
        for end in _boundaries(text, pos, line.end()):
            _add_trimmed(text, pos, end, spans)
            pos = end
        _add_trimmed(text, pos, line.end(), spans)
    return spans


def _boundaries(text: str, start: int, stop: int) -> list[int]:
    ends: list[int] = []
    for match in _END.finditer(text, start, stop):
        if ends and match.start() < ends[-1] or not _is_boundary(text, match, start, stop):
            continue
        end = match.end()
        cites = _TRAILING_CITES.match(text, end, stop)
        if cites and (cites.end() == stop or text[cites.end()].isspace()):
            end = cites.end()
        ends.append(end)
    return ends


def _is_boundary(text: str, match: re.Match[str], start: int, stop: int) -> bool:
    rest = text[match.end() : stop].lstrip()
    if not rest:
        return True
    if rest.lstrip("\"'“‘(")[:1].islower():
        return False
    if "." not in match.group(0) or match.group(0).startswith(".."):
        return True
    before = text[start : match.start()].split()
    word = before[-1].lstrip("\"'“‘(") if before else ""
    lower = word.lower()
    if lower in _TITLES:
        return False
    if re.fullmatch(r"[A-Z]|(?:[A-Za-z]\.)+[A-Za-z]", word) or lower in _ABBREVIATIONS:
        next_word = re.match(r"[^\s.,;:]+", rest)
        return bool(next_word) and next_word.group(0) in _STARTERS
    return True


def _add_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    if piece.strip():
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + len(piece.rstrip())))


def strip_citations(text: str) -> str:
    """``text`` without its ``[n]`` markers: ``"Paris [1]."`` → ``"Paris."``."""
    return CITATION_RE.sub("", text).strip()
