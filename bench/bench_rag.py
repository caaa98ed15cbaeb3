"""RAG answering speed against llama.cpp called directly on the same prompts, all measured in one run.

For each question the real pipeline (hybrid search, evidence gate, passage packing, chat template)
builds the prompt; then, interleaved round by round so that machine-load drift hits all alike:

- raw TTFT: ``Llama.create_completion(prompt, max_tokens=1)`` on a fresh context (the baseline);
- pipeline TTFT: ``RAGPipeline.stream`` to its first text piece, with the prefix cache off and on
  (retrieval included); the ratio pipeline ÷ raw with the cache off is the pipeline's overhead
  (target ≤ 1.05);
- generator TTFT with the prefix cache off and on, prompt tokens, reused (cached) prompt tokens and
  decode tokens/s of each answer.

Medians over rounds per question, then the median over questions. ``--threads 1,2`` adds prompt-
evaluation and decode rates per llama.cpp thread count (same prompt, interleaved); ``--decoding``
compares repetition controls (loops by :func:`repeated_ngram` with loop stopping off, and answers
that contain the expected fact).

Usage:
    python bench/bench_rag.py                                  # data/index, else built-in passages
    python bench/bench_rag.py --model-path data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
    python bench/bench_rag.py --threads 1,2 --decoding --json results.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.workspace import Workspace  # noqa: E402
from pipelines.generation import GenerationConfig, load_generator, repeated_ngram  # noqa: E402
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
    "montblanc.txt": "Mont Blanc is the highest mountain in the Alps, rising 4,806 metres above sea level. It "
    "lies on the border between France and Italy. It was first climbed on 8 August 1786 by Jacques Balmat and "
    "Michel-Gabriel Paccard.",
}
QUESTIONS = [  # (question, a fact the answer should contain)
    ("Who designed the Eiffel Tower and when was it built?", "Eiffel"),
    ("How tall is the Eiffel Tower?", "330"),
    ("How long is the Seine?", "777"),
    ("Where does the Seine flow into the sea?", "Le Havre"),
    ("Which famous paintings are in the Louvre?", "Mona Lisa"),
    ("How far inland can ocean-going ships sail on the Seine?", "Rouen"),
    ("How high is Mont Blanc?", "4,806"),
    ("Who first climbed Mont Blanc?", "Balmat"),
]
DECODING = {  # extra create_completion options compared by --decoding
    "none": {},
    "repeat_penalty 1.1": {"repeat_penalty": 1.1},
    "presence_penalty 0.5": {"presence_penalty": 0.5},
}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def raw_ttft(gen: LlamaCppGenerator, prompt: str, config: GenerationConfig) -> float:
    """Seconds ``create_completion`` takes for one token on a fresh context (the baseline)."""
    gen.llm.reset()
    gen.llm._ctx.kv_cache_clear()
    kwargs = llama_completion_kwargs(config, gen._chat_stops) | {"max_tokens": 1}
    start = time.perf_counter()
    gen.llm.create_completion(prompt, **kwargs)
    return time.perf_counter() - start


def pipeline_run(rag: RAGPipeline, question: str, cache: bool) -> dict[str, float]:
    """One streamed answer: pipeline TTFT (to the first piece) and the generator's own metrics."""
    assert isinstance(rag.generator, LlamaCppGenerator)
    rag.generator.prefix_cache = cache
    start = time.perf_counter()
    stream = rag.stream(question)
    first = next(stream)
    ttft = time.perf_counter() - start
    *_, answer = stream
    assert isinstance(first, str) and answer.metrics is not None, f"the pipeline refused {question!r}"
    m = answer.metrics
    return {"pipeline_ttft_s": ttft, "generator_ttft_s": m.ttft_s, "tokens_per_s": m.tokens_per_s,
            "prompt_tokens": m.prompt_tokens, "cached_tokens": m.cached_tokens}


def measure_ttft(rag: RAGPipeline, prompts: dict[str, str], rounds: int) -> dict[str, Any]:
    gen = rag.generator
    assert isinstance(gen, LlamaCppGenerator)
    for question in prompts:  # warm-up: page in the weights, build the prefix snapshot
        pipeline_run(rag, question, True)
    runs: dict[str, dict[str, list[dict[str, float]]]] = {q: {"raw": [], "off": [], "on": []} for q in prompts}
    kinds = ["raw", "off", "on"]
    for r in range(rounds):
        for i, (question, prompt) in enumerate(prompts.items()):
            shift = (r + i) % 3
            for kind in kinds[shift:] + kinds[:shift]:
                if kind == "raw":
                    runs[question][kind].append({"ttft_s": raw_ttft(gen, prompt, rag.config)})
                else:
                    runs[question][kind].append(pipeline_run(rag, question, kind == "on"))
                    assert gen.last_prompt_ids == tuple(gen.prompt_ids(prompt)), "the pipeline built another prompt"
    gen.prefix_cache = True
    rows = []
    for question, by in runs.items():
        raw = median([x["ttft_s"] for x in by["raw"]])
        row = {"question": question, "raw_ttft_s": raw}
        for kind in ("off", "on"):
            for key in ("pipeline_ttft_s", "generator_ttft_s", "tokens_per_s", "prompt_tokens", "cached_tokens"):
                row[f"{key}_{kind}"] = median([x[key] for x in by[kind]])
            row[f"ratio_{kind}"] = row[f"pipeline_ttft_s_{kind}"] / raw
        rows.append(row)
    summary = {key: median([row[key] for row in rows]) for key in rows[0] if key != "question"}
    return {"rounds": rounds, "questions": rows, "median": summary}


def measure_threads(
    gen: LlamaCppGenerator, prompt: str, threads: list[int], rounds: int, tokens: int
) -> dict[int, Any]:
    """Prompt-evaluation and decode tokens/s per thread count, same prompt, interleaved."""
    import llama_cpp

    llm, ctx = gen.llm, gen.llm._ctx.ctx
    config = GenerationConfig(max_new_tokens=tokens, stop_repeats=0)
    rates: dict[int, dict[str, list[float]]] = {n: {"prompt": [], "decode": []} for n in threads}
    for r in range(rounds):
        for n in threads if r % 2 == 0 else threads[::-1]:
            llama_cpp.llama_set_n_threads(ctx, n, n)
            llm.reset()
            llm._ctx.kv_cache_clear()
            llama_cpp.llama_perf_context_reset(ctx)
            llm.create_completion(prompt, **llama_completion_kwargs(config, gen._chat_stops))
            perf = llama_cpp.llama_perf_context(ctx)
            rates[n]["prompt"].append(perf.n_p_eval / (perf.t_p_eval_ms / 1000))
            rates[n]["decode"].append(perf.n_eval / (perf.t_eval_ms / 1000) if perf.n_eval else float("nan"))
    llama_cpp.llama_set_n_threads(ctx, gen.n_threads, gen.n_threads)
    return {n: {"prompt_tok_s": median(v["prompt"]), "decode_tok_s": median(v["decode"]),
                "prompt_runs": v["prompt"], "decode_runs": v["decode"]} for n, v in rates.items()}


def measure_decoding(gen: LlamaCppGenerator, prompts: dict[str, str], facts: dict[str, str]) -> dict[str, Any]:
    """Per repetition control: answers that loop (loop stopping off) and answers holding the expected fact."""
    config = GenerationConfig(max_new_tokens=160, stop_repeats=0)
    results: dict[str, Any] = {}
    for name, extra in DECODING.items():
        loops, hits, answers = 0, 0, []
        for question, prompt in prompts.items():
            gen.llm.reset()
            out = gen.llm.create_completion(prompt, **(llama_completion_kwargs(config, gen._chat_stops) | extra))
            text = out["choices"][0]["text"]
            loops += repeated_ngram(text) is not None
            hits += facts[question].lower() in text.lower()
            answers.append(text)
        results[name] = {"loops": loops, "fact_hits": hits, "prompts": len(prompts), "answers": answers}
    return results


def _workspace(index: Path, tmp: Path) -> tuple[Workspace, str]:
    existing = Workspace(index)
    if existing.exists() and existing.documents(limit=1):
        return existing, f"index {index}"
    docs = tmp / "docs"
    docs.mkdir()
    for name, text in CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    ws = Workspace(tmp / "index")
    ws.index([docs])
    return ws, f"built-in passages ({len(CORPUS)} documents indexed into a temp dir; no documents indexed at {index})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("data/index"))
    parser.add_argument("--preset", default="smollm2-135m")
    parser.add_argument("--model-path", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="use the first N questions")
    parser.add_argument("--max-tokens", type=int, default=32, help="answer budget of the timed runs")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--threads", help="comma-separated llama.cpp thread counts to compare, e.g. 1,2")
    parser.add_argument("--thread-tokens", type=int, default=32, help="tokens decoded per --threads run")
    parser.add_argument("--decoding", action="store_true", help="compare repetition controls")
    parser.add_argument("--json", type=Path, help="also write all numbers to this file ('-': stdout)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ws, source = _workspace(args.index, Path(tmp))
        gen = load_generator(args.preset, model_path=args.model_path, backend="llama.cpp")
        assert isinstance(gen, LlamaCppGenerator)
        config = GenerationConfig(max_new_tokens=args.max_tokens)
        rag = RAGPipeline(ws, gen, k=args.k, config=config, refusal=RefusalPolicy(-1.0, None))
        chosen = QUESTIONS[: args.questions]
        prompts = {q: build_prompt(q, rag.retrieve(q).hits, gen, answer_tokens=config.max_new_tokens,
                                   system=rag.system_for(q)).prompt for q, _ in chosen}
        report: dict[str, Any] = {"model": gen.name, "n_threads": gen.n_threads, "prompts": source,
                                  "ttft": measure_ttft(rag, prompts, args.rounds)}
        if args.threads:
            threads = [int(n) for n in args.threads.split(",")]
            report["threads"] = measure_threads(gen, next(iter(prompts.values())), threads, args.rounds,
                                                args.thread_tokens)
        if args.decoding:
            report["decoding"] = measure_decoding(gen, prompts, dict(chosen))
    _print(report)
    if args.json:
        text = json.dumps(report, indent=2)
        sys.stdout.write(text + "\n") if str(args.json) == "-" else args.json.write_text(text, encoding="utf-8")
    return 0


def _print(report: dict[str, Any]) -> None:
    t = report["ttft"]
    m = t["median"]
    print(f"model {report['model']} ({report['n_threads']} threads); prompts: {report['prompts']}")
    print(f"{len(t['questions'])} questions × {t['rounds']} rounds, interleaved; medians")
    print(f"{'question':58} {'tokens':>6} {'cached':>6} {'raw ms':>8} {'off ms':>8} {'on ms':>8} {'off/raw':>7} "
          f"{'on/raw':>7}")
    for row in t["questions"] + [{"question": "median", **m}]:
        print(f"{row['question'][:58]:58} {row['prompt_tokens_on']:6.0f} {row['cached_tokens_on']:6.0f} "
              f"{row['raw_ttft_s'] * 1e3:8.1f} {row['pipeline_ttft_s_off'] * 1e3:8.1f} "
              f"{row['pipeline_ttft_s_on'] * 1e3:8.1f} {row['ratio_off']:7.3f} {row['ratio_on']:7.3f}")
    print(f"pipeline TTFT ÷ raw llama.cpp TTFT: {m['ratio_off']:.3f} with the prefix cache off (target ≤ 1.05), "
          f"{m['ratio_on']:.3f} with it on")
    off, on = m["generator_ttft_s_off"], m["generator_ttft_s_on"]
    print(f"generator TTFT: {off * 1e3:.1f} ms without the prefix cache, {on * 1e3:.1f} ms with it (÷ {off / on:.2f})")
    print(f"prompt tokens per answer {m['prompt_tokens_on']:.0f} (of which reused {m['cached_tokens_on']:.0f}); "
          f"decode {m['tokens_per_s_on']:.1f} tokens/s")
    for n, rate in report.get("threads", {}).items():
        print(f"threads {n}: prompt eval {rate['prompt_tok_s']:.0f} tok/s, decode {rate['decode_tok_s']:.1f} tok/s "
              f"(runs: {', '.join(f'{x:.0f}' for x in rate['prompt_runs'])} | "
              f"{', '.join(f'{x:.1f}' for x in rate['decode_runs'])})")
    for name, d in report.get("decoding", {}).items():
        print(f"decoding {name:22}: {d['loops']}/{d['prompts']} answers loop, {d['fact_hits']}/{d['prompts']} "
              f"contain the expected fact")


if __name__ == "__main__":
    raise SystemExit(main())
