"""A document's lead: what its first sentence says the document *is*.

Why: a query that describes a document ("Italian Renaissance sculptor", "flat-bottomed boat for
bulk goods") matches what the document *is*, and that is usually said in its first sentence
("Donatello was an Italian sculptor of the Renaissance"). Embedded whole, a chunk is a blend of
everything it says, and a short sentence's embedding is dominated by the name in it. So each
document's first chunk gets a second vector: the chunk's vector averaged with the vector of its lead.
A query scores that chunk by the better of its two vectors, so a search by name still finds the
chunk's own vector (see ``indexing.store.vectors.fold_leads``).

Two styles; an index keeps the one it was built with (``Manifest.lead_style``):

- 1, sentence: the first sentence with the document's name taken out.
- 2, definition (:data:`LEAD_STYLE`, new indexes): when the first sentence defines its subject
  ("Donato di Betto Bardi, known as Donatello, was an Italian sculptor of the Renaissance"), only
  the definition ("an Italian sculptor of the Renaissance"), else style 1's text.

What each gains on the wiki known-item task, what it costs, and the variants that did worse:
``docs/decisions/lead-vectors.md``.
"""

from __future__ import annotations

import re

import numpy as np

LEAD_STYLE = 2  # what new indexes are built with; a manifest without a style holds style 1
LEAD_STYLES = (1, 2)
STYLE_NAMES = {1: "first sentences", 2: "definitions"}  # what `sift info` calls each
SUBJECT_WORDS = 20  # a definition's subject ("X, also known as Y, ...") is at most this many words
LEAD_WORDS = 48  # words kept of a long first sentence
MIN_WORDS = 3  # fewer words left after removing the name: no lead
MIN_LINE_WORDS = 4  # shorter blocks before the first paragraph are headings or labels, skipped
_WORD = re.compile(r"\w+")
_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "no", "co", "inc", "ltd", "c", "ca", "fig"}
_MARKUP = re.compile(r"^[\s#>*=_~`|+-]+")
# "<subject> is / was / are / were / refers to" followed by an article or "one": a definition begins.
_COPULA = re.compile(r"\b(?:is|was|are|were|refers to)\s+(?=(?:an?|the|one|any)\b)", re.IGNORECASE)


def first_paragraph(text: str) -> str:
    """The first block of non-blank lines with at least 4 words, headings dropped, joined into one line.

    Example:
        >>> first_paragraph("# Notes\\n\\nBarges are flat\\nboats. They carry coal.\\n\\nMore.")
        'Barges are flat boats. They carry coal.'
    """
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.splitlines() if not line.lstrip().startswith("#")]
        words = " ".join(_MARKUP.sub("", line) for line in lines).split()
        if len(words) >= MIN_LINE_WORDS:
            return " ".join(words)
    return ""


def first_sentence(paragraph: str) -> str:
    """The paragraph up to its first sentence end (initials and common abbreviations do not end one).

    Example:
        >>> first_sentence("Arthur C. Clarke was a writer. He lived in Sri Lanka.")
        'Arthur C. Clarke was a writer.'
    """
    for match in _END.finditer(paragraph):
        before = paragraph[: match.start()].rsplit(" ", 1)[-1].lower().strip("(\"'")
        if before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue
        return paragraph[: match.start() + 1]
    return paragraph


def definition(sentence: str) -> str:
    """What a defining sentence says its subject is: the words after its first "is a", "was the", "are
    one of"… when at most :data:`SUBJECT_WORDS` words precede it; "" when the sentence defines nothing.

    Example:
        >>> definition("Donato di Betto Bardi, known as Donatello, was an Italian sculptor of the Renaissance.")
        'an Italian sculptor of the Renaissance.'
        >>> definition("Install the package before you start.")
        ''
    """
    match = _COPULA.search(sentence)
    if match is None or len(sentence[: match.start()].split()) > SUBJECT_WORDS:
        return ""
    rest = sentence[match.end() :].strip()
    return rest if len(_WORD.findall(rest)) >= 2 else ""


def lead_text(title: str, text: str, style: int = LEAD_STYLE) -> str:
    """What the lead vector embeds: the first sentence, ≤ 48 words; style 2 keeps only its definition when it
    has one (:func:`definition`), else (and in style 1) the sentence without the title's words; "" if too short.

    Example:
        >>> lead_text("Donatello", "Donato di Betto Bardi, known as Donatello, was an Italian sculptor. He ...", 1)
        'Donato di Betto Bardi, known as, was an Italian sculptor.'
        >>> lead_text("Donatello", "Donato di Betto Bardi, known as Donatello, was an Italian sculptor. He ...")
        'an Italian sculptor.'
    """
    if style not in LEAD_STYLES:
        raise ValueError(f"lead style {style!r} is unknown: use one of {LEAD_STYLES}")
    sentence = " ".join(first_sentence(first_paragraph(text)).split()[:LEAD_WORDS])
    if style >= 2 and (defined := definition(sentence)):
        return defined
    name = {w.lower() for w in _WORD.findall(title) if len(w) > 1}
    kept = _WORD.sub(lambda m: "" if m.group(0).lower() in name else m.group(0), sentence)
    kept = " ".join(re.sub(r"\s+([,.;:!?)])", r"\1", kept).split())
    return kept if len(_WORD.findall(kept)) >= MIN_WORDS else ""


def mix(chunks: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """Lead vectors: each first chunk's unit vector averaged with its lead's (rows paired), unit length.

    Example:
        >>> [round(float(x), 3) for x in mix(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))[0]]
        [0.707, 0.707]
    """
    mixed = np.asarray(chunks, dtype=np.float32) + np.asarray(leads, dtype=np.float32)
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
