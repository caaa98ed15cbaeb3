"""One Ask contract under every front end: the same three-turn conversation through the Python API, `sift chat`,
`POST /v1/ask` and the `openai` client retrieves with the same queries and passages and gives the same answers;
and every option of :class:`AskOptions` can be set from each front end."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conversation_testkit import FOLLOWUP_DOCS
from server_testkit import LiveServer, built_workspace, live_server

from app.cli.main import build_parser
from app.server import ServerState
from app.server.schemas import ASK_FIELDS
from app.workspace import Workspace
from pipelines.options import AskOptions
from pipelines.rag.events import Done, Retrieved, Token

ROOT = Path(__file__).resolve().parents[2]
# A question naming its subject; a lower-case follow-up without a question mark that needs it; another subject.
# SmolLM2 decodes greedily, so equal prompts give equal answers.
TURNS = ["Where did Claude Monet paint the water lilies?", "when did he die", "Where did the dodo live?"]
OPTIONS = AskOptions(k=2, max_tokens=40, preset="smollm2-135m")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("contract")
    docs = root / "docs"
    docs.mkdir()
    for name, text in FOLLOWUP_DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    return built_workspace(root / "index", docs)


@pytest.fixture(scope="module")
def server(ws: Workspace) -> Iterator[LiveServer]:
    with live_server(ServerState(ws, preset="smollm2-135m")) as live:
        yield live


@pytest.fixture(scope="module")
def python_api(ws: Workspace) -> list[dict]:
    """The conversation through `Workspace.converse`, event by event."""
    thread: list = []
    turns = []
    for question in TURNS:
        events = list(ws.converse(thread, question, OPTIONS))
        (retrieved,) = [e for e in events if isinstance(e, Retrieved)]
        (done,) = [e for e in events if isinstance(e, Done)]
        streamed = "".join(e.text for e in events if isinstance(e, Token))
        assert streamed == done.answer.text, "the tokens add up to the answer"
        turns.append({"query": retrieved.query, "passages": [p.title for p in done.answer.passages],
                      "answer": done.answer.text})
    return turns


def test_the_conversation_needs_its_history(python_api: list[dict]) -> None:
    assert python_api[1]["query"] == "when did Claude Monet die", "the follow-up was made to stand alone"
    assert python_api[1]["passages"][0] == "Claude Monet" and python_api[2]["passages"][0] == "Dodo"
    assert all(turn["answer"] for turn in python_api)


def test_rest_ask_with_the_history_gives_the_same_turns(server: LiveServer, python_api: list[dict]) -> None:
    history: list[dict] = []
    body = {k: v for k, v in OPTIONS.to_dict().items() if k in ASK_FIELDS and k != "stop"}
    for question, expected in zip(TURNS, python_api, strict=True):
        got = server.client().post("/v1/ask", json={"question": question, "history": history, **body})
        assert got.status_code == 200, got.text
        data = got.json()
        assert {"query": data["query"], "passages": [p["title"] for p in data["passages"]],
                "answer": data["answer"]} == expected
        history.append({"question": question, "answer": data["answer"]})


def test_the_words_no_document_holds_are_the_same_through_rest(server: LiveServer, ws: Workspace) -> None:
    question = "Where did Claude Monet paint the zorblax lilies?"
    direct = ws.ask(question, OPTIONS)
    body = {k: v for k, v in OPTIONS.to_dict().items() if k in ASK_FIELDS and k != "stop"}
    got = server.client().post("/v1/ask", json={"question": question, **body})
    assert got.status_code == 200, got.text
    assert direct.absent == ("zorblax",) and got.json()["absent_words"] == ["zorblax"]
    assert (got.json()["answer"], got.json()["refusal_reason"]) == (direct.text, direct.refusal_reason)


def test_openai_client_multi_turn_gives_the_same_answers(server: LiveServer, python_api: list[dict]) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    messages: list[dict] = []
    for question, expected in zip(TURNS, python_api, strict=True):
        messages.append({"role": "user", "content": question})
        reply = client.chat.completions.create(model="sift", messages=messages, max_tokens=40,
                                               extra_body={"k": 2})
        content = reply.choices[0].message.content
        assert content == expected["answer"]
        cited = [c["title"] for c in (reply.model_extra or {})["citations"]]
        assert set(cited) <= set(expected["passages"])
        messages.append({"role": "assistant", "content": content})


def test_sift_chat_gives_the_same_answers(ws: Workspace, python_api: list[dict]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "app", "chat", "--index", str(ws.index_dir), "--preset", "smollm2-135m", "-k", "2",
         "--max-tokens", "40"], input="\n".join(TURNS) + "\n", capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    position = 0
    for turn in python_api:  # each turn's answer, in order
        position = out.index(turn["answer"], position) + len(turn["answer"])
    for answer in {turn["answer"] for turn in python_api}:
        times = sum(answer in turn["answer"] for turn in python_api)  # one answer may begin another
        assert out.count(answer) == times, f"each answer printed once per turn: {answer!r} in {out!r}"
    assert f"(searched for: {python_api[1]['query']})" in out and out.count("(searched for: ") == 1


def test_every_ask_option_reaches_every_front_end() -> None:
    """A new option appears everywhere at once: `sift chat`'s flags and the REST request fields cover AskOptions
    (`sift ask` is one turn, so it has no follow-up rewriting; the generator is the server's choice, so REST
    leaves preset and model_path out)."""
    names = {f.name for f in dataclasses.fields(AskOptions)}
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    flags = {name: {a.dest for a in commands[name]._actions} for name in ("ask", "chat")}
    assert names - flags["chat"] == set(), "every option is a `sift chat` flag"
    assert names - flags["ask"] == {"rewrite"}, "and a `sift ask` flag, but for follow-up rewriting"
    assert names - set(ASK_FIELDS) == {"preset", "model_path"}, "every option but the generator is a REST field"


def test_options_round_trip_and_refuse_unknown_names() -> None:
    opts = AskOptions(k=3, where={"lang": "en"}, stop=("\n\n",), floor=None)
    assert AskOptions.from_dict(json.loads(json.dumps(opts.to_dict()))) == opts
    with pytest.raises(Exception, match="unknown ask option 'colour'"):
        AskOptions.from_dict({"colour": "red"})
    with pytest.raises(Exception, match="answer_length 'long' is unknown"):
        AskOptions(answer_length="long")
