"""The RAG pipeline end to end: evidence gate, streaming vs one-shot answers, real SmolLM2 answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag_testkit import BagOfWordsRetriever, build_tiny_phi3, llama_cpp_missing

from indexing.errors import ConfigError
from pipelines.generation import GenerationConfig, load_generator
from pipelines.generation.base import GenerationMetrics, GenerationResult, GenerationStream
from pipelines.generation.transformers_backend import TransformersGenerator
from pipelines.rag import Answer, RAGPipeline, RefusalPolicy
from pipelines.rag.refusal import REFUSAL_TEXT


@pytest.fixture(scope="module")
def phi3_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_phi3(tmp_path_factory.mktemp("tiny-phi3"))


def pipeline(folder: Path, **kwargs: object) -> RAGPipeline:
    config = GenerationConfig(max_new_tokens=16)
    return RAGPipeline(BagOfWordsRetriever(), TransformersGenerator(folder), config=config, **kwargs)  # type: ignore[arg-type]


def drain(items: list[str | Answer]) -> tuple[str, Answer]:
    *pieces, final = items
    assert isinstance(final, Answer) and all(isinstance(p, str) for p in pieces)
    return "".join(pieces), final  # type: ignore[arg-type]


def test_low_evidence_is_refused_without_loading_the_model(phi3_folder: Path) -> None:
    rag = pipeline(phi3_folder, refusal=RefusalPolicy(min_dense_score=0.3))
    answer = rag.ask("knitting championship Paris 1997")  # shares only "paris" with the corpus
    assert answer.refused and answer.refusal_reason == "low_evidence" and answer.text == REFUSAL_TEXT
    assert answer.best_dense is not None and 0 < answer.best_dense < 0.3
    assert answer.metrics is None and answer.prompt is None
    streamed, final = drain(list(rag.stream("zebra quantum toaster")))
    assert streamed == REFUSAL_TEXT and final.refusal_reason == "no_hits"
    assert rag.generator._model is None  # type: ignore[attr-defined]


def test_one_search_gives_the_passages_and_the_gate_its_dense_score(phi3_folder: Path) -> None:
    rag = pipeline(phi3_folder, refusal=RefusalPolicy(min_dense_score=0.99), k=3)
    answer = rag.ask("What does the blue whale eat?", where={"kind": "whales"})
    modes = [(mode, k, where) for _, k, mode, where in rag.retriever.calls]  # type: ignore[attr-defined]
    assert modes == [("hybrid", 3, {"kind": "whales"})]
    assert answer.best_dense == answer.hits[0].score


def test_stream_and_ask_give_the_same_answer_when_greedy(phi3_folder: Path) -> None:
    rag = pipeline(phi3_folder, refusal=RefusalPolicy(min_dense_score=0.1))
    question = "Who built the Eiffel Tower in Paris?"
    whole = rag.ask(question)
    streamed, final = drain(list(rag.stream(question)))
    assert whole.metrics is not None, "the gate let it through: the model was asked"
    assert streamed == final.text == whole.text and final.raw_text == whole.raw_text
    assert [p.to_dict() for p in final.passages] == [p.to_dict() for p in whole.passages]
    assert whole.passages[0].doc_id == "paris.txt" and [p.number for p in whole.passages] == [1, 2, 3]
    assert whole.prompt is not None and whole.prompt.included == 3 and whole.prompt.dropped == 0
    assert whole.metrics is not None and whole.metrics.completion_tokens == 16
    assert set(whole.to_dict()) >= {"answer", "citations", "passages", "refused", "metrics", "prompt"}


def test_empty_question_is_a_config_error(phi3_folder: Path) -> None:
    with pytest.raises(ConfigError):
        pipeline(phi3_folder).ask("   ")
    with pytest.raises(ConfigError):
        pipeline(phi3_folder, k=0)


@pytest.mark.skipif(llama_cpp_missing() is not None, reason=str(llama_cpp_missing()))
def test_smollm2_answers_from_the_passages() -> None:
    # The round-1 rules: SmolLM2-135M reads the facts better from them than from the default prompt,
    # which was chosen for Qwen2.5-1.5B; this test is about the pipeline carrying passages to the model.
    rules = ("You answer questions using only the numbered passages the user gives you. Cite the passages that "
             "support each statement with their numbers in square brackets, like [1] or [2, 3]. If the passages "
             "do not contain the answer, reply exactly: I cannot find the answer in the provided documents.")
    rag = RAGPipeline(BagOfWordsRetriever(), load_generator("smollm2-135m"), k=2, system_prompt=rules,
                      config=GenerationConfig(max_new_tokens=32), refusal=RefusalPolicy(min_dense_score=0.1))
    streamed, answer = drain(list(rag.stream("What do blue whales eat?")))
    assert answer.prompt is not None and answer.prompt.prompt_tokens + 32 <= 2048
    assert streamed == answer.text and answer.raw_text.strip()
    assert answer.passages[0].doc_id == "whales.txt"
    assert "krill" in answer.text  # only the second whale chunk says so
    assert answer.metrics is not None and answer.metrics.ttft_s > 0


class _Says:
    """A generator that writes one fixed answer (the wiring under test is the pipeline's, not a model's)."""

    def __init__(self, text: str) -> None:
        self.text = text

    @property
    def context_length(self) -> int:
        return 4096

    def warm_up(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return "\n".join(m["content"] for m in messages)

    def generate(self, prompt: str, config: GenerationConfig) -> GenerationResult:
        return GenerationResult(self.text, "stop", GenerationMetrics(len(prompt.split()), 1, 0.0, 0.0, 0.0, 0.0))

    def stream(self, prompt: str, config: GenerationConfig) -> GenerationStream:
        return GenerationStream([self.text, self.generate(prompt, config)])


def test_an_answer_about_a_word_no_document_holds_does_not_stand_on_borrowed_words() -> None:
    question = "Who designed the Eiffel Tower in Paris for the lz4 exhibition?"
    answer = "Gustave Eiffel designed it for the lz4 exhibition."  # 'gustave' is the passage's word
    retriever = BagOfWordsRetriever()
    rag = RAGPipeline(retriever, _Says(answer), refusal=RefusalPolicy(min_dense_score=0.1))  # type: ignore[arg-type]
    assert rag.retrieve(question).absent == ()
    lent = rag.ask(question)
    assert not lent.refused and lent.text == answer and lent.absent == ()
    retriever.unknown = {"lz4"}
    assert rag.retrieve(question).absent == ("lz4",)
    streamed, final = drain(list(rag.stream(question)))
    assert final.refused and final.refusal_reason == "ungrounded" and streamed == final.text == REFUSAL_TEXT
    assert final.raw_text == answer and final.to_dict()["absent_words"] == ["lz4"]
