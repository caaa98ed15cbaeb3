"""A refusal replaced by a second look (``pipelines/rag/second_look.py``) reaches every front end the same way: the
Python API, `sift ask`, `POST /v1/ask` whole and streamed, the `openai` client whole and streamed, and the MCP
`ask` tool all give the second answer, and no client sees the refusal it replaced or an empty piece.

The generator follows its rules as a model is told to: it refuses while its system message holds the refusal rule
and answers from the passage without it (the real index, embeddings, gate and checks do the rest).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import CORPUS
from mcp import Client
from server_testkit import LiveServer, built_workspace, live_server

import app.analysis
from app.cli.main import main
from app.mcp import SiftTools, build_server
from app.roots import Roots
from app.server import ServerState
from app.workspace import Workspace
from pipelines.generation.base import GenerationConfig, GenerationMetrics, GenerationResult, GenerationStream
from pipelines.rag.events import Done, Held, Token
from pipelines.rag.prompt import REFUSAL_RULE
from pipelines.rag.refusal import REFUSAL_TEXT
from pipelines.rag.second_look import OPENING

QUESTION = "when was the eiffel tower finished"
GOES_ON = " the Eiffel Tower was finished in 1889 [1]."  # what the model writes after the answer's opening
ANSWER = OPENING + GOES_ON


class RuleFollower:
    """Refuses under a system message with the refusal rule, goes on from the opening without it; counts its
    prompts."""

    context_length = 4096

    def __init__(self) -> None:
        self.prompts: list[str] = []

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
        text = REFUSAL_TEXT if REFUSAL_RULE in prompt else GOES_ON

        def pieces() -> Iterator[str | GenerationResult]:
            words = text.split(" ")
            yield from (w if i == 0 else " " + w for i, w in enumerate(words))
            yield GenerationResult(text, "stop", GenerationMetrics(len(prompt.split()), len(words), 0.1, 0.01, 100.0,
                                                                   0.2))

        return GenerationStream(pieces())


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("second-look").resolve() / "docs"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def ws(docs: Path) -> Workspace:
    return built_workspace(docs.parent / "idx", docs)


@pytest.fixture()
def writer(monkeypatch: pytest.MonkeyPatch) -> RuleFollower:
    follower = RuleFollower()
    monkeypatch.setattr(app.analysis, "shared_generator", lambda preset=None, model_path=None: follower)
    return follower


@pytest.fixture()
def server(ws: Workspace, writer: RuleFollower) -> Iterator[LiveServer]:
    with live_server(ServerState(ws)) as live:
        yield live


def test_the_python_api_streams_the_second_answer_only(ws: Workspace, writer: RuleFollower) -> None:
    events = list(ws.converse([], QUESTION))
    (done,) = [e for e in events if isinstance(e, Done)]
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens == [ANSWER] and done.answer.text == ANSWER and done.answer.second_look == "kept"
    assert any(isinstance(e, Held) for e in events) and len(writer.prompts) == 2
    assert done.answer.citations[0].source.endswith("paris.txt")


def test_sift_ask_prints_the_second_answer_once(ws: Workspace, writer: RuleFollower,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, "--index", str(ws.index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count(ANSWER) == 1 and REFUSAL_TEXT not in out, out
    assert main(["ask", QUESTION, "--index", str(ws.index_dir), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["answer"], got["refused"], got["second_look"]) == (ANSWER, False, "kept")
    assert main(["ask", QUESTION, "--index", str(ws.index_dir), "--verbose"]) == 0
    printed = capsys.readouterr()
    assert printed.out.count(ANSWER) == 1 and "(The model first refused; asked again" in printed.err


def test_the_ask_page_writes_the_second_answer_and_says_so_under_details(
    ws: Workspace, writer: RuleFollower, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ui_testkit import page_app

    from app.ui.ask_page import HISTORY
    from pipelines.rag.second_look import NOTES

    monkeypatch.setenv("SIFT_INDEX", str(ws.index_dir))
    page = page_app("app.ui.ask_page").run()
    page.chat_input[0].set_value(QUESTION).run(timeout=120)
    assert not page.exception and not page.error
    ((_, answer),) = page.session_state[HISTORY]
    assert answer.text == ANSWER and not answer.refused and not page.warning
    shown = [t.value for t in page.text]
    assert ANSWER in shown and not any(REFUSAL_TEXT in t for t in shown), shown
    details = [e for e in page.expander if e.label == "Details"]
    assert details and NOTES["kept"] in [t.value for t in details[0].text]


def test_rest_whole_and_streamed_give_the_second_answer(server: LiveServer) -> None:
    plain = server.client().post("/v1/ask", json={"question": QUESTION}).json()
    assert (plain["answer"], plain["refused"], plain["second_look"]) == (ANSWER, False, "kept")
    with server.client().stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        blocks = [block for block in response.read().decode().split("\n\n") if block]
    parsed = [(b.split("\n")[0].removeprefix("event: "), json.loads(b.split("\n")[1].removeprefix("data: ")))
              for b in blocks]
    names = [name for name, _ in parsed]
    assert names[0] == "passages" and names[-1] == "answer" and set(names[1:-1]) == {"token"}, names
    assert [d["text"] for _, d in parsed[1:-1]] == [ANSWER], "one piece: the answer, no refusal, nothing empty"
    assert parsed[-1][1]["answer"] == ANSWER


def test_the_openai_client_whole_and_streamed_gets_the_second_answer(server: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    reply = client.chat.completions.create(model="sift", messages=messages)
    assert reply.choices[0].message.content == ANSWER and not (reply.model_extra or {})["refused"]
    deltas = [chunk.choices[0].delta.content for chunk in client.chat.completions.create(
        model="sift", messages=messages, stream=True) if chunk.choices and chunk.choices[0].delta.content]
    assert deltas == [ANSWER]


def test_the_mcp_ask_tool_gives_the_second_answer(ws: Workspace, docs: Path, writer: RuleFollower) -> None:
    server = build_server(SiftTools(ws, Roots.of([docs])))

    async def run() -> dict[str, Any]:
        async with Client(server) as client:
            result = await client.call_tool("ask", {"question": QUESTION})
            assert not result.is_error and result.structured_content is not None
            return result.structured_content

    got = asyncio.run(run())
    assert (got["answer"], got["refused"], got["refusal_reason"]) == (ANSWER, False, None)
