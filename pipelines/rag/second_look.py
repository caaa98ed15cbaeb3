"""A second look at a question the model refused although the evidence gate let it through.

Qwen2.5-Coder-1.5B refuses some questions whose answer stands in a passage of its prompt, most often in a man
page's indented tables and option lists ("127 if the command is not found", "default is echo"): the refusal
rule wins a near-tie. Asked again without that rule it mostly writes a bare passage number ("[2]"), so the
second answer is begun for it with :data:`OPENING` ("According to the passages,"), and it goes on to state
the answer ("... xargs returns an exit status of 127 if the command is not found. [2]"). It does the same for
questions the documents cannot answer, from memory or from a passage about something else ("... bzip2 uses 4
threads for parallel compression by default. [2]"). So the second answer is kept only when it stands on the
passages everywhere (:func:`accepted`): the model cites a passage, every sentence that claims
something is supported by a passage (:mod:`pipelines.rag.support`), and it is no refusal. A question naming
something no indexed document holds gets no second look. Otherwise the first refusal stands.

The pipeline holds a refusal back while it is written, so a client never sees a refusal followed by an
answer: what streams is still the answer (:meth:`pipelines.rag.answer.RAGPipeline.events`). The cost is a
second generation for each refusal the model writes; answers and the gate's refusals cost nothing more.
Measured in ``docs/decisions/second-look.md``; ``SIFT_SECOND_LOOK=0`` turns it off.

Example:
    >>> from pipelines.rag.prompt import SYSTEM_PROMPT
    >>> without_refusal_rule(SYSTEM_PROMPT).endswith("that the passages do not state.")
    True
    >>> without_refusal_rule("Answer in French.") is None
    True
"""

from __future__ import annotations

from pipelines.generation.base import GenerationMetrics
from pipelines.generation.llama_cpp_settings import env_flag
from pipelines.rag.checked_text import CheckedText
from pipelines.rag.citations import CITATION_RE
from pipelines.rag.prompt import REFUSAL_RULE
from pipelines.rag.refusal import is_refusal_text

SECOND_LOOK_ENV = "SIFT_SECOND_LOOK"
OPENING = "According to the passages,"  # the second answer's first words, written for the model (a prefill)


def second_look_enabled() -> bool:
    """Whether a refusal written by the model gets a second look: on unless ``SIFT_SECOND_LOOK=0``.

    Raises:
        ConfigError: the variable is not a yes/no value.
    """
    return env_flag(SECOND_LOOK_ENV, True)


def without_refusal_rule(system: str) -> str | None:
    """``system`` without its refusal rule (:data:`~pipelines.rag.prompt.REFUSAL_RULE`), or None when it has
    none (a caller's own system message: it gets no second look)."""
    if REFUSAL_RULE not in system:
        return None
    return system.replace(" " + REFUSAL_RULE, "").replace(REFUSAL_RULE, "").strip()


NOTES = {
    "kept": "The model first refused; asked again without the refusal rule, it wrote this answer, which cites the "
            "passages and is supported by them.",
    "refused": "Asked again without the refusal rule, the model wrote an answer the passages do not support, so the "
               "refusal stands.",
}  # what the Ask page's details and `sift ask --verbose` say about a second look (Answer.second_look)


def accepted(checked: CheckedText, written: str) -> bool:
    """Whether a second answer replaces the refusal: no refusal; the model cited a passage in what it
    ``written`` (a citation the checks added does not count); every sentence that claims something is supported
    by a passage; and it adds to the question a word some passage holds (stop words, "according" and "passages"
    among them, do not count). The last rule keeps out an answer that restates the question, which the support
    check finds in a passage about it ("the name of your neighbour's dog is the dog in passage [2]").

    Example:
        >>> from pipelines.rag.prompt import Passage
        >>> ps = [Passage(1, "x", "xargs.txt", "xargs", "127 if the command cannot be found", 0, 34, (1,), .9)]
        >>> def second(text):
        ...     checked = CheckedText(ps)
        ...     checked.feed(text)
        ...     checked.flush()
        ...     return accepted(checked, text)
        >>> second("xargs exits with status 127 if the command cannot be found [1].")
        True
        >>> second("xargs exits with status 127 if the command cannot be found.")  # no citation
        False
        >>> second("It is maintained by the Debian Project [1].")  # not supported
        False
        >>> checked = CheckedText(ps, question="When does xargs exit with status 127?")
        >>> _ = checked.feed("According to the passages, xargs exits with status 127 [1]."), checked.flush()
        >>> accepted(checked, checked.text)  # the question restated: it adds nothing
        False
    """
    if checked.refused or is_refusal_text(checked.text):
        return False
    report = checked.report()
    if report is None or not report.checked:
        return False
    if not all(s.supported for s in report.checked) or not CITATION_RE.search(written):
        return False
    return checked.adds_passage_words(checked.text)


def combined(first: GenerationMetrics | None, second: GenerationMetrics | None) -> GenerationMetrics | None:
    """The metrics of two generations run one after the other for one answer: tokens and time added up, the
    time to first token as a client sees it (the whole first generation, then the second's first token).

    Example:
        >>> a = GenerationMetrics(700, 12, 5.0, 0.05, 20.0, 5.6)
        >>> b = GenerationMetrics(690, 15, 1.0, 0.05, 20.0, 1.7, cached_tokens=180)
        >>> m = combined(a, b)
        >>> m.prompt_tokens, m.completion_tokens, round(m.ttft_s, 1), round(m.total_s, 1), m.cached_tokens
        (1390, 27, 6.6, 7.3, 180)
    """
    if first is None or second is None:
        return second or first
    return GenerationMetrics(
        first.prompt_tokens + second.prompt_tokens, first.completion_tokens + second.completion_tokens,
        first.total_s + second.ttft_s, second.tpot_s, second.tokens_per_s, first.total_s + second.total_s,
        first.cached_tokens + second.cached_tokens,
    )
