"""Who may call the server and how much they may send: host names, web origins, bearer key, bind address, size.

The Host and Origin checks stop DNS rebinding: a web page on ``evil.example`` whose DNS later points at
127.0.0.1 reaches a loopback server with ``Host: evil.example`` (and ``Origin: http://evil.example`` on
its fetches), so the server answers only to the host names it serves and to no page of another origin.
Clients that are not browsers (curl, the openai package, LangChain) send no Origin and pass.

Example:
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    >>> host_name("[::1]:8000"), host_name("LocalHost:8000"), sorted(served_hosts(["NAS.local"]))
    ('::1', 'localhost', ['127.0.0.1', '::1', 'localhost', 'nas.local'])
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException

from indexing.errors import ConfigError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
UPLOAD_PATH = "/v1/documents"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
# 421 Misdirected Request (RFC 9110 §15.5.20): "this server does not serve that authority", which is the case;
# no client retries it (openai, httpx and browsers retry 5xx/429, and 421 only for a coalesced HTTP/2
# connection), and the MCP SDK's own Host check answers 421 too. Django and Starlette say 400.
HOST_STATUS = 421


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(authority: str) -> str:
    """The host of a ``Host`` header or host option, lower case, without port or IPv6 brackets.

    Example: ``"Example.COM:8000"`` → ``"example.com"``, ``"[::1]:8000"`` → ``"::1"``, ``"::1"`` → ``"::1"``.
    """
    value = authority.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") > 1:  # a bare IPv6 address (an option value; a Host header brackets it)
        return value
    return value.partition(":")[0]


def allowed_name(name: str) -> str:
    """A ``--allowed-host`` value, normalised by :func:`host_name`.

    Raises:
        ConfigError: ``name`` is empty or carries a scheme, a path or a port.
    """
    host = host_name(name)
    plain = host and all(c.isalnum() or c in ".-_:" for c in host) and (":" not in host or host.count(":") > 1)
    if not plain or name.strip().lower() not in (host, f"[{host}]"):
        raise ConfigError(f"--allowed-host {name!r} is not a host name: give a name or address without scheme, "
                          "port or path, e.g. --allowed-host nas.local or --allowed-host 192.168.1.5")
    return host


def served_hosts(extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names a server answers to: the loopback ones and ``extra`` (see :func:`allowed_name`).

    Raises:
        ConfigError: a name in ``extra`` is not a plain host name.
    """
    return LOOPBACK_NAMES | {allowed_name(n) for n in extra}


def bind_names(bind_host: str) -> tuple[str, ...]:
    """The host name a ``--host`` address adds to those served: itself, unless it is a wildcard.

    Example: ``bind_names("192.168.1.5")`` → ``("192.168.1.5",)``; ``bind_names("0.0.0.0")`` → ``()``.
    """
    return () if host_name(bind_host) in WILDCARD_HOSTS else (bind_host,)


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


async def _reply(scope: Scope, receive: Receive, send: Send, status: int, body: bytes,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer ``status`` with a JSON body; a websocket handshake is denied the same way where the server can
    (the ``websocket.http.response`` extension, as uvicorn has), else closed with 1008 (policy violation)."""
    kind = "http"
    if scope["type"] == "websocket":
        await receive()  # websocket.connect: the handshake request
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        kind = "websocket.http"
    await send({"type": f"{kind}.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])]})
    await send({"type": f"{kind}.response.body", "body": body})


class Guard:
    """ASGI middleware: host names and web origins on every request, the bearer key on every route but the
    open ones, and a body size cap per request.

    Every HTTP and websocket request, on every path (mounted sub-applications included), must name one of
    ``allowed_hosts`` in ``Host`` (else 421) and, when it carries an ``Origin`` (a browser's fetch), come
    from a page on one of them (else 403). The cap is checked against ``Content-Length`` before anything
    is read and again while a body without one streams in, so an oversized request is answered 413
    without being held in memory.

    Args:
        app: the application to guard.
        api_key: the key clients must send; None lets every request through.
        max_json_bytes: the cap for every request but uploads.
        max_upload_bytes: the cap for ``POST /v1/documents`` (a multipart file upload).
        allowed_hosts: the host names the server answers to (see :func:`served_hosts`).
    """

    def __init__(self, app: ASGIApp, api_key: str | None, max_json_bytes: int, max_upload_bytes: int,
                 allowed_hosts: Iterable[str] = LOOPBACK_NAMES) -> None:
        self.app = app
        self.api_key = api_key
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes
        self.allowed_hosts = frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(headers, scope.get("path", ""))
        if refusal is not None:
            await _reply(scope, receive, send, *refusal)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("method") == "POST" and scope.get("path", "") == UPLOAD_PATH
        limit = self.max_upload_bytes if upload else self.max_json_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reply(scope, receive, send, 413, _too_large(int(declared), limit))
            return
        await self.app(scope, _capped(receive, limit), send)

    def _refusal(self, headers: dict[str, str], path: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """(status, body, headers) of the answer that refuses this request, or None when it may go on."""
        host = host_name(headers.get("host", "")) or "(none)"
        if host not in self.allowed_hosts:
            message = (f"Host {host!r} is not a name this server answers to (DNS rebinding protection): if you "
                       f"reach it under that name on purpose, start it with `sift serve --allowed-host {host}`")
            return HOST_STATUS, error_body(message, "invalid_request_error", "host_not_allowed"), []
        origin = headers.get("origin")
        page = None if origin is None else _origin_host(origin)
        if page is not None and page not in self.allowed_hosts:
            fix = (f"if you trust pages from {page}, start it with `sift serve --allowed-host {page}`" if page
                   else "open the page from one of the server's own host names")
            message = f"Origin {origin!r} is not allowed: this server answers only web pages of its host names; {fix}"
            return 403, error_body(message, "permission_error", "origin_not_allowed"), []
        if self.api_key and path not in OPEN_PATHS and not key_matches(headers.get("authorization"), self.api_key):
            message = "missing or wrong API key: send the server's SIFT_API_KEY as 'Authorization: Bearer <key>'"
            return (401, error_body(message, "authentication_error", "invalid_api_key"),
                    [(b"www-authenticate", b"Bearer")])
        return None


def _origin_host(origin: str) -> str:
    """The host of an ``Origin`` header (``"null"`` and unparsable ones give ``""``, which no server allows)."""
    try:
        return urlsplit(origin.strip()).hostname or ""
    except ValueError:
        return ""


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
