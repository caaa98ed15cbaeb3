"""Ways to combine a label's descriptions with the generator's typical texts (``--expand N``), on one dataset.

For each N it expands the dataset's shipped labels (read from ``data/cache/expansions`` when ``sift eval classify
--expand N --preset P`` wrote them; written otherwise) and prints the test and dev weighted F1 of zero-shot,
centred on dev as ``sift eval classify`` does, for: the descriptions alone (mean, max), descriptions + texts as
one set (mean, max: what ``--expand`` does with ``--combine``), the texts alone (mean, max) and "balanced" (the
normalised sum of the descriptions' and the texts' unit mean vectors, so 30 descriptions and 8 texts weigh alike).

    python bench/bench_expand.py --dataset rotten-tomatoes --preset qwen2.5-1.5b --n 8 16
"""

from __future__ import annotations

import argparse

import numpy as np

from indexing.embedder import Embedder
from pipelines.classify.datasets import DATASETS, load_dataset
from pipelines.classify.embed_cache import cached_encode
from pipelines.classify.expand import LabelExpander
from pipelines.classify.label_set import LabelSet, builtin_labels
from pipelines.classify.metrics import classification_metrics
from pipelines.classify.zero_shot import ZeroShotClassifier
from pipelines.generation import PRESETS, load_generator


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _balanced(base: LabelSet, texts: dict[str, list[str]], emb: Embedder):  # type: ignore[no-untyped-def]
    """Similarities to the normalised sum of each label's unit description mean and unit text mean."""
    protos = _unit(np.stack([
        _unit(emb.encode(base.descriptions[name]).mean(0)) + (_unit(emb.encode(texts[name]).mean(0)) if texts[name]
                                                              else 0)
        for name in base.labels]))
    return lambda vectors: vectors @ protos.T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="qwen2.5-1.5b")
    parser.add_argument("--n", type=int, nargs="+", default=[8, 16])
    args = parser.parse_args()
    emb = Embedder("all-MiniLM-L6-v2")
    ds = load_dataset(args.dataset, 42)
    vecs = {s: cached_encode(emb, getattr(ds, s).texts) for s in ("dev", "test")}
    base = builtin_labels(args.dataset)

    def scores(similarities) -> str:  # type: ignore[no-untyped-def]
        bias = similarities(vecs["dev"]).mean(axis=0)  # label-free centring on dev, as `sift eval classify`
        out = []
        for split in ("test", "dev"):
            predicted = [base.labels[i] for i in (similarities(vecs[split]) - bias).argmax(axis=1)]
            out.append(classification_metrics(getattr(ds, split).labels, predicted, ds.classes).weighted_f1)
        return " ".join(f"{v:.4f}" for v in out)

    def zero_shot(labels: LabelSet, combine: str):  # type: ignore[no-untyped-def]
        return ZeroShotClassifier(labels, combine=combine).fit(emb).similarities

    print(f"{args.dataset}, MiniLM, {args.preset}: weighted F1 test dev")
    for combine in ("mean", "max"):
        print(f"N=0   {f'descriptions ({combine})':<32} {scores(zero_shot(base, combine))}")
    generator = load_generator(args.preset, backend="llama.cpp")
    for n in args.n:
        expansion = LabelExpander(generator, n).expand(base)
        print(f"N={n:<3} {expansion.summary()}")
        texts_only = LabelSet({k: v or base.descriptions[k] for k, v in expansion.texts.items()})
        expanded = expansion.labels(base)
        for combine in ("mean", "max"):
            print(f"N={n:<3} {f'descriptions + texts ({combine})':<32} {scores(zero_shot(expanded, combine))}")
            print(f"N={n:<3} {f'texts alone ({combine})':<32} {scores(zero_shot(texts_only, combine))}")
        print(f"N={n:<3} {'balanced':<32} {scores(_balanced(base, expansion.texts, emb))}")


if __name__ == "__main__":
    main()
