"""`sift serve` through real HTTP: sift's routes with httpx, the OpenAI-compatible ones with the `openai` package."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from conftest import CORPUS
from server_testkit import LiveServer, built_workspace, live_server, rooted_state

from app.cli.main import main
from app.server import ServerState
from app.workspace import Workspace
from indexing.errors import ConfigError

QUESTION = "When was the Eiffel Tower finished?"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve") / "docs"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def ws(docs: Path) -> Workspace:
    return built_workspace(docs.parent / "idx", docs)


@pytest.fixture(scope="module")
def server(ws: Workspace, docs: Path) -> Iterator[LiveServer]:
    state = rooted_state(ws, docs.parent, upload_dir=docs.parent / "uploads")  # syncs go under docs.parent
    with live_server(state) as live:
        yield live


def test_search_route_gives_the_cli_json(server: LiveServer, ws: Workspace, capsys) -> None:
    body = {"query": "Eiffel Tower", "k": 3, "mode": "hybrid"}
    got = server.client().post("/v1/search", json=body)
    assert main(["search", "Eiffel Tower", "--index", str(ws.index_dir), "-k", "3", "--json"]) == 0
    assert got.status_code == 200 and got.json() == json.loads(capsys.readouterr().out)
    assert got.json()["hits"][0]["title"] == "paris"


def test_health_info_documents_models(server: LiveServer, ws: Workspace) -> None:
    client = server.client()
    assert client.get("/healthz").json() == {"status": "ok", "index": True}
    info = client.get("/v1/info").json()
    assert info["documents"] == 4 and info["manifest"]["embedding_model"] == ws.model_name
    listed = client.get("/v1/documents", params={"limit": 2}).json()
    assert listed["total"] == 4 and len(listed["documents"]) == 2
    ids = [m.id for m in openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused").models.list().data]
    assert ids == ["smollm2-135m", ws.model_name]
    assert client.get("/docs").status_code == 200 and "/v1/chat/completions" in client.get("/openapi.json").text


def test_openai_embeddings_are_the_index_model_vectors(server: LiveServer, ws: Workspace) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    texts = ["cats purr", "bread rises in the oven"]
    got = client.embeddings.create(model="text-embedding-3-small", input=texts)  # base64 on the wire
    vectors = np.array([d.embedding for d in got.data], dtype=np.float32)
    assert vectors.shape == (2, 384) and got.model == ws.model_name
    np.testing.assert_allclose(vectors, ws.embed(texts), atol=1e-6)
    floats = client.embeddings.create(model="x", input="cats purr", encoding_format="float")
    np.testing.assert_allclose(floats.data[0].embedding, ws.embed(["cats purr"])[0], atol=1e-6)
    assert got.usage.prompt_tokens > 0


def test_openai_chat_answers_as_the_workspace_does(server: LiveServer, ws: Workspace) -> None:
    direct = ws.ask(QUESTION)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    extra = reply.model_extra or {}
    assert reply.choices[0].message.content == direct.text and not extra["refused"]
    assert extra["citations"] == [c.to_dict() for c in direct.citations]
    assert reply.model == "smollm2-135m" and reply.usage.completion_tokens > 0

    pieces, last = [], None
    for chunk in client.chat.completions.create(model="gpt-4o", stream=True,
                                                messages=[{"role": "user", "content": QUESTION}]):
        pieces.append(chunk.choices[0].delta.content or "")
        last = chunk
    assert "".join(pieces) == direct.text == reply.choices[0].message.content, "the deltas are the answer"
    assert last is not None and last.choices[0].finish_reason == "stop" == reply.choices[0].finish_reason
    assert (last.model_extra or {})["citations"] == [c.to_dict() for c in direct.citations]


def test_ask_route_streams_events_then_the_answer(server: LiveServer, ws: Workspace) -> None:
    direct = ws.ask(QUESTION).to_dict()
    with server.client().stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [block for block in response.read().decode().split("\n\n") if block]
    parsed = [(b.split("\n")[0].removeprefix("event: "), json.loads(b.split("\n")[1].removeprefix("data: ")))
              for b in events]
    names = [name for name, _ in parsed]
    assert names[0] == "passages" and names[-1] == "answer" and set(names[1:-1]) == {"token"}
    assert parsed[0][1]["query"] == QUESTION and parsed[0][1]["hits"][0]["title"] == "paris"
    assert "".join(d["text"] for _, d in parsed[1:-1]) == direct["answer"], "the tokens are the checked answer"
    final = parsed[-1][1]
    assert final["answer"] == direct["answer"] and final["citations"] == direct["citations"]
    plain = server.client().post("/v1/ask", json={"question": QUESTION}).json()
    assert plain["answer"] == direct["answer"] and plain["support"] == direct["support"]


def test_classify_route_is_the_workspace_verb(server: LiveServer, ws: Workspace) -> None:
    labels = {"animals": "cats, dogs and other animals", "food": "cooking, baking and bread"}
    texts = ["the kitten purred", "flour and yeast make the dough"]
    got = server.client().post("/v1/classify", json={"texts": texts, "labels": labels}).json()
    assert [p["label"] for p in got["predictions"]] == ["animals", "food"]
    assert [p["label"] for p in got["predictions"]] == [p.label for p in ws.classify(texts, labels)]


@pytest.mark.slow
def test_classify_route_auto_is_the_workspace_verb_with_its_sample_and_corrections(server: LiveServer,
                                                                                  ws: Workspace) -> None:
    from classify_testkit import LABELS, TEXTS, accuracy

    body = {"texts": TEXTS, "labels": LABELS, "method": "auto", "sample": 10}
    got = server.client().post("/v1/classify", json=body).json()
    direct = ws.classify_with(TEXTS, LABELS, method="auto", sample=10)
    assert got["predictions"] == [{"text": t, **p.to_dict()} for t, p in zip(TEXTS, direct.predictions, strict=True)]
    assert accuracy([p["label"] for p in got["predictions"]]) >= 0.95
    assert got["auto"]["calls"] == 10 and got["auto"]["sample_texts"] == [TEXTS[i] for i in direct.auto.sample]
    first = got["auto"]["sample_texts"][0]
    wrong = "sports" if got["auto"]["sample_labels"][0] == "cooking" else "cooking"
    fixed = server.client().post("/v1/classify", json={**body, "corrections": {first: wrong}}).json()
    assert fixed["predictions"][TEXTS.index(first)]["label"] == wrong and fixed["auto"]["corrected"] == 1
    bad = server.client().post("/v1/classify", json={**body, "corrections": {first: "music"}})
    assert bad.status_code == 422 and "not in the label set: music" in bad.json()["error"]["message"]


@pytest.mark.slow
def test_classify_route_passes_expand_to_the_workspace(server: LiveServer, ws: Workspace, expansions) -> None:
    labels = {"animals": "cats, dogs and other animals", "food": "cooking, baking and bread"}
    texts = ["the kitten purred", "flour and yeast make the dough"]
    got = server.client().post("/v1/classify", json={"texts": texts, "labels": labels, "expand": 2})
    assert got.status_code == 200 and [n for n, _, _ in expansions] == [2]
    assert got.json()["predictions"] == [{"text": t, **p.to_dict()}
                                         for t, p in zip(texts, ws.classify(texts, labels, expand=2), strict=True)]
    bad = server.client().post("/v1/classify", json={"texts": texts, "labels": labels, "expand": -1})
    assert bad.status_code == 422 and "expand (--expand) must be a whole number" in bad.json()["error"]["message"]


def test_topics_route_says_none_saved(server: LiveServer) -> None:
    got = server.client().get("/v1/topics")
    assert got.status_code == 404 and "POST /v1/topics" in got.json()["error"]["message"]


def test_upload_search_and_delete(server: LiveServer, docs: Path) -> None:
    client = server.client()
    text = "Quokkas are small marsupials that live on Rottnest Island near Perth."
    up = client.post("/v1/documents", files={"file": ("quokka.md", text.encode(), "text/markdown")})
    assert up.status_code == 200 and up.json()["report"]["counts"]["added"] == 1
    saved = Path(up.json()["path"])
    assert saved == (docs.parent / "uploads" / "quokka.md").resolve() and saved.read_text() == text
    hits = client.post("/v1/search", json={"query": "quokka marsupial Rottnest", "k": 1}).json()["hits"]
    assert hits[0]["source"] == str(saved)
    gone = client.delete("/v1/documents", params={"path": str(saved)})
    assert gone.json()["removed_documents"] == 1
    hits = client.post("/v1/search", json={"query": "quokka marsupial Rottnest", "k": 5}).json()["hits"]
    assert str(saved) not in {h["source"] for h in hits}


def test_sync_route_indexes_a_folder(server: LiveServer, docs: Path) -> None:
    extra = docs.parent / "more"
    extra.mkdir(exist_ok=True)
    (extra / "owl.txt").write_text("Owls are birds of prey that hunt at night with silent flight.\n")
    report = server.client().post("/v1/documents/sync", json={"paths": [str(extra)]}).json()
    assert report["counts"]["added"] == 1
    hits = server.client().post("/v1/search", json={"query": "silent owl flight", "k": 1}).json()["hits"]
    assert hits[0]["title"] == "owl"


@pytest.mark.parametrize("name", ["../../evil.md", "/tmp/evil.md", "sub/evil.md", "..\\evil.md", ".hidden.md"])
def test_upload_names_cannot_leave_the_upload_folder(server: LiveServer, docs: Path, name: str) -> None:
    got = server.client().post("/v1/documents", files={"file": (name, b"# evil\n", "text/markdown")})
    assert got.status_code == 422 and "not a plain file name" in got.json()["error"]["message"]
    assert not any(p.name == "evil.md" for p in docs.parent.parent.rglob("evil.md"))


@pytest.mark.parametrize(
    "route,body,needle",
    [
        ("/v1/search", {"query": "x", "k": 0}, "k: Input should be greater than or equal to 1"),
        ("/v1/search", {"query": "x", "mode": "fuzzy"}, "mode: Input should be 'dense', 'bm25' or 'hybrid'"),
        ("/v1/search", {"query": "x", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ("/v1/search", {"query": "x", "where": {"1x": "y"}}, "1x"),
        ("/v1/ask", {"question": ""}, "question: String should have at least 1 character"),
        ("/v1/ask", {"question": "Why?", "answer_length": "long"}, "answer_length: Input should be 'auto', 'brief'"),
        ("/v1/chat/completions", {"messages": [{"role": "assistant", "content": "hi"}]}, "last message"),
        ("/v1/embeddings", {"input": [[1, 2, 3]]}, "token arrays are not supported"),
        ("/v1/embeddings", {"input": "x", "dimensions": 12}, "gives 384, not 12"),
    ],
)
def test_bad_requests_are_422_with_the_reason(server: LiveServer, route: str, body: dict, needle: str) -> None:
    got = server.client().post(route, json=body)
    assert got.status_code == 422, got.text
    assert needle in got.json()["error"]["message"]


def test_missing_index_is_404_with_the_cli_message(tmp_path: Path) -> None:
    with live_server(ServerState(Workspace(tmp_path / "none"))) as live:
        got = live.client().post("/v1/search", json={"query": "x"})
    assert got.status_code == 404 and got.json()["error"]["message"].startswith(f"no index at {tmp_path / 'none'}")


def test_api_key_is_required_when_set(ws: Workspace) -> None:
    with live_server(ServerState(ws, api_key="s3cret")) as live:
        assert live.client().get("/healthz").status_code == 200
        for key in (None, "wrong"):
            got = live.client(key).post("/v1/search", json={"query": "cats"})
            assert got.status_code == 401 and got.json()["error"]["code"] == "invalid_api_key"
        assert live.client("s3cret").post("/v1/search", json={"query": "cats"}).status_code == 200
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong").embeddings.create(model="m", input="x")
        good = openai.OpenAI(base_url=f"{live.url}/v1", api_key="s3cret").embeddings.create(model="m", input="x")
        assert len(good.data[0].embedding) == 384


def test_request_size_limits_are_413(ws: Workspace, tmp_path: Path) -> None:
    state = ServerState(ws, max_json_bytes=4096, max_upload_mb=1, upload_dir=tmp_path / "up")
    with live_server(state) as live:
        big = {"query": "x" * 3000, "where": {"a": "y" * 3000}}
        declared = live.client().post("/v1/search", json=big)
        assert declared.status_code == 413 and declared.json()["error"]["code"] == "request_too_large"
        streamed = live.client().post("/v1/search", content=iter([json.dumps(big).encode()]),
                                      headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        upload = live.client().post("/v1/documents", files={"file": ("big.txt", b"a " * 600_000, "text/plain")})
        assert upload.status_code == 413 and not (tmp_path / "up" / "big.txt").exists()


def test_non_loopback_bind_needs_a_key(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.server.security import check_bind

    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "key")
    with pytest.raises(ConfigError, match="SIFT_API_KEY"):
        check_bind("0.0.0.0", None)
    monkeypatch.delenv("SIFT_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--index", "/nonexistent"]) == 1
    assert "set SIFT_API_KEY" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_watch_keeps_the_served_index_live(tmp_path: Path) -> None:
    """`sift serve --watch DIR` in a subprocess: a file written into DIR becomes searchable, a deleted one goes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx
    from server_testkit import free_port

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "cats.md").write_text(CORPUS["cats.md"], encoding="utf-8")
    port = free_port()
    sift = Path(sys.executable).with_name("sift")
    proc = subprocess.Popen([str(sift), "serve", "--index", str(tmp_path / "idx"), "--port", str(port),
                             "--watch", str(folder)], stderr=subprocess.PIPE, env={**os.environ})

    def sources(query: str) -> set[str]:
        got = httpx.post(f"http://127.0.0.1:{port}/v1/search", json={"query": query, "k": 5, "mode": "bm25"})
        return {h["source"] for h in got.json().get("hits", [])} if got.status_code == 200 else set()

    def wait_for(check, seconds: float = 90) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if check():
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False

    try:
        cats = str((folder / "cats.md").resolve())
        assert wait_for(lambda: cats in sources("cats purr")), "the initial sync did not reach the server"
        owl = folder / "owl.txt"
        owl.write_text("Owls hunt at night with silent flight.\n", encoding="utf-8")
        assert wait_for(lambda: str(owl.resolve()) in sources("owls silent flight"))
        (folder / "cats.md").unlink()
        assert wait_for(lambda: cats not in sources("cats purr"))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def test_searches_answer_while_a_sync_is_being_written(server: LiveServer, docs: Path) -> None:
    """A long sync through the server never blocks a search of the same index: reads use a committed snapshot."""
    import threading
    import time

    folder = docs.parent / "many"
    folder.mkdir(exist_ok=True)
    for n in range(150):
        (folder / f"note{n:03d}.md").write_text(f"# Note {n}\n\nA harbour crane lifted crate {n} onto the quay.\n")
    done = threading.Event()
    result: dict = {}

    def sync() -> None:
        result["report"] = server.client().post("/v1/documents/sync", json={"paths": [str(folder)]}).json()
        done.set()

    thread = threading.Thread(target=sync)
    thread.start()
    answered_during = 0
    while not done.is_set():
        got = server.client().post("/v1/search", json={"query": "Eiffel Tower", "k": 1})
        assert got.status_code == 200 and got.json()["hits"][0]["title"] == "paris"
        answered_during += not done.is_set()
        time.sleep(0.05)
    thread.join()
    assert result["report"]["counts"]["added"] == 150
    assert answered_during >= 3, "searches waited for the sync instead of reading the committed index"
