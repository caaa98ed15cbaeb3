"""sift's MCP tools through the SDK's own client, in memory: each tool against the Workspace verb it translates
into, and every refusal with the message the CLI prints."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import CORPUS
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult
from server_testkit import built_workspace

import app.mcp.tools as mcp_tools
from app.cli.main import main
from app.mcp import SiftTools, build_server
from app.mcp.tools import read_answer
from app.roots import Roots
from app.workspace import Workspace
from indexing.errors import SiftError
from pipelines.rag.answer import final_answer
from pipelines.rag.events import AskEvent, Token

QUESTION = "When was the Eiffel Tower finished?"
CITED = "What do cats do at night?"  # SmolLM2 answers it citing [1]
PARTLY_SUPPORTED = "What does Python emphasise?"  # ... and this one with sentences no passage supports
OFF_TOPIC = "What is the capital of Australia?"
READ_TOOLS = ["search", "ask", "classify", "list_documents", "get_document"]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four documents, a PDF that is not one (failed) and an archive no loader reads (unsupported)."""
    folder = tmp_path_factory.mktemp("mcp").resolve() / "docs"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"this is not a PDF")
    (folder / "archive.gz").write_bytes(b"\x1f\x8b not really")
    return folder


@pytest.fixture(scope="module")
def ws(docs: Path) -> Workspace:
    return built_workspace(docs.parent / "idx", docs)


@pytest.fixture(scope="module")
def server(ws: Workspace, docs: Path) -> MCPServer:
    return build_server(SiftTools(ws, Roots.of([docs])))


def call(server: MCPServer, tool: str, **arguments: Any) -> CallToolResult:
    """One tool call through a client connected in memory."""
    async def run() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    return asyncio.run(run())


def ok(server: MCPServer, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of a call that must succeed."""
    result = call(server, tool, **arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def refusal(server: MCPServer, tool: str, **arguments: Any) -> str:
    """The text of a call that must come back as a tool error."""
    result = call(server, tool, **arguments)
    assert result.is_error and result.structured_content is None
    return result.content[0].text  # type: ignore[union-attr]


def sift_error(verb: Any, *args: Any, **kwargs: Any) -> str:
    """The message a Workspace verb raises (the one ``sift: error:`` prints)."""
    with pytest.raises(SiftError) as raised:
        verb(*args, **kwargs)
    return str(raised.value)


def test_tools_are_listed_with_schemas_and_hints(server: MCPServer, ws: Workspace) -> None:
    async def listed(target: MCPServer) -> dict[str, Any]:
        async with Client(target) as client:
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    tools = asyncio.run(listed(server))
    assert list(tools) == [*READ_TOOLS, "sync"]
    for name in READ_TOOLS:
        assert tools[name].annotations.read_only_hint is True, name
    assert tools["sync"].annotations.read_only_hint is False and tools["sync"].annotations.destructive_hint is True
    for tool in tools.values():  # described, typed both ways, and strict about its arguments
        assert tool.description and tool.output_schema and tool.input_schema["additionalProperties"] is False
        assert all("description" in schema for schema in tool.input_schema["properties"].values()), tool.name
    assert tools["search"].input_schema["properties"]["mode"]["enum"] == ["dense", "bm25", "hybrid", None]
    assert list(asyncio.run(listed(build_server(SiftTools(ws))))) == READ_TOOLS  # no roots: nothing may be indexed


def test_search_gives_the_workspace_hits(server: MCPServer, ws: Workspace) -> None:
    got = ok(server, "search", query="Eiffel Tower", k=3, mode="hybrid")
    assert got["hits"] == [hit.to_dict() for hit in ws.search("Eiffel Tower", k=3, mode="hybrid")]
    assert got["hits"][0]["title"] == "paris" and (got["k"], got["mode"]) == (3, "hybrid")
    only_md = ok(server, "search", query="Eiffel Tower", source="*.md")
    assert only_md["hits"] and all(h["source"].endswith(".md") for h in only_md["hits"])


@pytest.mark.parametrize(("question", "k"), [(CITED, 3), (PARTLY_SUPPORTED, 5)])
def test_ask_is_the_workspace_answer(server: MCPServer, ws: Workspace, question: str, k: int) -> None:
    direct = ws.ask(question, k=k)
    if question == CITED:  # one question the small model answers with citations, so that comparison means something
        assert direct.citations
    got = ok(server, "ask", question=question, k=k)
    assert got["answer"] == direct.text and got["finish_reason"] == direct.finish_reason
    fields = ("number", "doc_id", "source", "title", "start", "end", "page")
    assert [{f: c[f] for f in fields} for c in got["citations"]] == [
        {f: c.to_dict()[f] for f in fields} for c in direct.citations]
    assert [c["label"] for c in got["citations"]] == [c.location.label if c.location else "" for c in direct.citations]
    assert got["unsupported"] == ([s.sentence for s in direct.support.unsupported] if direct.support else [])
    assert not got["refused"] and got["refusal_message"] is None


def test_a_follow_up_reads_the_history_as_the_workspace_does(server: MCPServer, ws: Workspace) -> None:
    first = ws.ask(QUESTION)
    follow_up = "What is it made of?"
    options = ws.ask_options()
    direct = final_answer(ws.converse(ws.thread([(QUESTION, first.text)], options), follow_up, options))
    got = ok(server, "ask", question=follow_up, history=[{"question": QUESTION, "answer": first.text}])
    assert (got["answer"], got["query"]) == (direct.text, direct.query)
    assert [c["doc_id"] for c in got["citations"]] == [c.doc_id for c in direct.citations]


def test_a_refusal_says_why_in_plain_words(server: MCPServer, ws: Workspace) -> None:
    direct = ws.ask(OFF_TOPIC)
    assert direct.refused and direct.refusal_reason == "low_evidence"
    got = ok(server, "ask", question=OFF_TOPIC)
    assert got["refused"] and got["answer"] == direct.text and got["finish_reason"] == "refused"
    assert got["refusal_reason"] == "low_evidence"
    assert got["refusal_message"] == "nothing in the indexed documents is close enough to this question to answer it"


def test_a_refusal_names_the_word_no_document_holds() -> None:
    from pipelines.rag import Answer
    from pipelines.rag.refusal import REFUSAL_TEXT

    raw = "The default compression level of lz4 is -6."
    answer = Answer("lz4's level?", REFUSAL_TEXT, raw, [], [], True, "ungrounded", 0.64, absent=("lz4",))
    got = mcp_tools.ask_result(answer)
    assert got.refusal_reason == "ungrounded" and got.refusal_message == (
        "the answer the model wrote cited none of the passages found and none of them supports it; "
        'no indexed document mentions "lz4"')
    gated = Answer("lz4's level?", REFUSAL_TEXT, REFUSAL_TEXT, [], [], True, "low_evidence", 0.3, absent=("lz4",))
    assert mcp_tools.ask_result(gated).refusal_message == (
        'nothing in the indexed documents is close enough to this question to answer it; no indexed document '
        'mentions "lz4"')


def test_classify_gives_the_workspace_predictions(server: MCPServer, ws: Workspace) -> None:
    texts = ["the cat purrs on the sofa", "knead the dough and bake it"]
    labels = {"animals": "pets and animals", "food": "cooking and baking"}
    got = ok(server, "classify", texts=texts, labels=labels)
    assert got["predictions"] == [{"text": t, **p.to_dict()} for t, p in zip(texts, ws.classify(texts, labels),
                                                                               strict=True)]
    assert [p["label"] for p in got["predictions"]] == ["animals", "food"]


@pytest.mark.slow
def test_classify_auto_gives_the_workspace_predictions_and_its_sample(server: MCPServer, ws: Workspace) -> None:
    from classify_testkit import LABELS, TEXTS, accuracy

    got = ok(server, "classify", texts=TEXTS, labels=LABELS, method="auto")
    direct = ws.classify_with(TEXTS, LABELS, method="auto")
    assert got["predictions"] == [{"text": t, **p.to_dict()} for t, p in zip(TEXTS, direct.predictions, strict=True)]
    assert accuracy([p["label"] for p in got["predictions"]]) >= 0.95
    assert got["auto"]["calls"] == 20 and [s["text"] for s in got["auto"]["sample"]] == [
        TEXTS[i] for i in direct.auto.sample]
    assert not got["auto"]["fallback"] and "the generator labelled 20 of 60 texts" in got["auto"]["summary"]


@pytest.mark.slow
def test_classify_passes_expand_to_the_workspace(server: MCPServer, ws: Workspace, expansions) -> None:
    texts = ["the cat purrs on the sofa", "knead the dough and bake it"]
    labels = {"animals": "pets and animals", "food": "cooking and baking"}
    got = ok(server, "classify", texts=texts, labels=labels, expand=2)
    assert [n for n, _, _ in expansions] == [2]
    assert got["predictions"] == [{"text": t, **p.to_dict()}
                                  for t, p in zip(texts, ws.classify(texts, labels, expand=2), strict=True)]


def test_list_documents_pages_and_filters_by_status(server: MCPServer, docs: Path) -> None:
    everything = ok(server, "list_documents")
    sources = [row["source"] for row in everything["documents"]]
    assert everything["total"] == 6 and sources == sorted(str(docs / name) for name in [*CORPUS, "broken.pdf",
                                                                                          "archive.gz"])
    page = ok(server, "list_documents", limit=2, offset=2)
    assert page["documents"] == everything["documents"][2:4] and page["total"] == 6
    failed = ok(server, "list_documents", status="failed")["documents"]
    assert len(failed) == 1 and failed[0]["source"] == str(docs / "broken.pdf") and failed[0]["doc_id"] is None
    assert "broken.pdf" in failed[0]["reason"]
    parsed = ok(server, "list_documents", status="parsed")
    assert parsed["total"] == 4 and all(row["doc_id"] and row["chunks"] >= 1 for row in parsed["documents"])


def test_get_document_opens_a_hit_and_a_citation_span(server: MCPServer, ws: Workspace, monkeypatch) -> None:
    hit = ws.search("Eiffel Tower", k=1)[0]
    record = ws.document(hit.doc_id)
    assert record is not None
    span = ok(server, "get_document", doc_id=hit.doc_id, start=hit.start, end=hit.end)
    assert span["text"] == record.text[hit.start:hit.end] == hit.text and not span["truncated"]
    place = ws.locate(hit.doc_id, hit.start, hit.end)
    assert place is not None and place.label == "", "a one-line document: no 'line 1' to show"
    assert (span["source"], span["length"], span["label"]) == (record.source, len(record.text), place.label)
    whole = ok(server, "get_document", doc_id=hit.doc_id)
    assert (whole["text"], whole["start"], whole["end"]) == (record.text, 0, len(record.text))

    monkeypatch.setattr(mcp_tools, "MAX_DOCUMENT_CHARS", 10)  # a long document comes in pages, and says so
    first = ok(server, "get_document", doc_id=hit.doc_id)
    assert first["truncated"] and (first["end"], first["text"]) == (10, record.text[:10])
    rest = ok(server, "get_document", doc_id=hit.doc_id, start=10, end=len(record.text))
    assert not rest["truncated"] and first["text"] + rest["text"] == record.text


@pytest.mark.parametrize(("tool", "arguments", "expected"), [
    ("search", {"query": "x", "mode": "fuzzy"}, lambda ws: sift_error(ws.search, "x", mode="fuzzy")),
    ("search", {"query": "x", "k": 0}, lambda ws: sift_error(ws.search, "x", k=0)),
    ("ask", {"question": "x", "mode": "fuzzy"}, lambda ws: sift_error(ws.ask, "x", mode="fuzzy")),
    ("ask", {"question": "x", "answer_length": "long"}, lambda ws: sift_error(ws.ask, "x", answer_length="long")),
    ("ask", {"question": "   "}, lambda ws: sift_error(ws.ask, "   ")),
    ("list_documents", {"status": "lost"}, lambda ws: sift_error(ws.file_statuses, "lost")),
    ("classify", {"texts": [" "], "labels": {"a": "b", "c": "d"}},
     lambda ws: sift_error(ws.classify, [" "], {"a": "b", "c": "d"})),
    ("classify", {"texts": ["x"], "labels": {"a": "b", "c": "d"}, "expand": 99},
     lambda ws: sift_error(ws.classify, ["x"], {"a": "b", "c": "d"}, expand=99)),
])
def test_bad_input_is_refused_with_the_sift_message(server: MCPServer, ws: Workspace, tool, arguments,
                                                     expected) -> None:
    message = expected(ws)
    assert refusal(server, tool, **arguments) == message and message


def test_unknown_document_and_span_outside_it(server: MCPServer, ws: Workspace) -> None:
    assert refusal(server, "get_document", doc_id="no-such-doc") == (
        f"no document 'no-such-doc' in the index at {ws.index_dir}: take a doc_id from a search hit, a citation or "
        "list_documents")
    doc_id = ws.search("cats", k=1)[0].doc_id
    length = len(ws.document(doc_id).text)  # type: ignore[union-attr]
    assert refusal(server, "get_document", doc_id=doc_id, start=5, end=length + 1) == (
        f"start 5 and end {length + 1} are outside document {doc_id!r}, whose text has {length:,} characters: "
        f"give 0 <= start <= end <= {length}")


def test_an_argument_no_tool_takes_is_refused_by_name(server: MCPServer) -> None:
    message = refusal(server, "search", query="cats", top_k=3)
    assert "top_k" in message and "Extra inputs are not permitted" in message


def test_a_missing_index_is_the_cli_error(tmp_path: Path, capsys) -> None:
    empty = build_server(SiftTools(Workspace(tmp_path / "none")))
    assert main(["search", "cats", "--index", str(tmp_path / "none")]) == 1
    printed = capsys.readouterr().err.strip()
    for tool, arguments in (("search", {"query": "cats"}), ("ask", {"question": "cats?"}),
                            ("get_document", {"doc_id": "x"})):
        assert f"sift: error: {refusal(empty, tool, **arguments)}" == printed, tool
    assert ok(empty, "list_documents") == {"total": 0, "offset": 0, "limit": 100, "documents": []}


def test_sync_indexes_only_under_the_roots(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "owls.md").write_text("# Owls\n\nOwls hunt at night and turn their heads far around.\n", encoding="utf-8")
    (outside / "secret.txt").write_text("The vault combination is 31-41-59.\n", encoding="utf-8")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    ws = Workspace(tmp_path / "idx")
    server = build_server(SiftTools(ws, Roots.of([root])))

    for path in (outside / "secret.txt", root / "link.txt", root / ".." / "outside"):
        expected = sift_error(Roots.of([root]).check, [str(path)])
        assert refusal(server, "sync", paths=[str(path)]) == expected and str(path) in expected
    assert not ws.exists(), "a refused sync reads and writes nothing"

    dry = ok(server, "sync", paths=[str(root / "owls.md")], dry_run=True)
    assert dry["dry_run"] and dry["added"] == 1 and not ws.exists()
    done = ok(server, "sync", paths=[str(root / "owls.md")])
    assert done["added"] == 1 and done["files"] == [
        {"path": str(root / "owls.md"), "status": "parsed", "reason": "", "documents": 1}]
    assert ok(server, "search", query="owls at night")["hits"][0]["title"] == "Owls"


def test_a_cancelled_ask_stops_the_generation() -> None:
    """A client that cancels (or leaves) mid-answer ends the stream after the token being made: the events are
    closed, and no later event is asked for."""
    reading, release, more, closed = (threading.Event() for _ in range(4))

    def events() -> Iterator[AskEvent]:
        try:
            yield Token("The Eiffel ")
            reading.set()
            release.wait(60)  # the model making the next token
            yield Token("Tower ")
            more.set()
            yield Token("was finished in 1889.")
        finally:
            closed.set()

    async def cancel_mid_answer() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(read_answer, events())
            await anyio.to_thread.run_sync(reading.wait)
            group.cancel_scope.cancel()
            release.set()

    anyio.run(cancel_mid_answer)
    assert closed.is_set() and not more.is_set()
