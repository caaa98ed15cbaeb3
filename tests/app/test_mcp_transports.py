"""sift's MCP server over its two real transports: `sift mcp` as a stdio subprocess (the SDK's stdio client, the
desktop-assistant config of docs/mcp.md as written, and a raw pipe that checks stdout carries nothing but the
protocol), and `sift serve --mcp` over HTTP (the SDK's streamable HTTP client, behind the server's key and
Host/Origin checks)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from conftest import CORPUS
from fastapi.testclient import TestClient
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from server_testkit import LiveServer, built_workspace, live_server

from app.cli.main import build_parser, main
from app.cli.serve import server_state
from app.server import ServerState, create_app
from app.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
CITED = "What do cats do at night?"  # SmolLM2 answers it citing [1]
KEY = "test-key-not-secret"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("mcp-transports").resolve() / "docs"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return built_workspace(folder.parent / "idx", folder)


def _env() -> dict[str, str]:
    """This test process's environment (offline models, the test generator), with the venv's ``sift`` on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


async def _session(target: Any, ws: Workspace) -> dict[str, Any]:
    """List the tools, search and ask through one client; the results by name."""
    async with Client(target) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        search = await client.call_tool("search", {"query": "Eiffel Tower", "k": 3})
        ask = await client.call_tool("ask", {"question": CITED, "k": 3})
    assert not search.is_error and not ask.is_error, (search.content, ask.content)
    return {"tools": tools, "search": search.structured_content, "ask": ask.structured_content}


def _assert_same_as_workspace(got: dict[str, Any], ws: Workspace) -> None:
    assert got["search"]["hits"] == [hit.to_dict() for hit in ws.search("Eiffel Tower", k=3)]
    direct = ws.ask(CITED, k=3)
    assert direct.citations and got["ask"]["answer"] == direct.text
    assert [(c["number"], c["doc_id"], c["start"], c["end"]) for c in got["ask"]["citations"]] == [
        (c.number, c.doc_id, c.start, c.end) for c in direct.citations]


# ---- stdio ------------------------------------------------------------------------------------------------
def test_sift_mcp_over_stdio(ws: Workspace) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "app", "mcp", "--index", str(ws.index_dir)],
                                   env=_env(), cwd=str(REPO))
    got = asyncio.run(_session(params, ws))
    assert got["tools"] == ["search", "ask", "classify", "list_documents", "get_document"]  # no --root: no sync
    _assert_same_as_workspace(got, ws)


def test_the_documented_desktop_config_starts_the_server(ws: Workspace) -> None:
    blocks = re.findall(r"```json\n(.*?)```", (REPO / "docs" / "mcp.md").read_text(encoding="utf-8"), re.DOTALL)
    config = next(json.loads(block) for block in blocks if "mcpServers" in block)
    sift = config["mcpServers"]["sift"]
    assert sift["args"] == ["mcp", "--index", "/path/to/index"]
    args = [str(ws.index_dir) if arg == "/path/to/index" else arg for arg in sift["args"]]
    got = asyncio.run(_session(StdioServerParameters(command=sift["command"], args=args, env=_env()), ws))
    assert got["search"]["hits"][0]["title"] == "paris"


NOISY = textwrap.dedent("""
    import os, sys, warnings
    from tqdm import tqdm
    import app.workspace

    search = app.workspace.Workspace.search

    def noisy(self, *args, **kwargs):  # everything that could write to stdout while a tool runs
        for _ in tqdm(range(2), file=sys.stdout, desc="NOISE from tqdm"):
            pass
        os.write(1, b"NOISE from file descriptor 1\\n")
        warnings.warn("NOISE from warnings")
        print("NOISE from print")  # last, unflushed: still in sys.stdout's buffer when the server stops
        return search(self, *args, **kwargs)

    app.workspace.Workspace.search = noisy
    from app.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


def _request(process: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()


def test_stdout_carries_only_the_protocol(ws: Workspace) -> None:
    env = {k: v for k, v in _env().items() if k != "PYTHONUNBUFFERED"}  # buffered, as an assistant starts it
    process = subprocess.Popen([sys.executable, "-c", NOISY, "mcp", "--index", str(ws.index_dir)], cwd=REPO,
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    try:
        _request(process, INITIALIZE)
        _request(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _request(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                           "params": {"name": "search", "arguments": {"query": "Eiffel Tower", "k": 1}}})
        lines = []
        while not lines or lines[-1].get("id") != 2:  # the answer to the call: the tool ran, noise and all
            line = process.stdout.readline()
            assert line, "the server closed stdout before answering"
            lines.append(json.loads(line))
        out, err = process.communicate(timeout=120)  # stdin closes: the server exits
    finally:
        process.kill()
    lines += [json.loads(line) for line in out.splitlines()]
    assert all(message["jsonrpc"] == "2.0" for message in lines)
    assert lines[-1]["result"]["structuredContent"]["hits"][0]["title"] == "paris"
    for noise in ("NOISE from print", "NOISE from file descriptor 1", "NOISE from tqdm", "NOISE from warnings"):
        assert noise.encode() in err, noise
    assert process.returncode == 0


def test_sift_mcp_refuses_a_root_that_does_not_exist(tmp_path: Path, capsys) -> None:
    assert main(["mcp", "--index", str(tmp_path / "idx"), "--root", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"sift: error: --root {tmp_path / 'nowhere'} does not exist: give a folder that does, nothing was served")


# ---- streamable HTTP (sift serve --mcp) -------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(ws: Workspace) -> Iterator[LiveServer]:
    state = ServerState(ws, api_key=KEY, mcp=True, allowed_hosts=("nas.local",),
                        upload_dir=ws.index_dir.parent / "uploads")
    with live_server(state) as live:
        yield live


def test_serve_mcp_over_streamable_http(server: LiveServer, ws: Workspace) -> None:
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=httpx2.Timeout(30, read=300))
    got = asyncio.run(_session(streamable_http_client(f"{server.url}/mcp", http_client=client), ws))
    assert got["tools"] == ["search", "ask", "classify", "list_documents", "get_document", "sync"]  # uploads root
    _assert_same_as_workspace(got, ws)


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({}, 401, "invalid_api_key"),
    ({"Authorization": "Bearer wrong"}, 401, "invalid_api_key"),
    ({"Authorization": f"Bearer {KEY}", "Host": "evil.example"}, 421, "host_not_allowed"),
    ({"Authorization": f"Bearer {KEY}", "Origin": "http://evil.example"}, 403, "origin_not_allowed"),
])
def test_mcp_is_behind_the_servers_checks(server: LiveServer, headers: dict[str, str], status: int,
                                          code: str) -> None:
    refused = httpx.post(f"{server.url}/mcp", json=INITIALIZE, headers={**ACCEPT, **headers})
    assert refused.status_code == status and refused.json()["error"]["code"] == code


def test_an_allowed_host_name_reaches_mcp(server: LiveServer) -> None:
    """The SDK's own Host check (loopback names only) is off: the server's --allowed-host list decides."""
    headers = {**ACCEPT, "Authorization": f"Bearer {KEY}", "Host": "nas.local:8000", "Origin": "http://nas.local"}
    answered = httpx.post(f"{server.url}/mcp", json=INITIALIZE, headers=headers)
    assert answered.status_code == 200 and answered.json()["result"]["serverInfo"]["name"] == "sift"


def test_mcp_is_served_only_when_asked(ws: Workspace) -> None:
    plain = TestClient(create_app(ServerState(ws)), base_url="http://127.0.0.1")
    assert plain.post("/mcp", json=INITIALIZE, headers=ACCEPT).status_code == 404
    parse = build_parser("serve").parse_args
    assert server_state(parse(["serve", "--mcp"]), ws).mcp and not server_state(parse(["serve"]), ws).mcp


def test_the_documented_python_client_gets_the_answer(ws: Workspace, capsys) -> None:
    text = (REPO / "docs" / "mcp.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)  # type: ignore[union-attr]
    question = re.search(r'"question": "(.*?)"', example).group(1)  # type: ignore[union-attr]
    with live_server(ServerState(ws, mcp=True, upload_dir=ws.index_dir.parent / "uploads")) as keyless:
        exec(example.replace("http://127.0.0.1:8000", keyless.url), {"__name__": "example"})  # noqa: S102
    assert capsys.readouterr().out == ws.ask(question).text + "\n"
