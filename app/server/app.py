"""The FastAPI application of ``sift serve``: sift's routes, the OpenAI-compatible ones, errors as JSON.

Example:
    >>> from app.server import create_app, ServerState
    >>> app = create_app(ServerState(Workspace("data/index")))     # doctest: +SKIP
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.server import openai_compat, routes
from app.server.asking import ClientLeft
from app.server.security import BodyTooLarge, Guard
from app.server.state import ServerState
from indexing.errors import (
    BusyError,
    ConfigError,
    IndexMismatchError,
    IndexNotFoundError,
    LoaderError,
    ModelNotAvailableError,
    PathNotAllowedError,
    SiftError,
    UnsupportedFileError,
    UploadConflictError,
    UploadTooLargeError,
)

# HTTP status of each domain error; the message is the one the CLI prints after "sift: error:".
STATUS: tuple[tuple[type[SiftError], int], ...] = (
    (IndexNotFoundError, 404),
    (PathNotAllowedError, 403),
    (IndexMismatchError, 409),
    (UploadConflictError, 409),
    (UploadTooLargeError, 413),
    (ModelNotAvailableError, 503),
    (BusyError, 429),
    (ConfigError, 422),
    (UnsupportedFileError, 422),
    (LoaderError, 422),
    (SiftError, 400),
)


def status_of(exc: SiftError) -> int:
    """The HTTP status a domain error is answered with."""
    return next(code for kind, code in STATUS if isinstance(exc, kind))


def _error(status: int, message: str, kind: str, code: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, **extra}}, status_code=status)


def create_app(state: ServerState) -> FastAPI:
    """The application over ``state``'s Workspace, behind its host names, key and size limits."""
    app = FastAPI(
        title="sift",
        summary="Search, ask, label and map a folder of documents, locally.",
        version="0.1.0",
        description="sift's REST API and an OpenAI-compatible subset (`/v1/chat/completions`, `/v1/embeddings`, "
        "`/v1/models`). Send `Authorization: Bearer <SIFT_API_KEY>` when the server has a key.",
    )
    app.state.sift = state
    app.include_router(routes.router)
    app.include_router(openai_compat.router)
    if state.mcp:  # the SDK loads only for a server that serves MCP
        from app.mcp.mount import mount

        mount(app, state)

    @app.exception_handler(SiftError)
    async def sift_error(_: Request, exc: SiftError) -> JSONResponse:
        code = "request_too_large" if isinstance(exc, UploadTooLargeError) else "sift_error"  # as the Guard's 413
        response = _error(status_of(exc), str(exc), type(exc).__name__, code)
        if isinstance(exc, BusyError):  # what OpenAI clients read to back off before retrying a 429
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(ClientLeft)
    async def client_left(_: Request, __: ClientLeft) -> Response:
        return Response(status_code=499)  # nobody reads it: the client closed its connection while queued

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
        return _error(422, f"{where}: {first['msg']}", "invalid_request_error", "invalid_request", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "request_too_large" if isinstance(exc, BodyTooLarge) else f"http_{exc.status_code}"
        return _error(exc.status_code, str(exc.detail), "invalid_request_error", code)

    # Around the router, so every path (the docs, /healthz, mounted sub-applications) passes the host checks.
    app.add_middleware(Guard, api_key=state.api_key, max_json_bytes=state.max_json_bytes,
                       max_upload_bytes=state.max_upload_bytes, allowed_hosts=state.host_names)
    return app
