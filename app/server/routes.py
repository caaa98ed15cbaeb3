"""sift's own REST routes. Each one calls a Workspace verb and shapes its result as the CLI's ``--json`` does.

    POST /v1/search            the hits of ``sift search --json``
    POST /v1/ask               the answer of ``sift ask --json``; ``"stream": true`` sends server-sent events
    POST /v1/classify          labels for texts (zero-shot, generate or auto)
    GET  /v1/topics            the topics saved with the index;  POST computes (or reuses) them
    GET  /v1/documents         indexed documents;  POST uploads a file;  DELETE ?path=… removes files
    POST /v1/documents/sync    ``sift index PATH...``
    GET  /v1/info              ``sift info --json``
    GET  /healthz              liveness (no key needed)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, UploadFile

from app.server import asking
from app.server.schemas import AskRequest, ClassifyRequest, SearchRequest, SyncRequest, TopicsRequest
from app.server.state import ServerState
from app.server.streaming import EventStream
from app.ui.uploads import require_upload, save_upload
from app.workspace import Workspace
from indexing.errors import IndexNotFoundError, SiftError
from pipelines.rag.events import AskEvent, Done, Retrieved, Token

router = APIRouter()


def state_of(request: Request) -> ServerState:
    """The server's state, set on the app at creation."""
    return request.app.state.sift  # type: ignore[no-any-return]


def _need_index(ws: Workspace) -> None:
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: run `sift index PATH` or POST /v1/documents/sync")


@router.get("/healthz", tags=["meta"])
def healthz(request: Request, response: Response) -> dict[str, Any]:
    """Liveness: the server is up (and whether its index exists); 503 ``degraded`` while its watcher is down."""
    response.status_code, body = state_of(request).health()
    return body


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


@router.post("/v1/ask", tags=["query"])
def ask(body: AskRequest, request: Request) -> Any:
    """Answer from the index with citations and support (``sift ask --json``), or refuse.

    With ``"stream": true`` the response is ``text/event-stream``: ``event: passages`` with what retrieval
    found, ``event: token`` with ``{"text"}`` for each piece of the checked answer (joined, exactly the
    answer's ``answer`` field), then ``event: answer`` with the full answer object.
    """
    state = state_of(request)
    history = [(t.question, t.answer) for t in body.history]
    left = asking.client_left(request)
    events = asking.start(state, body.question, history, body.options(asking.defaults(state)), left)
    if not body.stream:
        return asking.whole(events, left).to_dict()
    return EventStream(_frames(events))


def _frames(events: Iterator[AskEvent]) -> Iterator[str]:
    with contextlib.closing(events):
        try:
            for event in events:
                if isinstance(event, Retrieved):
                    yield asking.sse({"query": event.query, "hits": [h.to_dict() for h in event.hits]}, "passages")
                elif isinstance(event, Token):
                    yield asking.sse({"text": event.text}, "token")
                elif isinstance(event, Done):
                    yield asking.sse(event.answer.to_dict(), "answer")
        except SiftError as exc:
            yield asking.error_frame(exc, "error")


@router.post("/v1/classify", tags=["query"])
def classify(body: ClassifyRequest, request: Request) -> dict[str, Any]:
    """Labels for texts from label descriptions: zero-shot (cosine similarity to each label's descriptions), generate
    or auto (the generator, which takes a place in the server's queue: 429 with ``Retry-After`` when it is full).
    With auto the answer also says what the generator labelled (``auto``: its calls, the sample and its labels)."""
    state = state_of(request)
    ws = state.workspace

    def run() -> Any:
        return ws.classify_with(body.texts, body.labels, threshold=body.threshold, expand=body.expand,
                                method=body.method, sample=body.sample, corrections=body.corrections or None)

    if body.method == "zero-shot" and not body.expand:
        labelled = run()
    else:
        with state.admission.acquire() as ticket:
            asking.await_turn(ticket, asking.client_left(request))
            labelled = run()
    out: dict[str, Any] = {
        "predictions": [{"text": t, **p.to_dict()} for t, p in zip(body.texts, labelled.predictions, strict=True)]}
    if labelled.auto is not None:
        out["auto"] = {**labelled.auto.to_dict(), "sample_texts": [body.texts[i] for i in labelled.auto.sample]}
    return out


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
                       level=body.level, names=body.names)
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
async def upload(file: UploadFile, request: Request, replace: bool = False) -> dict[str, Any]:
    """Upload one file (multipart field ``file``) into the server's upload folder and index it.

    A file of that name with the same bytes is left as it is (``"upload": "unchanged"``); with other
    bytes the upload is refused with 409 unless ``?replace=true``. Over ``--max-upload-mb``: 413.
    """
    state = state_of(request)
    data = await file.read()
    require_upload(file.filename or "", len(data), state.max_upload_mb)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_save_and_index, state, file.filename or "", data, replace)


def _save_and_index(state: ServerState, name: str, data: bytes, replace: bool) -> dict[str, Any]:
    assert state.upload_dir is not None  # set by ServerState
    saved = save_upload(name, data, state.upload_dir, max_mb=state.max_upload_mb, replace=replace,
                        how_to_replace="send it again to POST /v1/documents?replace=true")
    report = state.workspace.index([saved.path])
    return {"path": str(saved.path), "upload": saved.status, "message": saved.summary(), "report": report.to_dict()}


@router.post("/v1/documents/sync", tags=["documents"])
def sync(body: SyncRequest, request: Request) -> dict[str, Any]:
    """Bring the index in line with paths on the server's machine (``sift index PATH... --json``).

    Only paths under the server's roots (``--root``, ``--watch``, the upload folder) are indexed, judged
    after ``..`` and symlinks are followed; any other is refused with 403 before anything is read.
    """
    state = state_of(request)
    paths = state.roots.check(body.paths)
    return state.workspace.index(paths, dry_run=body.dry_run).to_dict()


@router.delete("/v1/documents", tags=["documents"])
def delete(request: Request, path: Annotated[list[str], Query(min_length=1)]) -> dict[str, Any]:
    """Remove indexed files (``sift remove PATH...``): ``DELETE /v1/documents?path=/a.md&path=/b.md``."""
    ws = state_of(request).workspace
    _need_index(ws)
    removed = ws.remove(path)
    return {"removed_documents": removed, "paths": path}
