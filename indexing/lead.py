"""A document's lead: its first sentence with the document's own name taken out.

Why: a query that describes a document ("Italian Renaissance sculptor", "flat-bottomed boat for
bulk goods") matches what the document *is*, and that is usually said in its first sentence
("Donatello was an Italian sculptor of the Renaissance"). Embedded whole, a chunk is a blend of
everything it says, and a short sentence's embedding is dominated by the name in it. So each
document's first chunk gets a second vector: the chunk's vector averaged with the vector of its
lead, name removed. A query scores that chunk by the better of its two vectors, so a search by
name still finds the chunk's own vector (see ``indexing.store.vectors.fold_leads``). What it gains
on the wiki known-item task, what it costs, and the variants that did worse: ``docs/decisions/lead-vectors.md``.
"""

from __future__ import annotations

import re

LEAD_WORDS = 48  # words kept of a long first sentence
MIN_WORDS = 3  # fewer words left after removing the name: no lead
MIN_LINE_WORDS = 4  # shorter blocks before the first paragraph are headings or labels, skipped
_WORD = re.compile(r"\w+")
_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "no", "co", "inc", "ltd", "c", "ca", "fig"}
_MARKUP = re.compile(r"^[\s#>*=_~`|+-]+")


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


def lead_text(title: str, text: str) -> str:
    """What the lead vector embeds: the first sentence, ≤ 48 words, without the title's words; "" if too short.

    Example:
        >>> lead_text("Donatello", "Donato di Betto Bardi, known as Donatello, was an Italian sculptor. He ...")
        'Donato di Betto Bardi, known as, was an Italian sculptor.'
    """
    sentence = " ".join(first_sentence(first_paragraph(text)).split()[:LEAD_WORDS])
    name = {w.lower() for w in _WORD.findall(title) if len(w) > 1}
    kept = _WORD.sub(lambda m: "" if m.group(0).lower() in name else m.group(0), sentence)
    kept = " ".join(re.sub(r"\s+([,.;:!?)])", r"\1", kept).split())
    return kept if len(_WORD.findall(kept)) >= MIN_WORDS else ""
