"""Answer length: how/why questions get the explaining rules, facts the brief ones; the choice reaches the prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag_testkit import BagOfWordsRetriever, build_tiny_phi3

from indexing.errors import ConfigError
from pipelines.generation import GenerationConfig
from pipelines.generation.transformers_backend import TransformersGenerator
from pipelines.rag import RAGPipeline, RefusalPolicy
from pipelines.rag.answer_length import choose_length
from pipelines.rag.prompt import EXPLAIN_SYSTEM_PROMPT, SYSTEM_PROMPT


@pytest.mark.parametrize(
    "question",
    [
        "Why are Python strings immutable?",
        "why is the sky blue",
        "How do I make a Python script executable on Unix?",
        "How does Python manage memory?",
        "How can I evaluate an arbitrary Python expression from C?",
        "How to read a file line by line?",
        "What is the difference between a list and a tuple?",
        "What's the best way to freeze a script?",
        "Is there a tool to help find bugs?",
        "Can I create my own functions in C?",
        "  Explain the global interpreter lock.",
        "🙂 why is my build slow?",
        "Describe how the garbage collector works.",
    ],
)
def test_how_and_why_questions_are_explained(question: str) -> None:
    assert choose_length(question) == "explain"


@pytest.mark.parametrize(
    "question",
    [
        "When did Claude Monet die?",
        "How many moons does Mars have?",
        "How long is the Seine?",
        "How tall is the Eiffel Tower?",
        "How old was Mozart when he died?",
        "What is the capital of Japan?",
        "Who painted the Water Lilies?",
        "Which river flows through Paris?",
        "Is Pluto a planet?",
        "Whyte's ring road: where is it?",
        "Howard Carter found which tomb?",
        "",
        "Whyalla lies in which Australian state?",
    ],
)
def test_questions_for_a_fact_stay_brief(question: str) -> None:
    assert choose_length(question) == "brief"


def test_a_forced_length_wins_and_an_unknown_one_is_named() -> None:
    assert choose_length("Why is the sky blue?", "brief") == "brief"
    assert choose_length("When did Monet die?", "explain") == "explain"
    with pytest.raises(ConfigError, match="'long'"):
        choose_length("Why?", "long")


def test_the_explaining_rules_differ_from_the_brief_ones_only_in_the_length_asked() -> None:
    assert SYSTEM_PROMPT.startswith("Answer the question in one or two complete sentences, using only facts")
    assert EXPLAIN_SYSTEM_PROMPT.startswith("Answer the question in a short paragraph of two to five complete")
    assert SYSTEM_PROMPT.split(", using only", 1)[1] == EXPLAIN_SYSTEM_PROMPT.split(", using only", 1)[1]


@pytest.fixture(scope="module")
def phi3_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_phi3(tmp_path_factory.mktemp("tiny-phi3"))


@pytest.mark.parametrize(
    "length,question,rules",
    [
        ("auto", "Why did they build the Eiffel Tower in Paris?", EXPLAIN_SYSTEM_PROMPT),
        ("auto", "Who built the Eiffel Tower in Paris?", SYSTEM_PROMPT),
        ("brief", "Why did they build the Eiffel Tower in Paris?", SYSTEM_PROMPT),
        ("explain", "Who built the Eiffel Tower in Paris?", EXPLAIN_SYSTEM_PROMPT),
    ],
)
def test_the_pipeline_prompts_with_the_rules_for_the_question(
    phi3_folder: Path, length: str, question: str, rules: str
) -> None:
    rag = RAGPipeline(BagOfWordsRetriever(), TransformersGenerator(phi3_folder), answer_length=length,
                      config=GenerationConfig(max_new_tokens=4), refusal=RefusalPolicy(min_dense_score=0.1))
    built = rag.build_prompt(question, rag.retrieve(question))
    assert built.prompt.startswith(f"<|system|>\n{rules}<|end|>\n")
    answer = rag.ask(question)
    assert answer.answer_length == ("explain" if rules == EXPLAIN_SYSTEM_PROMPT else "brief")
    assert answer.to_dict()["answer_length"] == answer.answer_length


def test_brief_is_the_default_a_given_system_prompt_wins_and_a_bad_length_is_refused(phi3_folder: Path) -> None:
    rag = RAGPipeline(BagOfWordsRetriever(), TransformersGenerator(phi3_folder), system_prompt="Be terse.")
    assert rag.system_for("Why is the sky blue?") == "Be terse."
    default = RAGPipeline(BagOfWordsRetriever(), TransformersGenerator(phi3_folder))
    assert default.system_for("Why is the sky blue?") == SYSTEM_PROMPT, "brief unless asked otherwise"
    with pytest.raises(ConfigError, match="'medium'"):
        RAGPipeline(BagOfWordsRetriever(), TransformersGenerator(phi3_folder), answer_length="medium")
