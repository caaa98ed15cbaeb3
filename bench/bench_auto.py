"""``--method auto`` against zero-shot and generate-only on one labelled set, in one run.

- **zero-shot** and **auto** label the whole test split (auto's generator calls are real and timed: 10 % of
  the texts, at least 10 per label, or ``--sample``), each scored on the whole split and on the paired sample;
- **generate-only** labels the paired sample: ``--limit`` texts of the test split, stratified (seed 42, the
  texts ``sift eval classify --limit N`` scores), because on a CPU it costs seconds a text.

The generator's per-text label scores of generate-only are kept in ``--scores FILE`` (JSON: text → scores and
seconds), so a second run, or another method's, reads them instead of asking again; rows read from the file
report the seconds measured when they were written.

    python bench/bench_auto.py --dataset rotten-tomatoes --limit 400 --scores data/cache/auto/rt.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from indexing.embedder import Embedder
from pipelines.classify.auto import AutoClassifier
from pipelines.classify.datasets import DATASETS, load_dataset, subsample
from pipelines.classify.embed_cache import cached_encode
from pipelines.classify.generative import GenerativeClassifier
from pipelines.classify.label_set import builtin_labels
from pipelines.classify.metrics import classification_metrics
from pipelines.classify.zero_shot import ZeroShotClassifier
from pipelines.generation import PRESETS, load_generator


def _generate(scorer: GenerativeClassifier, texts: list[str], path: Path | None) -> tuple[np.ndarray, float, int]:
    """(n, k) log-scores of ``texts``, the seconds they took and how many were read from ``path``."""
    cache: dict[str, object] = json.loads(path.read_text()) if path and path.exists() else {}
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
    out, seconds, cached = [], 0.0, 0
    for i, text in enumerate(texts):
        entry = cache.get(text)
        if entry is None:
            started = time.perf_counter()
            scores = scorer.log_scores([text])[0].tolist()
            entry = {"scores": scores, "seconds": time.perf_counter() - started}
            cache[text] = entry
            if path and i % 10 == 0:
                path.write_text(json.dumps(cache))
        else:
            cached += 1
        if isinstance(entry, dict):
            out.append(entry["scores"])
            seconds += float(entry.get("seconds", float("nan")))
        else:  # a bare list: scores written without their time
            out.append(entry)
            seconds = float("nan")
    if path:
        path.write_text(json.dumps(cache))
    return np.array(out), seconds, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    parser.add_argument("--limit", type=int, default=400, help="texts of the paired sample (generate-only)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="qwen2.5-1.5b")
    parser.add_argument("--sample", type=int, default=0, help="auto's generator calls (default: 10 %%, ≥ 10 a label)")
    parser.add_argument("--min-kappa", type=float, default=None,
                        help="auto's fallback floor (default: the method's; -1: never fall back, to see both sides)")
    parser.add_argument("--scores", type=Path, help="JSON cache of generate-only's per-text scores")
    parser.add_argument("--model", default="all-MiniLM-L6-v2",
                        help="embedding model of zero-shot and auto's classifier (e.g. mpnet; default MiniLM)")
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args()
    ds = load_dataset(args.dataset)
    labels = builtin_labels(args.dataset)
    names = labels.labels
    paired = subsample(ds.test, args.limit)
    rows_of = {t: i for i, t in enumerate(ds.test.texts)}
    paired_rows = [rows_of[t] for t in paired.texts]
    emb = Embedder(args.model)
    dev, test = cached_encode(emb, ds.dev.texts), cached_encode(emb, ds.test.texts)
    zero_shot = ZeroShotClassifier(labels).fit(emb).center(dev)  # centred on dev, as `sift eval classify`
    generator = load_generator(args.preset, backend="llama.cpp")
    generative = GenerativeClassifier(labels, generator)
    generative.log_scores(["warm-up"])  # load the weights and evaluate the prompt head before any timing

    def f1(gold: list[str], probs: np.ndarray) -> float:
        return classification_metrics(gold, [names[i] for i in probs.argmax(axis=1)], names).weighted_f1

    table = []
    started = time.perf_counter()
    zs = zero_shot.probabilities(test)
    table.append(("zero-shot", f1(ds.test.labels, zs), f1(paired.labels, zs[paired_rows]), 0,
                  time.perf_counter() - started))
    extra = {} if args.min_kappa is None else {"min_kappa": args.min_kappa}
    auto = AutoClassifier(labels, zero_shot, generative.log_scores, sample=args.sample, **extra)
    started = time.perf_counter()
    auto.fit(test, lambda rows: [ds.test.texts[r] for r in rows])
    probs = auto.probabilities(test, ds.test.texts)
    table.append(("auto", f1(ds.test.labels, probs), f1(paired.labels, probs[paired_rows]), auto.report.calls,
                  time.perf_counter() - started))
    print(auto.report.summary())
    print(f"auto: wF1 test {table[-1][1]:.4f}, paired {table[-1][2]:.4f}; zero-shot {table[0][1]:.4f}, "
          f"paired {table[0][2]:.4f}", flush=True)
    scores, seconds, cached = _generate(generative, paired.texts, args.scores)
    table.append(("generate-only", float("nan"), f1(paired.labels, np.exp(scores)), len(paired), seconds))
    print(f"\n{args.dataset}: test {len(ds.test)} texts, paired sample {len(paired)}, {len(names)} labels, "
          f"generator {args.preset}, embeddings {emb.name}"
          + (f" ({cached} generate-only scores read from {args.scores})" if cached else ""))
    print(f"{'method':<14} {'wF1 test':>9} {'wF1 paired':>11} {'calls':>6} {'seconds':>9}")
    for name, whole, pair, calls, secs in table:
        print(f"{name:<14} {whole:>9.4f} {pair:>11.4f} {calls:>6} {secs:>9.1f}")
    if args.json:
        args.json.write_text(json.dumps({
            "dataset": args.dataset, "test": len(ds.test), "paired": len(paired), "preset": args.preset,
            "auto": auto.report.to_dict(),
            "rows": [dict(zip(["method", "wf1_test", "wf1_paired", "calls", "seconds"], r, strict=True))
                     for r in table]}, indent=1))


if __name__ == "__main__":
    main()
