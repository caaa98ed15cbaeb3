"""sift's own REST routes. Each one calls a Workspace verb and shapes its result as the CLI's ``--json`` does.

    POST /v1/search            the hits of ``sift search --json``
    POST /v1/ask               the answer of ``sift ask --json``; ``"stream": true`` sends server-sent events
    POST /v1/classify          zero-shot labels for texts
    GET  /v1/topics            the topics saved with the index;  POST computes (or reuses) them
    GET  /v1/documents         indexed documents;  POST uploads a file;  DELETE ?path=… removes files
    POST /v1/documents/sync    ``sift index PATH...``
    GET  /v1/info              ``sift info --json``
    GET  /healthz              liveness (no key needed)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from app.server.schemas import AskRequest, ClassifyRequest, SearchRequest, SyncRequest, TopicsRequest
from app.server.state import ServerState
from app.ui.uploads import check_upload, default_upload_dir, save_upload
from app.workspace import Workspace
from indexing.errors import ConfigError, IndexNotFoundError, SiftError
from pipelines.generation import GenerationConfig
from pipelines.rag import Answer
from pipelines.rag.conversation import Conversation
from pipelines.rag.rewrite import Exchange

router = APIRouter()


def state_of(request: Request) -> ServerState:
    """The server's state, set on the app at creation."""
    return request.app.state.sift  # type: ignore[no-any-return]


def _need_index(ws: Workspace) -> None:
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: run `sift index PATH` or POST /v1/documents/sync")


@router.get("/healthz", tags=["meta"])
def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the server is up (and whether its index exists)."""
    return {"status": "ok", "index": state_of(request).workspace.exists()}


@router.get("/v1/info", tags=["index"])
def info(request: Request) -> dict[str, Any]:
    """Index statistics and manifest (``sift info --json``)."""
    ws = state_of(request).workspace
    return ws.info()


@router.post("/v1/search", tags=["query"])
def search(body: SearchRequest, request: Request) -> dict[str, Any]:
    """Top-k chunks for a query (``sift search --json``)."""
    ws = state_of(request).workspace
    _need_index(ws)
    hits = ws.search(body.query, k=body.k, mode=body.mode, where=body.where, source=body.source)
    return {"query": body.query, "mode": body.mode, "k": body.k, "hits": [h.to_dict() for h in hits]}


def conversation(state: ServerState, ws: Workspace, body: AskRequest) -> Conversation:
    """A thread primed with the request's history, over a pipeline with its decoding options."""
    config = GenerationConfig()
    if body.max_tokens is not None:
        config = replace(config, max_new_tokens=body.max_tokens)
    if body.temperature is not None:
        config = replace(config, temperature=body.temperature)
    rag = ws.rag(state.preset, config=config, k=body.k, mode=body.mode, answer_length=body.answer_length)
    exchanges = [Exchange(t.question, t.question, t.answer) for t in body.history]
    return Conversation(rag, exchanges=exchanges)


def answer_items(state: ServerState, body: AskRequest) -> Iterator[str | Answer]:
    """Retrieve now (so a missing index or a bad filter fails before any response starts); generate lazily."""
    ws = state.workspace
    _need_index(ws)
    return conversation(state, ws, body).stream(body.question, where=body.where)


@router.post("/v1/ask", tags=["query"])
def ask(body: AskRequest, request: Request) -> Any:
    """Answer from the index with citations and support (``sift ask --json``), or refuse.

    With ``"stream": true`` the response is ``text/event-stream``: ``event: token`` with ``{"text"}`` for
    each piece as it is generated, then ``event: answer`` with the full answer object.
    """
    items = answer_items(state_of(request), body)
    if not body.stream:
        final = [item for item in items if isinstance(item, Answer)]
        return final[-1].to_dict()
    return StreamingResponse(_events(items), media_type="text/event-stream")


def _events(items: Iterator[str | Answer]) -> Iterator[str]:
    try:
        for item in items:
            if isinstance(item, Answer):
                yield _event("answer", item.to_dict())
            elif item:
                yield _event("token", {"text": item})
    except SiftError as exc:
        yield _event("error", {"error": {"message": str(exc), "type": type(exc).__name__, "code": "sift_error"}})


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/v1/classify", tags=["query"])
def classify(body: ClassifyRequest, request: Request) -> dict[str, Any]:
    """Zero-shot labels for texts: cosine similarity of each text to each label's descriptions."""
    ws = state_of(request).workspace
    predictions = ws.classify(body.texts, body.labels, threshold=body.threshold)
    return {"predictions": [{"text": t, **p.to_dict()} for t, p in zip(body.texts, predictions, strict=True)]}


@router.get("/v1/topics", tags=["topics"])
def saved_topics(request: Request) -> dict[str, Any]:
    """The topics saved with the index (``stale`` when the index changed since); 404 when none are."""
    ws = state_of(request).workspace
    _need_index(ws)
    saved = ws.saved_topics()
    if saved is None:
        raise IndexNotFoundError(f"no topics saved with {ws.index_dir} yet: POST /v1/topics computes them")
    return saved.to_dict()


@router.post("/v1/topics", tags=["topics"])
def topics(body: TopicsRequest, request: Request) -> dict[str, Any]:
    """Cluster the index's vectors into topics (saved ones are reused while fresh); writes topic metadata."""
    ws = state_of(request).workspace
    _need_index(ws)
    result = ws.topics(n_topics=body.n_topics, min_cluster_size=body.min_cluster_size, seed=body.seed,
                       level=body.level)
    return result.to_dict()


@router.get("/v1/documents", tags=["documents"])
def documents(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Indexed documents (without their text), ordered by source."""
    ws = state_of(request).workspace
    records = ws.documents(limit=limit, offset=offset)
    total = ws.info().get("documents", 0) if ws.exists() else 0
    rows = [{"id": r.id, "source": r.source, "title": r.title, "chunks": r.n_chunks, "meta": r.meta}
            for r in records]
    return {"total": total, "limit": limit, "offset": offset, "documents": rows}


@router.post("/v1/documents", tags=["documents"])
async def upload(file: UploadFile, request: Request) -> dict[str, Any]:
    """Upload one file (multipart field ``file``) into the server's upload folder and index it."""
    state = state_of(request)
    data = await file.read()
    reason = check_upload(file.filename or "", len(data), state.max_upload_mb)
    if reason is not None:
        raise ConfigError(reason)
    folder = state.upload_dir or default_upload_dir(state.workspace.index_dir)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_save_and_index, state, file.filename or "", data, folder)


def _save_and_index(state: ServerState, name: str, data: bytes, folder: Any) -> dict[str, Any]:
    ws = state.workspace
    path = save_upload(name, data, folder)
    report = ws.index([path])
    return {"path": str(path), "report": report.to_dict()}


@router.post("/v1/documents/sync", tags=["documents"])
def sync(body: SyncRequest, request: Request) -> dict[str, Any]:
    """Bring the index in line with paths on the server's machine (``sift index PATH... --json``)."""
    ws = state_of(request).workspace
    return ws.index(body.paths, dry_run=body.dry_run).to_dict()


@router.delete("/v1/documents", tags=["documents"])
def delete(request: Request, path: Annotated[list[str], Query(min_length=1)]) -> dict[str, Any]:
    """Remove indexed files (``sift remove PATH...``): ``DELETE /v1/documents?path=/a.md&path=/b.md``."""
    ws = state_of(request).workspace
    _need_index(ws)
    removed = ws.remove(path)
    return {"removed_documents": removed, "paths": path}
