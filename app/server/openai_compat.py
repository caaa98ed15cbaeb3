"""The OpenAI-compatible routes, so that existing clients (the ``openai`` package, LangChain, editors) work unchanged.

    POST /v1/chat/completions   answers from the index: the last user message is the question, earlier user and
                                assistant messages are the conversation; citations are ``[n]`` in the text and the
                                extra ``citations`` field (on the last chunk when streaming)
    POST /v1/embeddings         vectors from the index's embedding model (float or base64)
    GET  /v1/models             the generator and the embedding model

The ``model`` a client sends is accepted whatever it names and reported back as the model that really ran:
a client written for another service needs no change, and the response says what answered. System messages
are not passed on: sift's own system prompt is what keeps answers to the sources.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from app.server.routes import answer_items, state_of
from app.server.schemas import AskRequest, TurnIn
from app.server.state import ServerState
from indexing.errors import ConfigError, SiftError
from pipelines.generation.presets import default_preset
from pipelines.rag import Answer

router = APIRouter(tags=["openai"])


class Message(BaseModel):
    """One chat message; ``content`` is a string or a list of ``{"type": "text", "text": …}`` parts."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat request that sift uses (others are accepted and ignored), plus ``where`` / ``k``."""

    model_config = ConfigDict(extra="allow")
    model: str = "sift"
    messages: list[Message] = Field(min_length=1, max_length=200)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    where: dict[str, str] | None = None
    k: int = Field(5, ge=1, le=50)


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request: ``input`` is a string or a list of strings (token arrays are refused)."""

    model_config = ConfigDict(extra="allow")
    model: str = "sift"
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


def ask_request(body: ChatRequest) -> AskRequest:
    """The question and history a chat request carries.

    Raises:
        ConfigError: the last message is not the user's, or has no text.
    """
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ConfigError("messages: the last message must be the user's question, with text")
    history, question = [], None
    for m in turns[:-1]:
        if m.role == "user":
            question = m.text()
        elif question is not None:
            history.append(TurnIn(question=question, answer=m.text()))
            question = None
    return AskRequest(question=turns[-1].text(), where=body.where, k=body.k, history=history,
                      max_tokens=body.max_completion_tokens or body.max_tokens, temperature=body.temperature)


def _model(state: ServerState) -> str:
    return state.preset or default_preset()


def _extra(answer: Answer) -> dict[str, Any]:
    """What sift adds to an OpenAI response: the checked answer's citations, refusal and support."""
    data = answer.to_dict()
    return {key: data[key] for key in ("citations", "refused", "refusal_reason", "support", "invalid_citations")}


def _usage(answer: Answer) -> dict[str, int]:
    m = answer.metrics
    prompt, completion = (m.prompt_tokens, m.completion_tokens) if m else (0, 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.post("/v1/chat/completions")
def chat_completions(body: ChatRequest, request: Request) -> Any:
    """An answer from the index in OpenAI's chat-completion shape (``stream`` for server-sent chunks)."""
    state = state_of(request)
    items = answer_items(state, ask_request(body))
    ident, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), _model(state)
    if body.stream:
        return StreamingResponse(_chunks(items, ident, created, model), media_type="text/event-stream")
    answer = [item for item in items if isinstance(item, Answer)][-1]
    return {
        "id": ident, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(answer), **_extra(answer),
    }


def _chunks(items: Iterator[str | Answer], ident: str, created: int, model: str) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for item in items:
            if isinstance(item, Answer):
                yield chunk({}, "stop", usage=_usage(item), answer=item.text, **_extra(item))
            elif item:
                yield chunk({"content": item})
    except SiftError as exc:
        error = {"error": {"message": str(exc), "type": type(exc).__name__, "code": "sift_error"}}
        yield f"data: {json.dumps(error, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


@router.post("/v1/embeddings")
def embeddings(body: EmbeddingsRequest, request: Request) -> dict[str, Any]:
    """Vectors of the inputs from the index's embedding model (unit length, the index's dimension)."""
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ConfigError("input: give a string or a list of strings (token arrays are not supported)")
    if len(texts) > 2048:
        raise ConfigError(f"input: {len(texts)} texts is over the 2,048 per request limit")
    state = state_of(request)
    ws = state.workspace
    vectors = ws.embed(texts)
    name, counts = ws.model_name, ws.embedder.count_tokens_many(texts)
    if body.dimensions is not None and body.dimensions != vectors.shape[1]:
        raise ConfigError(f"dimensions: the index's model {name} gives {vectors.shape[1]}, not {body.dimensions}")
    data = [{"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)]
    tokens = int(sum(counts))
    return {"object": "list", "data": data, "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":  # what the openai package asks for by default: little-endian float32 bytes
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in vector]


@router.get("/v1/models")
def models(request: Request) -> dict[str, Any]:
    """The generator that answers chat requests and the embedding model of the index."""
    state = state_of(request)
    names = [_model(state), state.workspace.model_name]
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "sift"} for n in names]}
