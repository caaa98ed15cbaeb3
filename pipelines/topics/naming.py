"""Topic names written by the local generator from a topic's keywords and its most central texts.

A :class:`GeneratorNamer` is a labeler (``namer(keywords, texts) -> name``) for
:class:`~pipelines.topics.model.TopicModel`: it renders one short chat prompt with the model's own
template, decodes greedily for a few tokens and cleans the answer to one plain line
(:func:`clean_name`). It returns ``""`` when nothing is left, and the model then labels that topic
with its top keywords and records the fallback (``Topic.label_source == "fallback"``).

Example:
    >>> namer = GeneratorNamer(load_generator("smollm2-135m"))             # doctest: +SKIP
    >>> namer(["volcano", "magma", "lava"], ["Etna is an active volcano…"])  # doctest: +SKIP
    'Volcanoes and eruptions'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipelines.generation.base import GenerationConfig, Generator

# Word counts in the prompt made SmolLM2-135M answer "2 to 5 words: 2"; asked for a title it answers
# 'A short title for this topic is "…"', which clean_name reduces to the quoted title.
SYSTEM = "You name topics. Reply with a short title for the topic, nothing else."
USER = "Keywords: {keywords}\n\nTexts from the topic:\n{texts}\n\nWhat is a short title for this topic?"
_QUOTED = re.compile(r"[\"“«„]([^\"”»]+)")
MAX_WORDS = 5
MAX_CHARS = 60
EXCERPT_CHARS = 300
_PREFIX = re.compile(r"^(?:the\s+)?(?:topic\s+name|topic|name|title|label)\s*(?:is)?\s*[:\-–—]\s*", re.IGNORECASE)
_MARKUP = re.compile(r"[*`]|~~|(?<!\w)_+|_+(?!\w)|\[|\]|\(https?://[^)]*\)")
_LEAD = re.compile(r"^\s*(?:#+|>+|[-+•]|\d+[.)])\s+")
_QUOTES = "\"'“”‘’«»„`"
# words a cut name must not end on ("The Roman Empire and its" → "The Roman Empire")
_DANGLING = frozenset("a an and as at by for from in its of on or the their to with".split())


def clean_name(text: str, max_words: int = MAX_WORDS) -> str:
    """One plain line from a generator's answer: first non-empty line, no markup, quotes or prefix.

    Markdown emphasis, headings, code marks, list bullets, link targets, a leading "Topic name:" and
    surrounding quotes go; from 'A title could be "X"' only X is kept, and from "X: a subtitle" only X;
    control characters become spaces; trailing punctuation goes; a longer name
    is cut to ``max_words`` words (then dangling "and", "of" … dropped) and :data:`MAX_CHARS`
    characters. Returns ``""`` when nothing is left.

    Example:
        >>> clean_name('**Topic name:** "Volcanoes and Magma".\\nThese texts are about…')
        'Volcanoes and Magma'
    """
    for line in text.splitlines():
        line = "".join(ch if ch.isprintable() else " " for ch in line)
        line = _LEAD.sub("", _MARKUP.sub("", line)).strip()
        line = _PREFIX.sub("", line).strip()
        quoted = _QUOTED.search(line)
        if quoted and quoted.start() > 0:  # 'A good title is "X"' → X
            line = quoted.group(1)
        line = line.split(": ")[0] if ": " in line else line  # "The Hunt: A Tale of …" → "The Hunt"
        line = line.strip(_QUOTES + " ").rstrip(".:;,!?" + _QUOTES + " ").strip(_QUOTES + " ")
        if line:
            words = line.split()
            if len(words) > max_words:
                words = words[:max_words]
                while len(words) > 1 and words[-1].lower() in _DANGLING:
                    words.pop()
            return " ".join(words)[:MAX_CHARS].rstrip(" ,;:-–—")
    return ""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The text on one line, cut at a word boundary to at most ``limit`` characters plus "…".

    Example:
        >>> excerpt("Etna is an\\nactive volcano in Sicily", 20)
        'Etna is an active…'
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


def name_messages(keywords: Sequence[str], texts: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages asking for a topic's name.

    Example:
        >>> name_messages(["jazz", "album"], ["Kind of Blue is a 1959 album."])[1]["content"].splitlines()[0]
        'Keywords: jazz, album'
    """
    shown = "\n".join(f"- {excerpt(t)}" for t in texts) or "- (none)"
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER.format(keywords=", ".join(keywords), texts=shown)},
    ]


class GeneratorNamer:
    """Name topics with a local generator; a labeler for :class:`~pipelines.topics.model.TopicModel`.

    Args:
        generator: any :class:`~pipelines.generation.base.Generator` (loaded on first use).
        max_new_tokens: the answer budget; a name needs about a dozen tokens.
        n_keywords: keywords shown in the prompt.

    Attributes:
        name: ``"generator:<model>"``, what saved topics record as their labeler.
    """

    def __init__(self, generator: Generator, *, max_new_tokens: int = 24, n_keywords: int = 10) -> None:
        self.generator = generator
        self.name = f"generator:{getattr(generator, 'name', type(generator).__name__)}"
        self.config = GenerationConfig(max_new_tokens=max_new_tokens)
        self.n_keywords = n_keywords

    def __call__(self, keywords: list[str], texts: list[str]) -> str:
        """A cleaned name for the topic, or ``""`` when the generator wrote nothing usable."""
        from pipelines.rag.prompt import render  # templates without a system role get it merged

        prompt = render(self.generator, name_messages(keywords[: self.n_keywords], texts))
        return clean_name(self.generator.generate(prompt, self.config).text)
