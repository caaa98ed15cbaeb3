"""A refusal the model writes is held back and asked again without the refusal rule; the second answer replaces it
only when it cites a passage and every sentence is supported, and what streams is the answer either way.

The generator writes given texts (the wiring under test is the pipeline's); the passages come from the real
bag-of-words retriever of ``rag_testkit``. The measured effect with Qwen2.5-Coder-1.5B is in
``docs/decisions/second-look.md``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rag_testkit import BagOfWordsRetriever

from indexing.errors import ConfigError
from pipelines.generation.base import GenerationConfig, GenerationMetrics, GenerationResult, GenerationStream
from pipelines.rag import RAGPipeline, RefusalPolicy
from pipelines.rag.events import Done, Held, Retrieved, Token
from pipelines.rag.prompt import REFUSAL_RULE, SYSTEM_PROMPT
from pipelines.rag.refusal import REFUSAL_TEXT
from pipelines.rag.second_look import OPENING, SECOND_LOOK_ENV, second_look_enabled, without_refusal_rule

QUESTION = "Who built the Eiffel Tower?"
ANSWER = "The Eiffel Tower was built by Gustave Eiffel [1]."
GOES_ON = " the Eiffel Tower was built by Gustave Eiffel [1]."  # what the model writes after the opening
SECOND = OPENING + GOES_ON


class _Writes:
    """Writes ``texts[i]`` for the i-th prompt (the last one from then on), word by word; records the prompts
    and which streams were closed before they ended."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.prompts: list[str] = []
        self.closed_early: list[int] = []
        self.ended: set[int] = set()

    @property
    def context_length(self) -> int:
        return 4096

    def warm_up(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return "\n".join(f"<{m['role']}>{m['content']}" for m in messages)

    def generate(self, prompt: str, config: GenerationConfig) -> GenerationResult:
        stream = self.stream(prompt, config)
        "".join(stream)
        return stream.result

    def stream(self, prompt: str, config: GenerationConfig) -> GenerationStream:
        self.prompts.append(prompt)
        slot = len(self.prompts) - 1
        text = self.texts[min(slot, len(self.texts) - 1)]

        def pieces() -> Iterator[str | GenerationResult]:
            words = text.split(" ")
            for i, word in enumerate(words):
                yield word if i == 0 else " " + word
            self.ended.add(slot)
            metrics = GenerationMetrics(len(prompt.split()), len(text.split()), 0.5, 0.1, 10.0, 1.0)
            yield GenerationResult(text, "stop", metrics)

        def closed() -> None:
            if slot not in self.ended:
                self.closed_early.append(slot)

        return GenerationStream(pieces(), on_close=closed)

    def system(self, slot: int) -> str:
        """The system message of the ``slot``-th prompt."""
        return self.prompts[slot].split("\n<user>", 1)[0]


def _rag(generator: _Writes, **kwargs: object) -> RAGPipeline:
    return RAGPipeline(BagOfWordsRetriever(), generator, refusal=RefusalPolicy(min_dense_score=0.1),  # type: ignore[arg-type]
                       **kwargs)  # type: ignore[arg-type]


def _events(rag: RAGPipeline, question: str = QUESTION) -> tuple[list[object], str, Done]:
    events = list(rag.events(question, rag.retrieve(question)))
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    (done,) = [e for e in events if isinstance(e, Done)]
    return events, streamed, done


def test_a_refusal_is_replaced_by_a_second_answer_that_stands_on_the_passages() -> None:
    writes = _Writes(REFUSAL_TEXT, GOES_ON)
    events, streamed, done = _events(_rag(writes))
    answer = done.answer
    assert (answer.text, answer.refused, answer.second_look) == (SECOND, False, "kept")
    assert streamed == SECOND and REFUSAL_TEXT not in streamed, "the refusal never reached the client"
    assert isinstance(events[0], Retrieved) and any(isinstance(e, Held) for e in events)
    assert REFUSAL_RULE in writes.system(0) and REFUSAL_RULE not in writes.system(1)
    assert writes.system(1) == "<system>" + without_refusal_rule(SYSTEM_PROMPT)
    first, second = (prompt.split("\n<user>", 1)[1] for prompt in writes.prompts)
    assert second == first + OPENING, "the same passages and question; the answer begun for the model"
    assert answer.raw_text == SECOND and answer.citations[0].doc_id == "paris.txt" and answer.support is not None
    assert answer.usage["completion_tokens"] == len(REFUSAL_TEXT.split()) + len(GOES_ON.split()), "both counted"
    assert answer.to_dict()["second_look"] == "kept"


@pytest.mark.parametrize(
    ("second", "why"),
    [
        (" the Eiffel Tower was built by the Debian Project in 1999 [1].", "a sentence no passage supports"),
        (" the Eiffel Tower was built by Gustave Eiffel.", "supported, but the model cited nothing"),
        (" [1]", "a bare citation"),
        (" the Eiffel Tower was built [1].", "the question restated: it adds no word of a passage"),
        (" I cannot find the answer in the provided documents.", "refused again"),
        (" the passages do not mention who built it [1].", "a refusal in other words"),
    ],
)
def test_the_refusal_stays_when_the_second_answer_does_not_stand_on_the_passages(second: str, why: str) -> None:
    writes = _Writes(REFUSAL_TEXT, second)
    events, streamed, done = _events(_rag(writes))
    answer = done.answer
    assert len(writes.prompts) == 2, why
    assert (answer.text, answer.refused, answer.refusal_reason, answer.second_look) == (
        REFUSAL_TEXT, True, "model", "refused"), why
    assert streamed == REFUSAL_TEXT and answer.raw_text == REFUSAL_TEXT, "the first refusal, as written"
    assert answer.usage["prompt_tokens"] == sum(len(p.split()) for p in writes.prompts), "the second look is counted"


def test_an_answer_is_streamed_as_it_comes_and_asked_once() -> None:
    writes = _Writes(ANSWER + " It stands in Paris [1].")
    events, streamed, done = _events(_rag(writes))
    assert len(writes.prompts) == 1 and done.answer.second_look is None and not done.answer.refused
    assert not any(isinstance(e, Held) for e in events)
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens[0] == ANSWER and streamed == done.answer.text, "the first sentence left before the second"


def test_no_second_look_when_turned_off_for_a_question_naming_an_absent_word_or_a_custom_system_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECOND_LOOK_ENV, "0")
    assert not second_look_enabled()
    writes = _Writes(REFUSAL_TEXT, GOES_ON)
    _, streamed, done = _events(_rag(writes))
    assert len(writes.prompts) == 1 and streamed == REFUSAL_TEXT and done.answer.second_look is None
    writes = _Writes(REFUSAL_TEXT, GOES_ON)
    rag = _rag(writes, second_look=True)  # the argument wins over the variable
    assert _events(rag)[2].answer.second_look == "kept"
    monkeypatch.delenv(SECOND_LOOK_ENV)

    writes = _Writes(REFUSAL_TEXT, GOES_ON)
    rag = _rag(writes)
    rag.retriever.unknown = {"zorblax"}  # type: ignore[attr-defined]
    _, streamed, done = _events(rag, "Who built the Eiffel Tower for zorblax?")
    assert len(writes.prompts) == 1 and streamed == REFUSAL_TEXT and done.answer.absent == ("zorblax",)

    writes = _Writes(REFUSAL_TEXT, GOES_ON)
    _, streamed, done = _events(_rag(writes, system_prompt="Answer from the passages. Say so if you cannot."))
    assert len(writes.prompts) == 1 and streamed == REFUSAL_TEXT and done.answer.second_look is None
    assert without_refusal_rule("Answer from the passages.") is None

    writes = _Writes(REFUSAL_TEXT, GOES_ON)
    _, streamed, done = _events(_rag(writes, check_support=False))
    assert len(writes.prompts) == 1, "without the support check nothing could vouch for a second answer"


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECOND_LOOK_ENV, "sometimes")
    with pytest.raises(ConfigError, match=SECOND_LOOK_ENV):
        _rag(_Writes(ANSWER))


def test_a_client_that_leaves_during_the_second_look_stops_it() -> None:
    writes = _Writes(REFUSAL_TEXT, GOES_ON + " " + " ".join(["It is tall [1]."] * 50))
    rag = _rag(writes)
    events = rag.events(QUESTION, rag.retrieve(QUESTION))
    seen = []
    for event in events:
        seen.append(event)
        if len(writes.prompts) == 2:  # the second look has begun: the client leaves
            break
    events.close()
    assert writes.closed_early == [1], "the second generation was stopped before its end"
    assert not any(isinstance(e, (Token, Done)) for e in seen), "nothing was shown: the refusal was held"
