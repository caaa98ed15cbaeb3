"""Conversation turns and the passage budget in the RAG prompt."""

from __future__ import annotations

import pytest
from rag_testkit import BagOfWordsRetriever, build_tiny_phi3

from pipelines.generation.transformers_backend import TransformersGenerator
from pipelines.rag.answer import final_answer
from pipelines.rag.prompt import SYSTEM_PROMPT, Turn, build_messages, build_prompt, fit_history


@pytest.fixture(scope="module")
def phi3(tmp_path_factory: pytest.TempPathFactory) -> TransformersGenerator:
    return TransformersGenerator(build_tiny_phi3(tmp_path_factory.mktemp("tiny-phi3")))


def test_messages_carry_earlier_turns_between_the_rules_and_the_question() -> None:
    turns = [Turn("Who built the Eiffel Tower?", "Gustave Eiffel [1]."), Turn("Where is it?", "In Paris [2].")]
    messages = build_messages("When was it finished?", [], history=turns)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert messages[1]["content"] == "Who built the Eiffel Tower?" and messages[4]["content"] == "In Paris [2]."
    assert messages[-1]["content"].endswith("Question: When was it finished?")


def test_fit_history_keeps_the_most_recent_whole_turns() -> None:
    turns = [Turn(f"question {i}", f"answer {i} " * i) for i in range(1, 6)]
    words = lambda text: len(text.split())  # noqa: E731
    assert fit_history(turns, 10**6, words) == turns
    # turn i costs 2 + 2i words: turns 5 and 4 take 12 + 10
    assert fit_history(turns, 22, words) == turns[3:]
    assert fit_history(turns, 21, words) == turns[4:]  # whole turns only
    assert fit_history(turns, 11, words) == []


def test_history_takes_its_budget_from_the_window_and_starts_after_the_system_prompt(phi3) -> None:
    hits = BagOfWordsRetriever().search("Eiffel Tower Paris", k=3)
    history = [Turn("Who built the Eiffel Tower?", "Gustave Eiffel built it [1].")]
    plain = build_prompt("When was it built?", hits, phi3, answer_tokens=64)
    with_history = build_prompt("When was it built?", hits, phi3, answer_tokens=64, history=history)
    assert with_history.prompt.startswith(f"<|system|>\n{SYSTEM_PROMPT}<|end|>\n<|user|>\nWho built the Eiffel Tower?")
    assert "<|assistant|>\nGustave Eiffel built it [1].<|end|>" in with_history.prompt
    assert with_history.report.overhead > plain.report.overhead
    assert with_history.report.prompt_tokens == phi3.count_tokens(with_history.prompt)
    dropped = build_prompt("When was it built?", hits, phi3, answer_tokens=64, history=history, history_tokens=3)
    assert "Who built the Eiffel Tower?" not in dropped.prompt


def test_passage_tokens_caps_the_passages(phi3) -> None:
    hits = BagOfWordsRetriever(chunk_chars=40).search("Paris Python whale Eiffel capital language animal", k=20)
    free = build_prompt("Which facts are there?", hits, phi3, answer_tokens=48)
    capped = build_prompt("Which facts are there?", hits, phi3, answer_tokens=48, passage_tokens=40)
    assert capped.report.budget == 40 and capped.report.used <= 40 + 2  # block joins may shift a token or two
    assert capped.report.included < free.report.included
    order = [(p.doc_id, p.start) for p in free.passages]
    kept = [order.index((p.doc_id, p.start)) for p in capped.passages]
    assert kept == sorted(kept) and kept[0] == 0  # retrieval order, best first; a later, smaller one may fill the gap


@pytest.mark.slow
def test_workspace_converses_over_a_restored_thread(tmp_path, corpus_dir, monkeypatch) -> None:
    from app.workspace import Workspace

    ws = Workspace(tmp_path / "idx")
    ws.index([corpus_dir])
    thread = ws.thread([("What is the Eiffel Tower?", "A wrought-iron lattice tower in Paris [1].")], k=2)
    assert thread[0].titles == ("paris",), "the restored turn knows what its answer cited"
    answer = final_answer(ws.converse(thread, "When was it finished?", k=2))
    assert answer.query == "When was Eiffel Tower finished?" and answer.passages[0].title == "paris"
    assert answer.prompt is not None and answer.question == "When was it finished?"
    plain = ws.ask("When was it finished?", k=2, min_score=0.0, floor=None)
    assert plain.prompt is not None and answer.prompt.overhead > plain.prompt.overhead  # the turn is in the prompt
