"""Admission control for the generator: a bounded FIFO queue; past it, 429 with Retry-After at once.

The queue is tested on its own with real threads (waiting on states, never on time), then behind a live server
whose Workspace answers from a stand-in generator that streams until its client leaves, then in the MCP ``ask``
tool and on the Ask page.
"""

from __future__ import annotations

import gc
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from server_testkit import LiveServer, live_server
from streamlit.testing.v1 import AppTest
from ui_testkit import page_app

from app.admission import FIRST_GUESS_S, Admission, Admitted, admission_for
from app.cli.main import build_parser
from app.cli.serve import server_state
from app.mcp import SiftTools
from app.server import ServerState
from app.workspace import Workspace
from indexing.errors import BusyError, ConfigError
from pipelines.rag.events import AskEvent, Token

LIMIT_S = 60  # only turns a hang into a failure


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait for a state; the limit only turns a hang into a failure."""
    deadline = time.monotonic() + LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {LIMIT_S} s")
        time.sleep(0.01)


# ---------------------------------------------------------------------------------------------
# The queue


def test_tickets_are_served_in_the_order_they_were_taken() -> None:
    gate = Admission(max_queue=6)
    first = gate.acquire()
    tickets = [gate.acquire() for _ in range(6)]
    served: list[int] = []

    def take_turn(n: int) -> None:
        assert tickets[n].wait(timeout=LIMIT_S)
        served.append(n)
        tickets[n].release()

    threads = [threading.Thread(target=take_turn, args=(n,)) for n in reversed(range(6))]  # waiting out of order
    for thread in threads:
        thread.start()
    assert first.wait(0) and [t.ahead for t in tickets] == [1, 2, 3, 4, 5, 6] and served == []
    first.release()
    for thread in threads:
        thread.join(timeout=LIMIT_S)
    assert served == [0, 1, 2, 3, 4, 5] and gate.size == 0


def test_past_the_bound_a_request_is_refused_at_once_with_how_many_are_ahead() -> None:
    gate = Admission(max_queue=2)
    held = [gate.acquire() for _ in range(3)]
    with pytest.raises(BusyError, match=r"busy: 3 requests ahead \(1 answering, 2 waiting, the most --max-queue "
                                        r"allows\); retry in \d+ s") as info:
        gate.acquire()
    assert info.value.ahead == 3 and 1 <= info.value.retry_after_s <= FIRST_GUESS_S
    held[2].release()
    gate.acquire()  # a place freed: admitted again


def test_zero_max_queue_refuses_whenever_one_is_answering() -> None:
    gate = Admission(max_queue=0)
    with gate.acquire():
        with pytest.raises(BusyError):
            gate.acquire()
    assert gate.acquire().wait(0)


def test_a_cancelled_ticket_leaves_the_queue() -> None:
    gate = Admission(max_queue=3)
    first, second, third = gate.acquire(), gate.acquire(), gate.acquire()
    failed: list[BaseException] = []

    def wait_in_vain() -> None:
        try:
            second.wait(timeout=LIMIT_S)
        except RuntimeError as exc:
            failed.append(exc)

    waiter = threading.Thread(target=wait_in_vain)
    waiter.start()
    assert third.ahead == 2
    second.release()  # its client left while it waited
    waiter.join(timeout=LIMIT_S)
    assert [str(e) for e in failed] == ["this ticket was released before its turn came"]
    assert third.ahead == 1 and gate.size == 2
    first.release()
    assert third.wait(timeout=LIMIT_S) and third.ahead == 0


def test_the_retry_estimate_follows_the_answers_timed() -> None:
    gate = Admission(max_queue=0)
    ticket = gate.acquire()
    with pytest.raises(BusyError) as before:
        gate.acquire()
    assert before.value.retry_after_s == FIRST_GUESS_S  # nothing timed yet: the first guess
    ticket.release()  # answered in a moment: the mean drops
    ticket = gate.acquire()
    with pytest.raises(BusyError) as after:
        gate.acquire()
    assert 1 <= after.value.retry_after_s < FIRST_GUESS_S


@pytest.mark.parametrize("value", [-1, 1.5, "8", True])
def test_max_queue_must_be_a_whole_number_of_zero_or_more(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"--max-queue must be a whole number, 0 or more"):
        Admission(max_queue=value)


# ---------------------------------------------------------------------------------------------
# The events hold the ticket until they end


class Stream:
    """A generator of tokens that notes whether it was closed."""

    def __init__(self, n: int | None = 2, fail_at: int | None = None) -> None:
        self.closed = False
        self.n, self.fail_at = n, fail_at

    def __iter__(self) -> Iterator[AskEvent]:
        try:
            i = 0
            while self.n is None or i < self.n:
                if i == self.fail_at:
                    raise ValueError("generation failed")
                yield Token(f"piece {i} ")
                i += 1
        finally:
            self.closed = True


def test_read_to_the_end_gives_the_place_back() -> None:
    gate = Admission(max_queue=0)
    assert [e.text for e in Admitted(iter(Stream()), gate.acquire())] == ["piece 0 ", "piece 1 "]  # type: ignore[union-attr]
    assert gate.size == 0


def test_closed_early_stops_the_generation_and_gives_the_place_back() -> None:
    gate, stream = Admission(max_queue=0), Stream(n=None)
    events = Admitted(iter(stream), gate.acquire())
    next(events)
    events.close()
    assert stream.closed and gate.size == 0


def test_a_failed_generation_gives_the_place_back() -> None:
    gate = Admission(max_queue=0)
    with pytest.raises(ValueError, match="generation failed"):
        list(Admitted(iter(Stream(fail_at=1)), gate.acquire()))
    assert gate.size == 0


def test_an_abandoned_stream_gives_the_place_back_once_collected() -> None:
    gate = Admission(max_queue=0)
    events = Admitted(iter(Stream(n=None)), gate.acquire())
    next(events)
    del events
    gc.collect()
    assert gate.size == 0


# ---------------------------------------------------------------------------------------------
# The server: /v1/ask, /v1/chat/completions and /v1/completions


class Generator:
    """Stands in for ``Workspace.converse``: each answer streams tokens (one per 10 ms, as a model would) until
    its client leaves, and notes which answers started, how many tokens each produced and which were closed
    (a stream closed before its first token never starts, so it is not noted as closed)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.closed: list[str] = []
        self.produced: Counter[str] = Counter()

    def converse(self, thread: list[Any], question: str, options: Any = None, **_: Any) -> Iterator[AskEvent]:
        self.started.append(question)

        def tokens() -> Iterator[AskEvent]:
            try:
                while True:
                    self.produced[question] += 1
                    yield Token(f"{question} ")
                    time.sleep(0.01)
            finally:
                self.closed.append(question)

        return tokens()


@pytest.fixture()
def generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, Generator]:
    ws, fake = Workspace(tmp_path / "index"), Generator()
    monkeypatch.setattr(ws, "exists", lambda: True)
    monkeypatch.setattr(ws, "converse", fake.converse)
    return ws, fake


CHAT = "/v1/chat/completions"


def chat(question: str) -> dict[str, Any]:
    return {"model": "sift", "messages": [{"role": "user", "content": question}], "stream": True}


class Client:
    """One streaming chat client on its own thread: reads until told to leave, then closes its connection."""

    def __init__(self, server: LiveServer, question: str) -> None:
        self.server, self.question = server, question
        self.status: int | None = None
        self.content = ""
        self.reading, self.leave = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=LIMIT_S) as client, \
                client.stream("POST", CHAT, json=chat(self.question)) as response:
            self.status = response.status_code
            for line in response.iter_lines():
                if self.question in line:
                    self.content += self.question
                    self.reading.set()
                    if self.leave.wait(timeout=LIMIT_S):
                        return  # leaving the block closes the connection mid-answer

    def go(self) -> None:
        self.leave.set()
        self.thread.join(timeout=LIMIT_S)


def test_a_third_ask_gets_429_with_retry_after_while_two_are_served_and_a_client_that_leaves_frees_its_place(
    generator: tuple[Workspace, Generator],
) -> None:
    ws, fake = generator
    state = ServerState(ws, max_queue=1)
    with live_server(state) as server:
        first = Client(server, "first")
        wait_for(first.reading.is_set, "the first answer to stream")
        second = Client(server, "second")
        wait_for(lambda: state.admission.size == 2, "the second ask to wait in the queue")
        with httpx.Client(base_url=server.url, timeout=LIMIT_S) as client:
            for route, body in [(CHAT, chat("third")), ("/v1/ask", {"question": "third", "stream": True}),
                                ("/v1/completions", {"model": "sift", "prompt": "third", "stream": True}),
                                ("/v1/ask", {"question": "third"})]:
                reply = client.post(route, json=body)
                assert reply.status_code == 429, route
                assert 1 <= int(reply.headers["Retry-After"]) <= FIRST_GUESS_S
                assert reply.json()["error"]["type"] == "BusyError"
                assert "2 requests ahead" in reply.json()["error"]["message"]
        assert fake.started == ["first"], "the waiting ask has not started its retrieval nor generation"
        first.go()  # the first client leaves mid-answer
        wait_for(lambda: "first" in fake.closed, "the first generation to be closed")
        wait_for(second.reading.is_set, "the second answer to stream")
        fourth = Client(server, "fourth")  # the place the first freed: admitted, and waiting
        wait_for(lambda: state.admission.size == 2, "the fourth ask to wait in the queue")
        second.go()
        wait_for(fourth.reading.is_set, "the fourth answer to stream")
        fourth.go()
        wait_for(lambda: state.admission.size == 0, "every place to be given back")
    assert (first.status, second.status, fourth.status) == (200, 200, 200)
    assert fake.started == ["first", "second", "fourth"] and sorted(fake.closed) == ["first", "fourth", "second"]


@pytest.mark.parametrize(("route", "body"), [
    (CHAT, chat("impatient")),
    ("/v1/ask", {"question": "impatient"}),
    ("/v1/completions", {"model": "sift", "prompt": "impatient", "stream": True}),
])
def test_a_client_that_leaves_while_queued_gives_its_place_back_at_once(
    generator: tuple[Workspace, Generator], route: str, body: dict[str, Any],
) -> None:
    ws, fake = generator
    state = ServerState(ws, max_queue=1)
    with live_server(state) as server:
        first = Client(server, "first")
        wait_for(first.reading.is_set, "the first answer to stream")
        with httpx.Client(base_url=server.url, timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
            client.post(route, json=body)  # queued behind the first; gives up and disconnects
        # While the first answer still streams, the place is free again: a new ask is admitted, not refused.
        wait_for(lambda: state.admission.size == 1, "the impatient ask to leave the queue")
        second = Client(server, "second")
        wait_for(lambda: state.admission.size == 2, "the second ask to wait in the queue")
        assert not first.leave.is_set() and "first" not in fake.closed
        first.go()
        wait_for(second.reading.is_set, "the second answer to stream")
        second.go()
        wait_for(lambda: state.admission.size == 0, "every place to be given back")
    assert fake.started == ["first", "second"], "the impatient ask never reached retrieval nor generation"
    assert second.status == 200


@pytest.mark.parametrize(("route", "body"), [
    (CHAT, {**chat("unstreamed"), "stream": False}),
    ("/v1/ask", {"question": "unstreamed"}),
    ("/v1/completions", {"model": "sift", "prompt": "unstreamed"}),
])
def test_a_client_that_leaves_before_its_whole_answer_stops_the_generation(
    generator: tuple[Workspace, Generator], route: str, body: dict[str, Any],
) -> None:
    # The stand-in model never finishes on its own: only a client that is seen leaving can end this answer.
    ws, fake = generator
    state = ServerState(ws, max_queue=1)
    with live_server(state) as server:
        with httpx.Client(base_url=server.url, timeout=1.0) as client, pytest.raises(httpx.ReadTimeout):
            client.post(route, json=body)  # waits for the whole answer, gives up after a second
        wait_for(lambda: "unstreamed" in fake.closed, "the generation to be stopped")
        wait_for(lambda: state.admission.size == 0, "the place to be given back")
        produced = fake.produced["unstreamed"]
        time.sleep(0.5)
        assert fake.produced["unstreamed"] == produced, "nothing is generated after the stop"
        after = Client(server, "after")  # the model is free for the next request
        wait_for(after.reading.is_set, "the next answer to stream")
        after.go()
    assert fake.started == ["unstreamed", "after"]


def test_a_classification_by_the_generator_whose_client_leaves_while_queued_gives_its_place_back(
    generator: tuple[Workspace, Generator], monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws, fake = generator
    calls: list[str] = []
    monkeypatch.setattr(ws, "classify_with", lambda *a, **k: calls.append("classified"))
    state = ServerState(ws, max_queue=1)
    with live_server(state) as server:
        first = Client(server, "first")
        wait_for(first.reading.is_set, "the first answer to stream")
        body = {"texts": ["a text"], "labels": {"a": "an a", "b": "a b"}, "method": "generate"}
        with httpx.Client(base_url=server.url, timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
            client.post("/v1/classify", json=body)
        wait_for(lambda: state.admission.size == 1, "the classification to leave the queue")
        first.go()
        wait_for(lambda: state.admission.size == 0, "every place to be given back")
    assert calls == [], "nothing was labelled for a client that had gone"


def test_sift_serve_max_queue_sets_the_bound(tmp_path: Path) -> None:
    args = build_parser("serve").parse_args(["serve", "--index", str(tmp_path / "index"), "--max-queue", "3"])
    state = server_state(args, Workspace(tmp_path / "index"))
    assert state.max_queue == 3 and state.admission.max_queue == 3
    default = build_parser("serve").parse_args(["serve"])
    assert default.max_queue == 8


def test_a_negative_max_queue_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--max-queue must be a whole number, 0 or more, got -1"):
        ServerState(Workspace(tmp_path / "index"), max_queue=-1)


# ---------------------------------------------------------------------------------------------
# MCP ask and the Ask page share the Workspace's queue


def test_mcp_ask_past_the_bound_is_refused(generator: tuple[Workspace, Generator]) -> None:
    ws, fake = generator
    with admission_for(ws, 0).acquire():
        with pytest.raises(BusyError, match="1 requests ahead"):
            anyio.run(lambda: SiftTools(ws).ask("anything"))
    assert fake.started == []


def test_mcp_ask_cancelled_while_waiting_leaves_the_queue(generator: tuple[Workspace, Generator]) -> None:
    ws, fake = generator
    gate = admission_for(ws, 1)
    held = gate.acquire()

    async def cancel_while_waiting() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(SiftTools(ws).ask, "waiting")
            while gate.size < 2:
                await anyio.sleep(0.01)
            tasks.cancel_scope.cancel()  # the client went away

    anyio.run(cancel_while_waiting)
    assert gate.size == 1 and fake.started == []
    held.release()


def test_the_ask_page_says_busy_and_how_many_are_ahead(
    generator: tuple[Workspace, Generator], monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.ui.ask_page as ask_page

    ws, fake = generator
    monkeypatch.setattr(ask_page, "workspace", lambda: ws)
    with admission_for(ws, 0).acquire():
        app: AppTest = page_app("app.ui.ask_page").run()
        app.chat_input[0].set_value("Where is the Eiffel Tower?").run()
    assert not app.exception and not app.error
    (warning,) = [w.value for w in app.warning]
    assert re.fullmatch(r"Busy: 1 ahead of you, and no more may wait\. Ask again in about \d+ s\.", warning)
    assert fake.started == []
