"""The OpenAI-compatible routes, so that existing clients (the ``openai`` package, LangChain, LlamaIndex, editors)
work unchanged.

    POST /v1/chat/completions   answers from the index: the last user message is the question, earlier user and
                                assistant messages are the conversation; citations are ``[n]`` in the text and the
                                extra ``citations`` field (on the last chunk when streaming)
    POST /v1/completions        the same answer for a plain ``prompt`` (one question)
    POST /v1/embeddings         vectors from the index's embedding model (float or base64)
    GET  /v1/models             the generator and the embedding model

What is honoured: ``max_tokens`` / ``max_completion_tokens``, ``temperature``, ``top_p``, ``seed``, ``stop``,
``stream`` and ``stream_options.include_usage``; sift's own options (``k``, ``mode``, ``where``, ``source``,
``answer_length``, ``rewrite``, ``min_score``, ``floor``, ``passage_tokens``, ``top_k``,
``repetition_penalty``) may be sent as extra fields. What cannot be honoured (``n`` > 1, ``tools``,
``response_format`` other than text, ``logprobs``, penalties, ``logit_bias``, ``echo``, ``suffix``, …) is a 400
naming the parameter, never silently ignored. ``finish_reason`` is ``length`` when ``max_tokens`` cut the
answer and ``stop`` otherwise; ``sift_finish_reason`` says sift's own (``repetition``, ``refused``). ``usage``
counts the tokens the model really read and wrote. The ``model`` a client sends is accepted whatever it names
and reported back as the model that really ran. System messages are not given to the model: sift's own system
prompt is what keeps answers to the sources.
"""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from app.server import asking
from app.server.routes import state_of
from app.server.schemas import ASK_FIELDS, AskOptionsIn
from app.server.state import ServerState
from app.server.streaming import EventStream
from indexing.errors import ConfigError, SiftError
from pipelines.generation.presets import default_preset
from pipelines.rag import Answer
from pipelines.rag.events import AskEvent, Done, Token

router = APIRouter(tags=["openai"])

# OpenAI parameters sift cannot honour, with the one value of each that asks for nothing (None: any value refused).
_REFUSED: dict[str, tuple[Any, ...]] = {
    "n": (1,), "best_of": (1,), "logprobs": (False, None), "top_logprobs": (None, 0), "echo": (False,),
    "suffix": (None, ""), "presence_penalty": (0, 0.0), "frequency_penalty": (0, 0.0), "logit_bias": ({},),
    "tools": ([],), "tool_choice": ("none",), "functions": ([],), "function_call": ("none",),
    "parallel_tool_calls": (), "response_format": ({"type": "text"},), "audio": (), "modalities": (["text"],),
    "prediction": (), "web_search_options": (), "reasoning_effort": (),
}
# Fields that describe the caller rather than ask anything of the answer.
_METADATA = frozenset({"user", "metadata", "store", "service_tier", "safety_identifier", "prompt_cache_key"})


class Message(BaseModel):
    """One chat message; ``content`` is a string or a list of ``{"type": "text", "text": …}`` parts."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class _OpenAIRequest(AskOptionsIn):
    """What the two generation routes share: the model, decoding, streaming, and sift's options as extras."""

    model_config = ConfigDict(extra="allow")
    model: str = "sift"
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None  # type: ignore[assignment]

    def options(self, defaults: Any) -> Any:
        check_parameters(self)
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        return super().options(defaults)

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class ChatRequest(_OpenAIRequest):
    """OpenAI's chat request (the fields sift honours; see the module docstring for what is refused)."""

    messages: list[Message] = Field(min_length=1, max_length=200)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)

    def turns(self) -> tuple[str, list[tuple[str, str]]]:
        """The question (the last user message) and the earlier (question, answer) pairs.

        Raises:
            ConfigError: the last message is not the user's, or has no text.
            HTTPException: a tool message (tools are not supported).
        """
        for m in self.messages:
            if m.role in ("tool", "function"):
                raise HTTPException(400, f"messages: a {m.role!r} message answers a tool call; sift calls no tools")
        turns = [m for m in self.messages if m.role in ("user", "assistant")]
        if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
            raise ConfigError("messages: the last message must be the user's question, with text")
        history, question = [], None
        for m in turns[:-1]:
            if m.role == "user":
                question = m.text()
            elif question is not None:
                history.append((question, m.text()))
                question = None
        return turns[-1].text(), history


class CompletionRequest(_OpenAIRequest):
    """OpenAI's (legacy) completion request: ``prompt`` is one question."""

    prompt: str | list[str]

    def question(self) -> str:
        prompts = [self.prompt] if isinstance(self.prompt, str) else self.prompt
        if len(prompts) != 1 or not prompts[0].strip():
            raise HTTPException(400, "prompt: send one non-empty prompt per request (a list of several is not "
                                     "supported)")
        return prompts[0]


def check_parameters(body: BaseModel) -> None:
    """Refuse what sift cannot honour, naming it (a 400, as OpenAI answers an unknown or invalid parameter).

    Raises:
        HTTPException: 400 naming the first such parameter.
    """
    for name, value in (body.model_extra or {}).items():
        if name in _METADATA:
            continue
        if name not in _REFUSED:
            raise HTTPException(400, f"{name}: sift does not know this parameter; remove it (sift's own are "
                                     f"{', '.join(sorted(ASK_FIELDS))})")
        if value not in _REFUSED[name]:
            raise HTTPException(400, f"{name}: sift cannot honour {name}={value!r} (it answers with one choice of "
                                     "plain text from the indexed documents, without tools or log-probabilities); "
                                     "remove the parameter")


def _model(state: ServerState) -> str:
    return state.preset or default_preset()


def _extra(answer: Answer) -> dict[str, Any]:
    """What sift adds to an OpenAI response: the checked answer's citations, refusal, support, its own finish."""
    data = answer.to_dict()
    keep = ("citations", "refused", "refusal_reason", "support", "invalid_citations")
    return {"sift_finish_reason": answer.finish_reason, **{key: data[key] for key in keep}}


def finish_reason(answer: Answer) -> str:
    """OpenAI's finish reason: ``length`` when the token budget cut the answer, else ``stop``."""
    return "length" if answer.finish_reason == "length" else "stop"


@router.post("/v1/chat/completions")
def chat_completions(body: ChatRequest, request: Request) -> Any:
    """An answer from the index in OpenAI's chat-completion shape (``stream`` for server-sent chunks)."""
    state = state_of(request)
    options = body.options(asking.defaults(state))
    if body.max_completion_tokens is not None:
        options = options.merged(max_tokens=body.max_completion_tokens)
    question, history = body.turns()
    left = asking.client_left(request)
    events = asking.start(state, question, history, options, left)
    shape = _Shape("chat.completion", f"chatcmpl-{uuid.uuid4().hex}", _model(state))
    if body.stream:
        return EventStream(shape.frames(events, body.include_usage))
    answer = asking.whole(events, left)
    choice = {"index": 0, "message": {"role": "assistant", "content": answer.text},
              "finish_reason": finish_reason(answer), "logprobs": None}
    return shape.whole(answer, choice)


@router.post("/v1/completions")
def completions(body: CompletionRequest, request: Request) -> Any:
    """The answer to a plain ``prompt`` in OpenAI's completion shape, through the same path as chat."""
    state = state_of(request)
    left = asking.client_left(request)
    events = asking.start(state, body.question(), [], body.options(asking.defaults(state)), left)
    shape = _Shape("text_completion", f"cmpl-{uuid.uuid4().hex}", _model(state))
    if body.stream:
        return EventStream(shape.frames(events, body.include_usage))
    answer = asking.whole(events, left)
    return shape.whole(answer, {"index": 0, "text": answer.text, "finish_reason": finish_reason(answer),
                                "logprobs": None})


class _Shape:
    """The envelope of one response: its object type (chat or text completion), id, time and model."""

    def __init__(self, kind: str, ident: str, model: str) -> None:
        self.kind, self.ident, self.model, self.created = kind, ident, model, int(time.time())

    def _envelope(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"id": self.ident, "object": kind, "created": self.created, "model": self.model, **fields}

    def whole(self, answer: Answer, choice: dict[str, Any]) -> dict[str, Any]:
        return self._envelope(self.kind, choices=[choice], usage=answer.usage, **_extra(answer))

    def _chunk(self, text: str | None, finish: str | None = None, **extra: Any) -> str:
        if self.kind == "chat.completion":
            delta = {} if text is None else {"content": text}
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return asking.sse(self._envelope("chat.completion.chunk", choices=[choice], **extra))
        choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        return asking.sse(self._envelope("text_completion", choices=[choice], **extra))

    def frames(self, events: Iterator[AskEvent], include_usage: bool) -> Iterator[str]:
        """Content deltas (the checked answer: they add up to the non-streamed ``content``), then a chunk with
        the finish reason and sift's extras, then usage when asked for, then ``[DONE]``."""
        with contextlib.closing(events):
            if self.kind == "chat.completion":
                first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None,
                         "logprobs": None}
                yield asking.sse(self._envelope("chat.completion.chunk", choices=[first]))
            try:
                for event in events:
                    if isinstance(event, Token):
                        yield self._chunk(event.text)
                    elif isinstance(event, Done):
                        yield self._chunk(None, finish_reason(event.answer), **_extra(event.answer))
                        if include_usage:
                            kind = "chat.completion.chunk" if self.kind == "chat.completion" else self.kind
                            yield asking.sse(self._envelope(kind, choices=[], usage=event.answer.usage))
            except SiftError as exc:
                yield asking.error_frame(exc)
            yield "data: [DONE]\n\n"


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request: ``input`` is a string or a list of strings (token arrays are refused)."""

    model_config = ConfigDict(extra="allow")
    model: str = "sift"
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


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
