"""TTFT of the RAG pipeline against llama.cpp called directly with the same prompt, in one run.

The pipeline's time to first token covers everything a user waits for: the hybrid search, the
dense search of the evidence gate, packing passages with the tokenizer, rendering the chat
template and llama.cpp's prompt evaluation. The baseline is ``Llama.create_completion`` on the
very prompt the pipeline built, with the same decoding options and a cleared KV cache, so the
ratio is the pipeline's overhead (target ≤ 1.05). Runs alternate between the two to share any
drift in machine load; medians are reported.

Usage:
    python bench/bench_rag.py                       # tiny built-in corpus indexed into a temp dir
    python bench/bench_rag.py --index data/index    # an existing index (e.g. the wiki corpus)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.workspace import Workspace  # noqa: E402
from pipelines.generation import GenerationConfig, load_generator  # noqa: E402
from pipelines.generation.llama_cpp_backend import LlamaCppGenerator, llama_completion_kwargs  # noqa: E402
from pipelines.rag import RAGPipeline, RefusalPolicy, build_prompt  # noqa: E402

CORPUS = {
    "eiffel.txt": "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is "
    "named after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889 as "
    "the centrepiece of the 1889 World's Fair. It is 330 metres tall and was the tallest man-made structure in "
    "the world until the Chrysler Building in New York was finished in 1930.",
    "louvre.txt": "The Louvre is the world's most-visited art museum and a landmark of Paris, France. It is the "
    "home of some of the best-known works of art, including the Mona Lisa and the Venus de Milo. The museum "
    "is housed in the Louvre Palace, originally built in the late 12th to 13th century under Philip II.",
    "seine.txt": "The Seine is a 777-kilometre-long river in northern France. Its drainage basin is in the Paris "
    "Basin. It flows through Paris and into the English Channel at Le Havre. It is navigable by ocean-going "
    "vessels as far as Rouen, 120 kilometres from the sea.",
}


def first_piece_pipeline(rag: RAGPipeline, question: str) -> float:
    """Seconds from the call to the first streamed text piece (the rest is drained, untimed)."""
    start = time.perf_counter()
    stream = rag.stream(question)
    first = next(stream)
    elapsed = time.perf_counter() - start
    *_, answer = stream
    assert isinstance(first, str) and answer.refusal_reason in (None, "model"), "the pipeline refused"
    return elapsed


def first_piece_direct(gen: LlamaCppGenerator, prompt: str, config: GenerationConfig) -> float:
    """Seconds from ``create_completion`` to its first text chunk, cache cleared like the pipeline's."""
    gen.llm.reset()
    start = time.perf_counter()
    elapsed = None
    for chunk in gen.llm.create_completion(prompt, stream=True, **llama_completion_kwargs(config, gen._chat_stops)):
        if elapsed is None and chunk["choices"][0]["text"]:
            elapsed = time.perf_counter() - start
    assert elapsed is not None, "llama.cpp produced no text"
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="an existing index (default: a temp index of a tiny corpus)")
    parser.add_argument("--question", default="Who designed the Eiffel Tower and when was it built?")
    parser.add_argument("--preset", default="smollm2-135m")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(args.index) if args.index else _tiny_index(Path(tmp))
        gen = load_generator(args.preset, backend="llama.cpp")
        assert isinstance(gen, LlamaCppGenerator)
        config = GenerationConfig(max_new_tokens=16)
        rag = RAGPipeline(ws, gen, k=args.k, config=config, refusal=RefusalPolicy(0.0))
        evidence = rag.retrieve(args.question)  # loads the embedder and index
        built = build_prompt(args.question, evidence.hits, gen, answer_tokens=config.max_new_tokens)
        first_piece_pipeline(rag, args.question)  # warm-up: page in the weights, settle the caches
        first_piece_direct(gen, built.prompt, config)
        pipeline_s, direct_s = [], []
        for i in range(args.repeats):
            for which in (0, 1) if i % 2 == 0 else (1, 0):
                if which == 0:
                    pipeline_s.append(first_piece_pipeline(rag, args.question))
                else:
                    direct_s.append(first_piece_direct(gen, built.prompt, config))
        _report(built.report.prompt_tokens, built.report.included, pipeline_s, direct_s, rag, args.question)
    return 0


def _report(
    prompt_tokens: int, passages: int, pipeline_s: list[float], direct_s: list[float], rag: RAGPipeline, question: str
) -> None:
    start = time.perf_counter()
    for _ in range(5):
        rag.retrieve(question)
    retrieval = (time.perf_counter() - start) / 5
    p, d = statistics.median(pipeline_s), statistics.median(direct_s)
    print(f"prompt: {prompt_tokens} tokens, {passages} passages; {len(pipeline_s)} runs each, alternating")
    print(f"llama.cpp direct TTFT   median {d * 1000:8.1f} ms  (min {min(direct_s) * 1000:.1f})")
    print(f"RAG pipeline TTFT       median {p * 1000:8.1f} ms  (min {min(pipeline_s) * 1000:.1f})")
    print(f"  of which retrieval (hybrid + dense gate) ≈ {retrieval * 1000:.1f} ms")
    print(f"prompt evaluation rate  {prompt_tokens / d:8.0f} tokens/s (direct)")
    print(f"ratio pipeline / direct {p / d:8.3f}  (target ≤ 1.05)")


def _tiny_index(folder: Path) -> Workspace:
    docs = folder / "docs"
    docs.mkdir()
    for name, text in CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    ws = Workspace(folder / "index")
    ws.index([docs])
    return ws


if __name__ == "__main__":
    raise SystemExit(main())
