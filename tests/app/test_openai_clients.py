"""The OpenAI-compatible routes driven by real clients: the `openai` package, LangChain's `ChatOpenAI` and
LlamaIndex's `OpenAILike`; finish reasons, usage, stop sequences, `/v1/completions`, and parameters sift
cannot honour refused by name."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from conftest import CORPUS
from server_testkit import LiveServer, built_workspace, live_server

from app.server import ServerState
from app.workspace import Workspace

QUESTION = "When was the Eiffel Tower finished?"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("clients") / "docs"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return built_workspace(folder.parent / "idx", folder)


@pytest.fixture(scope="module")
def server(ws: Workspace) -> Iterator[LiveServer]:
    with live_server(ServerState(ws)) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def chat(client: openai.OpenAI, **kwargs: object) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model="sift", messages=[{"role": "user", "content": QUESTION}],
                                          **kwargs)  # type: ignore[call-overload, no-any-return]


def test_a_cut_answer_says_length_and_counts_real_tokens(client: openai.OpenAI, ws: Workspace) -> None:
    whole = chat(client, max_tokens=5)
    assert whole.choices[0].finish_reason == "length" and (whole.model_extra or {})["sift_finish_reason"] == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == 5
    assert whole.usage.prompt_tokens == ws.ask(QUESTION, max_tokens=5).usage["prompt_tokens"] > 50
    pieces, finish, usage = [], None, None
    for chunk in chat(client, max_tokens=5, stream=True, stream_options={"include_usage": True}):
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    assert "".join(pieces) == whole.choices[0].message.content and finish == "length"
    assert usage is not None and usage.completion_tokens == 5


def test_a_finished_answer_says_stop(client: openai.OpenAI) -> None:
    reply = chat(client)
    assert reply.choices[0].finish_reason == "stop" and reply.usage.completion_tokens < 256  # type: ignore[union-attr]


def test_stop_sequences_end_the_answer(client: openai.OpenAI, ws: Workspace) -> None:
    free = ws.ask(QUESTION).text
    assert " " in free
    reply = chat(client, stop=[" "])
    content = reply.choices[0].message.content or ""
    assert content and " " not in content and free.startswith(content)
    assert reply.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("params,name", [
    ({"n": 2}, "n"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}, "tools"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"logprobs": True}, "logprobs"),
    ({"frequency_penalty": 0.5}, "frequency_penalty"),
    ({"extra_body": {"colour": "red"}}, "colour"),
])
def test_parameters_sift_cannot_honour_are_400_by_name(client: openai.OpenAI, params: dict, name: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        chat(client, **params)
    assert caught.value.status_code == 400 and f"{name}:" in str(caught.value)


def test_harmless_defaults_and_sift_options_are_accepted(client: openai.OpenAI, ws: Workspace) -> None:
    reply = chat(client, n=1, logprobs=False, user="me", extra_body={"k": 2, "answer_length": "brief"})
    assert reply.choices[0].message.content == ws.ask(QUESTION, k=2).text


def test_completions_answer_a_plain_prompt_through_the_same_path(client: openai.OpenAI, ws: Workspace) -> None:
    direct = ws.ask(QUESTION)
    reply = client.completions.create(model="sift", prompt=QUESTION)
    assert reply.choices[0].text == direct.text and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens == direct.usage["completion_tokens"]
    streamed = "".join(c.choices[0].text for c in client.completions.create(model="sift", prompt=QUESTION,
                                                                             stream=True) if c.choices)
    assert streamed == direct.text
    with pytest.raises(openai.BadRequestError, match="echo"):
        client.completions.create(model="sift", prompt=QUESTION, echo=True)


def test_langchain_chat_openai_invoke_stream_and_multi_turn(server: LiveServer, ws: Workspace) -> None:
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{server.url}/v1", api_key="unused", model="sift", max_retries=0)
    direct = ws.ask(QUESTION)
    assert llm.invoke(QUESTION).content == direct.text
    assert "".join(str(chunk.content) for chunk in llm.stream(QUESTION)) == direct.text
    follow = "When was it finished?"
    expected = ws.converse(ws.thread([("Where is the Eiffel Tower?", "In Paris [1].")]), follow)
    text = next(e.answer.text for e in expected if hasattr(e, "answer"))
    got = llm.invoke([HumanMessage("Where is the Eiffel Tower?"), AIMessage("In Paris [1]."), HumanMessage(follow)])
    assert got.content == text


def test_llamaindex_openai_like_chat_stream_and_complete(server: LiveServer, ws: Workspace) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    direct = ws.ask(QUESTION).text
    chat_llm = OpenAILike(api_base=f"{server.url}/v1", api_key="unused", model="sift", is_chat_model=True,
                          max_retries=0)
    assert chat_llm.chat([ChatMessage(role="user", content=QUESTION)]).message.content == direct
    *_, last = chat_llm.stream_chat([ChatMessage(role="user", content=QUESTION)])
    assert last.message.content == direct
    plain = OpenAILike(api_base=f"{server.url}/v1", api_key="unused", model="sift", is_chat_model=False,
                       max_retries=0)
    assert plain.complete(QUESTION).text == direct
    *_, last_piece = plain.stream_complete(QUESTION)
    assert last_piece.text == direct


def test_openai_routes_are_listed_in_the_schema(server: LiveServer) -> None:
    paths = server.client().get("/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"} <= set(paths)
