"""Do generated questions rank configurations as hand-written ones do? (issue 27)

Builds one index per chunk size × lead vectors from the files of the index a generated set was written from
(same model, overlap and weights), scores every configuration (index × search mode) with the generated set
and with each reference set (MRR@10 and hit@1 of the gold document, as ``sift eval retrieval`` scores them),
and prints per reference: both columns side by side, Spearman's rho between the two MRR@10 rankings, whether
the best configuration is the same, and how often both hold when the questions are resampled (bootstrap).

Usage (built indexes are kept under --work and reused by a rerun; docs/evaluation.md has the results)::

    PYTHONPATH=. python bench/validate_generated_questions.py --source-index /tmp/faq-index \\
        --generated data/eval/generated_python_faq.jsonl --reference python-faq --work /tmp/faq-variants --leads on,off
    PYTHONPATH=. python bench/validate_generated_questions.py --source-index /tmp/wiki-index \\
        --generated data/eval/generated_wiki.jsonl --work /tmp/wiki-variants \\
        --reference data/eval/unanswerable_wiki.jsonl --reference data/eval/crossdoc_wiki.jsonl \\
        --reference wiki-known-item

A reference is ``python-faq``, ``wiki-known-item`` (500 descriptions, seed 0) or JSONL files joined by commas.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.corpora import fetch_corpus  # noqa: E402
from app.workspace import Workspace  # noqa: E402
from pipelines.corpus_eval.checks import question_terms  # noqa: E402
from pipelines.rag.datasets import load_jsonl, python_faq  # noqa: E402
from pipelines.retrieval_data import RetrievalSet, questions_jsonl, questions_set, wiki_known_item  # noqa: E402
from pipelines.retrieval_eval import run_queries  # noqa: E402
from pipelines.retrieval_metrics import mrr_at  # noqa: E402
from pipelines.search import MODES  # noqa: E402

Scores = dict[str, dict[str, list[float]]]
"""configuration label → set name → per-question reciprocal rank at 10 (hit@1 is rank == 1)."""


def reference_set(name: str) -> RetrievalSet:
    """A hand-written set by name (see the module docstring)."""
    if name == "python-faq":
        return questions_set(python_faq()[1], "python-faq")
    if name == "wiki-known-item":
        return wiki_known_item(fetch_corpus("wiki") / "summaries_en-us.json", n=500, seed=0)
    paths = [Path(p) for p in name.split(",")]
    return questions_set([item for p in paths for item in load_jsonl(p)], "+".join(p.stem for p in paths))


def build(source: Workspace, work: Path, chunk_size: int, leads: bool) -> Workspace:
    """The variant index (built once under ``work``, reused when its manifest already matches)."""
    manifest = source.manifest
    assert manifest is not None
    ws = Workspace(work / f"cs{chunk_size}-leads-{'on' if leads else 'off'}", model=manifest.embedding_model)
    if ws.exists() and ws.manifest is not None and (ws.manifest.chunk_size, ws.manifest.lead_vectors) == (
            chunk_size, leads):
        return ws
    started = time.perf_counter()
    ws.index(sorted(source.files()), chunk_size=chunk_size, chunk_overlap=manifest.chunk_overlap,
             lead_vectors=leads, quantize=manifest.quantize)
    print(f"built {ws.index_dir} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return ws


def chunk_keys(ws: Workspace, by: str) -> dict[int, str]:
    """chunk id → its document's key (``title``, ``source`` or ``doc_id``), read through the Workspace."""
    return {c.id: c.title if by == "title" else c.source if by == "source" else c.doc_id for c in ws.chunks()}


def reciprocal_ranks(ws: Workspace, dataset: RetrievalSet, mode: str) -> list[float]:
    """Per judged question, 1/rank of its first gold document in the top 10 (0 when absent)."""
    run, _ = run_queries(ws.searcher, dataset, mode, chunk_keys(ws, dataset.doc_key))
    return [mrr_at(run.get(q, []), rel, 10) for q, rel in dataset.qrels.items()]


def word_overlap(ws: Workspace, dataset: RetrievalSet) -> float:
    """Mean share of a question's content words (stemmed, question words aside) that stand in its first gold
    document's title and text: how much a set leans on the words of its documents, which favours BM25."""
    docs = ws.documents()
    by_key = {"doc_id": {d.id: d.id for d in docs}, "source": {d.source: d.id for d in docs},
              "title": {d.title: d.id for d in docs}}[dataset.doc_key]
    shares = []
    for qid, rel in dataset.qrels.items():
        record = ws.document(by_key[next(iter(rel))])
        assert record is not None
        asked, there = question_terms(dataset.queries[qid]), set(question_terms(f"{record.title}. {record.text}"))
        shares.append(sum(w in there for w in asked) / len(asked) if asked else 0.0)
    return float(np.mean(shares))


def best(scores: dict[str, list[float]]) -> list[str]:
    """The best configurations: highest MRR@10 to 3 decimals, then highest hit@1; more than one when tied."""
    key = {c: (round(float(np.mean(v)), 3), round(float(np.mean([x == 1.0 for x in v])), 3))
           for c, v in scores.items()}
    top = max(key.values())
    return [c for c in scores if key[c] == top]


def agreement(generated: dict[str, list[float]], reference: dict[str, list[float]]) -> tuple[float, bool]:
    """(Spearman's rho of the configurations' MRR@10, whether both sets name one and the same best)."""
    labels = list(generated)
    rho = float(spearmanr([np.mean(generated[c]) for c in labels], [np.mean(reference[c]) for c in labels]).statistic)
    g, r = best(generated), best(reference)
    return rho, len(g) == len(r) == 1 and g == r


def bootstrap(generated: dict[str, list[float]], reference: dict[str, list[float]], rounds: int = 1000,
              seed: int = 0) -> tuple[float, float, float]:
    """Resample each set's questions (the same draw for every configuration): (share of rounds with
    rho >= 0.8, share naming one and the same best, 5th percentile of rho; an undefined rho counts as 0)."""
    rng = random.Random(seed)
    n_g, n_r = len(next(iter(generated.values()))), len(next(iter(reference.values())))
    rhos, same = [], 0
    for _ in range(rounds):
        gi, ri = [rng.randrange(n_g) for _ in range(n_g)], [rng.randrange(n_r) for _ in range(n_r)]
        rho, agreed = agreement({c: [v[i] for i in gi] for c, v in generated.items()},
                                {c: [v[i] for i in ri] for c, v in reference.items()})
        rhos.append(0.0 if np.isnan(rho) else rho)
        same += agreed
    return float(np.mean(np.array(rhos) >= 0.8)), same / rounds, float(np.percentile(rhos, 5))


def table(scores: Scores, generated: str, reference: str) -> str:
    """Markdown: one row per configuration, MRR@10 and hit@1 by each set, and its MRR@10 rank by each (tied
    configurations share the mean of their ranks, as Spearman's rho counts them)."""
    labels = list(scores)
    ranks = {name: dict(zip(labels, rankdata([-np.mean(scores[c][name]) for c in labels]), strict=True))
             for name in (generated, reference)}
    lines = [f"| configuration | generated MRR@10 | hit@1 | rank | {reference} MRR@10 | hit@1 | rank |",
             "|---|---|---|---|---|---|---|"]
    for c in labels:
        cells = []
        for name in (generated, reference):
            rr = scores[c][name]
            cells += [f"{np.mean(rr):.3f}", f"{np.mean([x == 1.0 for x in rr]):.3f}", f"{ranks[name][c]:g}"]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-index", required=True, help="the index the generated set was written from")
    parser.add_argument("--generated", required=True, help="the generated set (sift eval corpus --save FILE)")
    parser.add_argument("--reference", action="append", required=True, help="a hand-written set (repeatable)")
    parser.add_argument("--work", required=True, help="folder for the variant indexes (kept, reused)")
    parser.add_argument("--chunk-sizes", default="120,200", help="MiniLM reads at most 221")
    parser.add_argument("--leads", default="on", help="on, off or on,off")
    parser.add_argument("--save", help="write every per-question score here (JSON)")
    args = parser.parse_args(argv)
    leads_values = [v.strip() for v in args.leads.split(",")]
    if not leads_values or any(v not in ("on", "off") for v in leads_values):
        parser.error(f"--leads {args.leads!r}: give on, off or on,off")
    source = Workspace(args.source_index)
    generated = questions_jsonl(Path(args.generated))
    references = [reference_set(name) for name in args.reference]
    scores: Scores = {}
    for size in (int(s) for s in args.chunk_sizes.split(",")):
        for leads in (v == "on" for v in leads_values):
            ws = build(source, Path(args.work), size, leads)
            for mode in MODES:
                label = f"{mode} cs={size}" + ("" if args.leads == "on" else f" leads={'on' if leads else 'off'}")
                scores[label] = {qs.name: reciprocal_ranks(ws, qs, mode) for qs in (generated, *references)}
            ws.close()
    for ref in references:
        gen = {c: v[generated.name] for c, v in scores.items()}
        refs = {c: v[ref.name] for c, v in scores.items()}
        rho, same = agreement(gen, refs)
        share_rho, share_best, low = bootstrap(gen, refs)
        print(f"\n{generated.name} ({len(generated.queries)} q) vs {ref.name} ({len(ref.queries)} q); question "
              f"words in the gold document: {word_overlap(source, generated):.3f} vs {word_overlap(source, ref):.3f}\n")
        print(table(scores, generated.name, ref.name))
        print(f"\nbest by the generated set: {', '.join(best(gen))}; by {ref.name}: {', '.join(best(refs))}")
        print(f"Spearman rho = {rho:.3f}; one and the same best configuration: {'yes' if same else 'no'}; "
              f"bootstrap (1000 resamples of both sets' questions): rho >= 0.8 in {share_rho:.0%}, the same "
              f"single best in {share_best:.0%}, 5th percentile of rho {low:.2f}")
    if args.save:
        Path(args.save).write_text(json.dumps(scores), encoding="utf-8")


if __name__ == "__main__":
    main()
