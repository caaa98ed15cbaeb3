"""`sift serve` against web pages and unsafe paths, through real HTTP: forged Host and Origin headers (DNS
rebinding), syncs outside the server's roots, uploads that would overwrite, the one upload limit, and a
watcher failure that /healthz reports."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CORPUS
from server_testkit import LiveServer, built_workspace, live_server, rooted_state

from app.cli.main import build_parser, main
from app.cli.serve import server_state
from app.server import ServerState
from app.server.security import Guard
from app.ui.uploads import MAX_UPLOAD_MB, MIB, save_upload
from app.watch import Watcher
from app.workspace import Workspace
from indexing.errors import UploadConflictError
from indexing.store.schema import DB_NAME

SECRET = "The vault combination is 31-41-59 and the spare key is under the blue flowerpot."
EVIL = "evil.example"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``docs/`` (the root the server is given), ``outside/secret.txt`` and ``docs/link.txt`` → that secret."""
    base = tmp_path_factory.mktemp("security").resolve()
    (base / "docs").mkdir()
    for name, text in CORPUS.items():
        (base / "docs" / name).write_text(text, encoding="utf-8")
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text(SECRET, encoding="utf-8")
    return base


@pytest.fixture(scope="module")
def ws(site: Path) -> Workspace:
    built = built_workspace(site / "idx", site / "docs")
    (site / "docs" / "link.txt").symlink_to(site / "outside" / "secret.txt")  # after the user's own sync
    return built


@pytest.fixture(scope="module")
def server(ws: Workspace, site: Path) -> Iterator[LiveServer]:
    with live_server(rooted_state(ws, site / "docs", upload_dir=site / "uploads")) as live:
        yield live


def _error(response, status: int, code: str) -> str:  # type: ignore[no-untyped-def]
    """The error message of a refusal, once its status and JSON shape are the expected ones."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"} and error["code"] == code
    return str(error["message"])


# ---- Host and Origin -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/healthz", None),
        ("GET", "/docs", None),
        ("GET", "/openapi.json", None),
        ("GET", "/mcp", None),  # no such route yet: refused before routing, as a mounted app would be
        ("POST", "/v1/search", {"query": "vault combination"}),
        ("POST", "/v1/documents/sync", {"paths": ["/tmp"]}),
    ],
)
def test_a_forged_host_is_421_on_every_path(server: LiveServer, method: str, path: str, body: dict | None) -> None:
    got = server.client(Host=EVIL).request(method, path, json=body)
    message = _error(got, 421, "host_not_allowed")
    assert message.startswith("Host 'evil.example' is not a name this server answers to")
    assert message.endswith("start it with `sift serve --allowed-host evil.example`")


@pytest.mark.parametrize("host", ["localhost", "LocalHost:1234", "127.0.0.1", "127.0.0.1:9", "[::1]:8000"])
def test_loopback_names_with_any_port_are_served(server: LiveServer, host: str) -> None:
    got = server.client(Host=host).get("/healthz")
    assert got.status_code == 200 and got.json() == {"status": "ok", "index": True}


@pytest.mark.parametrize("host", ["localhost.evil.example", "127.0.0.1.nip.io", "127.0.0.2", "localhost@evil.example"])
def test_names_that_merely_look_local_are_421(server: LiveServer, host: str) -> None:
    _error(server.client(Host=host).get("/healthz"), 421, "host_not_allowed")


@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example:8000", "null"])
def test_a_page_of_another_origin_is_403_naming_it(server: LiveServer, origin: str) -> None:
    got = server.client(Origin=origin).post("/v1/search", json={"query": "cats"})
    message = _error(got, 403, "origin_not_allowed")
    assert message.startswith(f"Origin {origin!r} is not allowed")


@pytest.mark.parametrize("origin", [None, "http://localhost:3000", "http://127.0.0.1:8000", "http://[::1]"])
def test_clients_without_origin_and_local_pages_pass(server: LiveServer, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}
    got = server.client(**headers).post("/v1/search", json={"query": "cats purr", "k": 1})
    assert got.status_code == 200 and got.json()["hits"][0]["title"] == "Cats"


def test_a_rebinding_page_can_neither_index_nor_read_a_secret(server: LiveServer, ws: Workspace, site: Path) -> None:
    before = ws.files()
    page = server.client(Host=f"{EVIL}:{server.port}", Origin=f"http://{EVIL}:{server.port}")
    secret = str(site / "outside" / "secret.txt")
    _error(page.post("/v1/documents/sync", json={"paths": [secret]}), 421, "host_not_allowed")
    _error(page.post("/v1/search", json={"query": "vault combination flowerpot"}), 421, "host_not_allowed")
    assert ws.files() == before


def test_a_websocket_handshake_with_a_forged_host_is_refused(server: LiveServer) -> None:
    def handshake(host: str, origin: str | None = None) -> tuple[str, bytes]:
        lines = ["GET /mcp HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
        lines += [f"Origin: {origin}"] if origin else []
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        return head.split(b"\r\n")[0].decode(), body

    status, body = handshake(EVIL)
    assert status == "HTTP/1.1 421 Misdirected Request" and json.loads(body)["error"]["code"] == "host_not_allowed"
    status, body = handshake("localhost", origin="http://evil.example")
    assert status == "HTTP/1.1 403 Forbidden" and json.loads(body)["error"]["code"] == "origin_not_allowed"


async def _denied_websocket(extensions: dict) -> list[dict]:
    """What the Guard sends to a websocket handshake with a forged Host, on a server with ``extensions``."""
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("the guarded app was reached")

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/mcp", "headers": [(b"host", EVIL.encode())], "extensions": extensions}
    await Guard(app, None, 1024, 1024)(scope, receive, send)
    return sent


def test_a_server_without_websocket_denial_responses_closes_with_policy_violation() -> None:
    import asyncio

    assert asyncio.run(_denied_websocket({})) == [{"type": "websocket.close", "code": 1008}]
    sent = asyncio.run(_denied_websocket({"websocket.http.response": {}}))
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    assert sent[0]["status"] == 421


def test_allowed_hosts_come_from_the_flags_and_the_bind_address(ws: Workspace, site: Path) -> None:
    args = build_parser("serve").parse_args(
        ["serve", "--index", str(ws.index_dir), "--host", "192.168.7.7", "--allowed-host", "NAS.local",
         "--allowed-host", "[fd00::5]", "--root", str(site / "docs"), "--watch", str(site / "outside"),
         "--upload-dir", str(site / "up"), "--max-upload-mb", "2"]
    )
    state = server_state(args, ws)
    assert state.host_names == {"localhost", "127.0.0.1", "::1", "192.168.7.7", "nas.local", "fd00::5"}
    assert state.roots.paths == tuple(sorted((site / "docs", site / "outside", (site / "up").resolve())))
    assert (state.max_upload_mb, state.max_upload_bytes) == (2, 2 * MIB + 64 * 1024)
    wildcard = server_state(build_parser("serve").parse_args(["serve", "--host", "0.0.0.0"]), ws)
    assert wildcard.host_names == {"localhost", "127.0.0.1", "::1"}
    with live_server(ServerState(ws, allowed_hosts=("nas.local",))) as live:
        assert live.client(Host=f"nas.local:{live.port}", Origin="http://nas.local").get("/healthz").status_code == 200
        _error(live.client(Host=EVIL).get("/healthz"), 421, "host_not_allowed")


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--allowed-host", "http://nas.local"], "--allowed-host 'http://nas.local' is not a host name"),
        (["--allowed-host", "nas.local:8000"], "--allowed-host 'nas.local:8000' is not a host name"),
        (["--root", "/no/such/folder"], "--root /no/such/folder does not exist"),
        (["--max-upload-mb", "0"], "--max-upload-mb 0 is below 1"),
    ],
)
def test_bad_serve_flags_are_refused_before_serving(tmp_path: Path, capsys, flags: list[str], needle: str) -> None:
    assert main(["serve", "--index", str(tmp_path / "idx"), *flags]) == 1
    assert needle in capsys.readouterr().err


# ---- roots ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "asked,leads",
    [
        ("outside/secret.txt", None),
        ("docs/../outside", "outside"),
        ("docs/link.txt", "outside/secret.txt"),  # a symlink inside the root that points out of it
        ("idx", None),
    ],
)
def test_a_sync_outside_the_roots_is_403_and_changes_nothing(
    server: LiveServer, ws: Workspace, site: Path, asked: str, leads: str | None
) -> None:
    before = ws.files()
    path = f"{site}/{asked}"
    got = server.client().post("/v1/documents/sync", json={"paths": [str(site / "docs" / "cats.md"), path]})
    message = _error(got, 403, "sift_error")
    via = f" (which leads to {site / leads})" if leads else ""
    assert message == (f"{path}{via} is outside the folders this server may index ({site / 'docs'}, "
                       f"{site / 'uploads'}): start the server with `sift serve --root DIR` for a folder that holds it")
    assert got.json()["error"]["type"] == "PathNotAllowedError"
    assert ws.files() == before


def test_a_sync_inside_a_root_indexes_it(server: LiveServer, ws: Workspace, site: Path) -> None:
    owl = site / "docs" / "birds" / "owl.txt"
    owl.parent.mkdir()
    owl.write_text("Owls are birds of prey that hunt at night with silent flight.\n")
    got = server.client().post("/v1/documents/sync", json={"paths": [str(site / "docs" / "x" / ".." / "birds")]})
    assert got.status_code == 200 and got.json()["added"] == [str(owl)]
    assert str(owl) in ws.files()


# ---- uploads -------------------------------------------------------------------------------------
def test_an_upload_never_overwrites_unasked(server: LiveServer, ws: Workspace, site: Path) -> None:
    client = server.client()
    first = b"# Quokka\n\nQuokkas are small marsupials that live on Rottnest Island.\n"
    other = b"# Quokka\n\nQuokkas are photogenic and famous for their smiling faces.\n"
    saved = (site / "uploads" / "quokka.md").resolve()

    added = client.post("/v1/documents", files={"file": ("quokka.md", first, "text/markdown")})
    assert added.status_code == 200 and added.json()["upload"] == "added" and saved.read_bytes() == first
    inode = saved.stat().st_ino

    same = client.post("/v1/documents", files={"file": ("quokka.md", first, "text/markdown")})
    assert same.status_code == 200 and same.json()["upload"] == "unchanged"
    assert same.json()["message"] == f"quokka.md is already in {saved.parent} with the same bytes: nothing was written"
    assert same.json()["report"]["counts"]["unchanged"] == 1 and saved.stat().st_ino == inode

    refused = client.post("/v1/documents", files={"file": ("quokka.md", other, "text/markdown")})
    assert _error(refused, 409, "sift_error") == (
        f"quokka.md is already in {saved.parent} with other content: rename your file, or send it again to "
        "POST /v1/documents?replace=true"
    )
    assert saved.read_bytes() == first and "Rottnest" in ws.document(str(saved)).text

    replaced = client.post("/v1/documents", params={"replace": "true"},
                           files={"file": ("quokka.md", other, "text/markdown")})
    assert replaced.status_code == 200 and replaced.json()["upload"] == "replaced"
    assert replaced.json()["report"]["updated"] == [str(saved)] and saved.read_bytes() == other
    assert "smiling" in ws.document(str(saved)).text
    assert sorted(p.name for p in saved.parent.iterdir()) == ["quokka.md"]  # no temporary files left


def test_save_upload_adds_keeps_refuses_and_replaces(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    first = save_upload("a.txt", b"one", folder)
    assert (first.path, first.status, first.path.read_bytes()) == ((folder / "a.txt").resolve(), "added", b"one")
    assert save_upload("a.txt", b"one", folder).status == "unchanged"
    with pytest.raises(UploadConflictError, match=r"^a.txt is already in .* with other content: rename your file, "
                                                   r"or tick the box$"):
        save_upload("a.txt", b"two", folder, how_to_replace="tick the box")
    assert first.path.read_bytes() == b"one"
    assert save_upload("a.txt", b"two", folder, replace=True).status == "replaced"
    assert first.path.read_bytes() == b"two"
    assert save_upload("a.txt", b"two", folder, replace=True).status == "unchanged"
    assert save_upload("b.txt", b"new", folder, replace=True).status == "added"
    with pytest.raises(ValueError, match="not a plain file name"):
        save_upload("../a.txt", b"x", folder)
    big = b"x" * (MAX_UPLOAD_MB * MIB + 1)
    with pytest.raises(ValueError, match=f"over the {MAX_UPLOAD_MB} MB limit"):
        save_upload("big.txt", big, folder)
    assert save_upload("big.txt", big, folder, max_mb=MAX_UPLOAD_MB + 1).status == "added"
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt", "big.txt"]


def _padded(mb: float) -> bytes:
    """``mb`` MiB that the indexer skips at once (NUL bytes: binary): the limit is under test, not embedding."""
    return b"\0" * int(mb * MIB)


def test_one_upload_limit_from_the_flag(ws: Workspace, tmp_path: Path) -> None:
    args = build_parser("serve").parse_args(["serve", "--max-upload-mb", "2", "--upload-dir", str(tmp_path / "up")])
    with live_server(server_state(args, ws)) as live:
        client = live.client()
        ok = client.post("/v1/documents", files={"file": ("fits.txt", _padded(1.5), "text/plain")})
        assert ok.status_code == 200 and ok.json()["upload"] == "added"
        assert ok.json()["report"]["skipped"][0]["reason"].endswith("binary file (NUL bytes found), not text")
        assert (tmp_path / "up" / "fits.txt").stat().st_size == int(1.5 * MIB)
        over = client.post("/v1/documents", files={"file": ("over.txt", _padded(2) + b"\0", "text/plain")})
        assert _error(over, 413, "request_too_large") == "over.txt: 2.0 MB is over the 2 MB limit per file"
        way_over = client.post("/v1/documents", files={"file": ("way.txt", _padded(3), "text/plain")})
        assert _error(way_over, 413, "request_too_large").endswith("-byte limit: send less per request")
    assert sorted(p.name for p in (tmp_path / "up").iterdir()) == ["fits.txt"]


def test_a_limit_above_the_old_default_is_honoured(ws: Workspace, tmp_path: Path) -> None:
    state = ServerState(ws, max_upload_mb=MAX_UPLOAD_MB + 1, upload_dir=tmp_path / "up")
    with live_server(state) as live:
        big = _padded(MAX_UPLOAD_MB + 0.5)
        got = live.client().post("/v1/documents", files={"file": ("big.txt", big, "text/plain")})
        assert got.status_code == 200, got.text
        assert got.json()["upload"] == "added" and (tmp_path / "up" / "big.txt").stat().st_size == len(big)


# ---- the watcher's health ----------------------------------------------------------------------------
def test_healthz_is_503_degraded_while_the_watcher_is_down(tmp_path: Path, caplog) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "idx").mkdir()
    garbage = b"this is not a database, so every sync of the watcher fails"
    (tmp_path / "idx" / DB_NAME).write_bytes(garbage)
    ws = Workspace(tmp_path / "idx")
    watcher = Watcher(ws, [docs], debounce_ms=50, max_restarts=1, restart_delay_s=0.2)
    with live_server(ServerState(ws, watcher=watcher)) as live:
        watcher.start()
        try:
            deadline = time.monotonic() + 60
            while watcher.health()["running"] and time.monotonic() < deadline:
                time.sleep(0.05)
            got = live.client().get("/healthz")
        finally:
            watcher.stop()
    assert got.status_code == 503
    assert got.json() == {"status": "degraded", "index": True, "watcher": {
        "running": False, "restarts": 1, "failure": "DatabaseError: file is not a database"}}
    logged = [r.getMessage() for r in caplog.records if r.name == "app.watch"]
    assert logged == [
        "sift watch failed: DatabaseError: file is not a database; restarting in 0.2 s (restart 1 of 1)",
        f"sift watch stopped after 1 restart(s): DatabaseError: file is not a database; the index no longer "
        f"follows {docs}",
    ]
    assert (tmp_path / "idx" / DB_NAME).read_bytes() == garbage  # the failing watcher wrote nothing
