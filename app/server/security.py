"""Who may call the server and how much they may send: bearer key, bind address, request size.

Example:
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

from indexing.errors import ConfigError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
UPLOAD_PATH = "/v1/documents"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without a key.

    Raises:
        ConfigError: ``host`` is not a loopback address and ``api_key`` is empty.
    """
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"--host {host} makes the index reachable from other machines: set SIFT_API_KEY to a secret "
            "that clients send as 'Authorization: Bearer <key>', or bind to 127.0.0.1"
        )


def key_matches(header: str | None, api_key: str) -> bool:
    """Whether an ``Authorization`` header carries ``api_key`` as a bearer token (constant-time compare)."""
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def error_body(message: str, kind: str, code: str) -> bytes:
    """The JSON error shape of every route (OpenAI's): ``{"error": {"message", "type", "code"}}``."""
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


async def _reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: bearer key on every route but the open ones, and a body size cap per request.

    The cap is checked against ``Content-Length`` before anything is read and again while a body without
    one streams in, so an oversized request is answered 413 without being held in memory.

    Args:
        app: the application to guard.
        api_key: the key clients must send; None lets every request through.
        max_json_bytes: the cap for every request but uploads.
        max_upload_bytes: the cap for ``POST /v1/documents`` (a multipart file upload).
    """

    def __init__(self, app: ASGIApp, api_key: str | None, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.api_key = api_key
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        if self.api_key and path not in OPEN_PATHS and not key_matches(headers.get("authorization"), self.api_key):
            message = "missing or wrong API key: send the server's SIFT_API_KEY as 'Authorization: Bearer <key>'"
            await _reply(send, 401, error_body(message, "authentication_error", "invalid_api_key"),
                         [(b"www-authenticate", b"Bearer")])
            return
        upload = scope.get("method") == "POST" and path == UPLOAD_PATH
        limit = self.max_upload_bytes if upload else self.max_json_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, _too_large(int(declared), limit))
            return
        await self.app(scope, _capped(receive, limit), send)


class BodyTooLarge(HTTPException):
    """A streamed request body went over the cap: answered 413 (an HTTPException, so FastAPI's body
    parsing passes it on instead of turning it into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the {limit:,}-byte limit: send less per request")
        self.limit = limit


def _too_large(size: int, limit: int) -> bytes:
    message = f"request body of {size:,} bytes is over the {limit:,}-byte limit: send less per request"
    return error_body(message, "invalid_request_error", "request_too_large")


def _capped(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped
