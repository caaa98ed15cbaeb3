"""``sift eval classify``: score a classification method on a labelled set's fixed test split.

Protocol (nothing is tuned on test):

- zero-shot: descriptions come from ``--labels`` or the shipped, dev-chosen file (``expand``: plus the
  generator's typical texts per label, :mod:`pipelines.classify.expand`); calibration uses
  the dev split — ``center`` (default, label-free mean similarity), ``dev`` (bias + temperature
  fitted to dev labels) or ``none``.
- generate: the generator scores each label name as the answer to a prompt listing the labels
  and their descriptions (:mod:`pipelines.classify.generative`); nothing is fitted and only the
  test split is scored (the dev split is skipped: generation is the slow part).
- auto: the zero-shot classifier above (centred on dev) and the generator labelling a sample of the test
  texts (10 %, at least 10 per label; ``sample`` to set the count), a classifier on the embeddings the
  rest (:mod:`pipelines.classify.auto`); the report says how many texts the generator labelled and how long
  it took. Nothing is fitted on gold labels.
- prototype: class means of the train split.
- logreg: C chosen from :data:`C_GRID` by dev macro-F1, then the model trained on train is scored.
  ``lexical=True`` adds TF-IDF word features (see :mod:`pipelines.classify.lexical`).

``priors`` (``none``, ``center``, ``em``; zero-shot and generate) then adapts the probabilities
of each scored split to that split's own texts, without its labels (:mod:`pipelines.classify.priors`):
what ``sift classify --priors`` does to the texts a user labels.

Embeddings are cached per (model, split texts) under ``data/cache/embeddings``; the generator's
label log-probabilities per (generator, prompt, split texts) under ``data/cache/generate``.

Example:
    >>> result = evaluate(EvalConfig(dataset="rotten-tomatoes", method="logreg"))  # doctest: +SKIP
    >>> round(result.test.weighted_f1, 2)                                          # doctest: +SKIP
    0.77
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexing.errors import ConfigError
from indexing.fetch import cache_dir
from pipelines.classify.base import Classifier, predicted_labels, predictions_from
from pipelines.classify.datasets import Dataset, from_files, load_dataset, subsample
from pipelines.classify.embed_cache import TextEncoder, cache_key, cached_encode
from pipelines.classify.expand import Expansion, LabelExpander, check_expand
from pipelines.classify.label_set import BUILTIN, LabelSet, builtin_labels
from pipelines.classify.metrics import MetricsReport, classification_metrics, format_report
from pipelines.classify.priors import PRIORS, adapt
from pipelines.classify.supervised import LogisticClassifier, PrototypeClassifier
from pipelines.classify.zero_shot import ZeroShotClassifier

METHODS = ("zero-shot", "generate", "auto", "prototype", "logreg")
LABEL_METHODS = ("zero-shot", "generate", "auto")  # the methods that read label descriptions
CALIBRATIONS = ("center", "dev", "none")
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate. Give ``dataset`` or ``csv`` (with the column names)."""

    dataset: str | None = None
    csv: Path | None = None
    text_column: str = "text"
    label_column: str = "label"
    train_csv: Path | None = None
    method: str = "zero-shot"
    labels: Path | None = None
    model: str = "all-MiniLM-L6-v2"
    calibration: str = "center"
    combine: str = "mean"
    lexical: bool = False
    seed: int = 42
    limit: int | None = None
    priors: str = "none"
    preset: str | None = None
    model_path: Path | None = None
    expand: int = 0
    sample: int = 0

    def validate(self) -> None:
        """Raises ConfigError on contradictory or unknown settings."""
        if (self.dataset is None) == (self.csv is None):
            raise ConfigError("give exactly one of --dataset or --csv")
        if self.method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(f"--calibration must be one of {', '.join(CALIBRATIONS)}")
        if self.priors not in PRIORS:
            raise ConfigError(f"--priors must be one of {', '.join(PRIORS)}, got {self.priors!r}")
        if self.priors != "none" and self.method not in LABEL_METHODS:
            raise ConfigError(f"--priors works with --method {' or '.join(LABEL_METHODS)}, not {self.method}")
        if check_expand(self.expand) and self.method != "zero-shot":
            raise ConfigError(f"--expand writes texts for zero-shot labels: use --method zero-shot, not {self.method}")
        if self.sample and self.method != "auto":
            raise ConfigError(f"--sample is the generator's share of --method auto, not of {self.method}")
        if self.limit is not None and self.limit < 10:
            raise ConfigError(f"--limit must be at least 10, got {self.limit}")


@dataclass
class EvalResult:
    """Scores on test (and dev, for reference) with the settings that produced them."""

    dataset: str
    method: str
    model: str
    sizes: dict[str, int]
    settings: dict[str, Any]
    test: MetricsReport
    dev: MetricsReport | None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    expansion: Expansion | None = None  # --expand: the generator's texts, its calls and seconds
    auto: Any = None  # --method auto: the AutoReport (calls, sample, fallback)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``--json`` output)."""
        return {
            "dataset": self.dataset, "method": self.method, "model": self.model, "sizes": self.sizes,
            "settings": self.settings, "test": self.test.to_dict(),
            "dev": self.dev.to_dict() if self.dev is not None else None,
            "seconds": round(self.seconds, 2), "notes": self.notes,
            "expansion": self.expansion.to_dict() if self.expansion else None,
            "auto": self.auto.to_dict() if self.auto else None,
        }


def format_result(result: EvalResult) -> str:
    """Readable report: header, settings, test table and the dev summary."""
    sizes = ", ".join(f"{k} {v}" for k, v in result.sizes.items())
    settings = ", ".join(f"{k}={v}" for k, v in result.settings.items())
    dev = result.dev
    dev_line = (f"dev (used for choices): accuracy {dev.accuracy:.3f}  macro-F1 {dev.macro_f1:.3f}  "
                f"weighted-F1 {dev.weighted_f1:.3f}" if dev is not None else "dev: not scored")
    return "\n".join([
        f"{result.dataset} · {result.method} · {result.model}  ({sizes}; {result.seconds:.1f} s)",
        f"settings: {settings}",
        "",
        "TEST",
        format_report(result.test),
        "",
        dev_line,
        *result.notes,
        *([result.expansion.summary()] if result.expansion else []),
        *([result.auto.summary()] if result.auto else []),
    ])


def _load(config: EvalConfig) -> Dataset:
    if config.dataset is not None:
        ds = load_dataset(config.dataset, config.seed)
    else:
        assert config.csv is not None
        ds = from_files(config.csv, config.text_column, config.label_column, config.train_csv, config.seed)
    if config.limit is None:
        return ds
    cut = [subsample(s, config.limit, config.seed) for s in (ds.train, ds.dev, ds.test)]
    return Dataset(ds.name, *cut, classes=ds.classes, note=ds.note)


def _label_set(config: EvalConfig, ds: Dataset) -> LabelSet:
    if config.labels is not None:
        labels = LabelSet.load(config.labels)
    elif config.dataset in BUILTIN:
        labels = builtin_labels(config.dataset)
    else:
        labels = LabelSet.from_names(ds.classes)
    missing = sorted(set(ds.classes) - set(labels.labels))
    if missing:
        raise ConfigError(f"label file has no descriptions for classes {missing} of {ds.name}")
    return labels


def _labels_source(config: EvalConfig) -> str:
    """Where the zero-shot descriptions came from, for the report."""
    if config.labels is not None:
        return str(config.labels)
    if config.dataset in BUILTIN:
        return f"built-in {BUILTIN[config.dataset]}"
    return "label names"


def _zero_shot(config: EvalConfig, labels: LabelSet, ds: Dataset, encoder: TextEncoder,
               dev: np.ndarray) -> ZeroShotClassifier:
    clf = ZeroShotClassifier(labels, combine=config.combine).fit(encoder)
    if config.calibration == "center":
        clf.center(dev)
    elif config.calibration == "dev":
        clf.calibrate(dev, ds.dev.labels)
    return clf


def choose_c(
    train: np.ndarray, train_labels: list[str], dev: np.ndarray, dev_labels: list[str], **kwargs: Any
) -> tuple[float, dict[float, float]]:
    """Pick logistic regression's C from :data:`C_GRID` by dev macro-F1 (ties → smaller C).

    Args:
        kwargs: ``model_name``, ``texts`` (train texts), ``dev_texts`` and ``lexical``.

    Returns:
        (best C, {C: dev macro-F1}).
    """
    scores = {}
    for c in C_GRID:
        clf = LogisticClassifier(C=c, lexical=kwargs.get("lexical", False))
        clf.fit(train, train_labels, kwargs.get("model_name", ""), texts=kwargs.get("texts"))
        predicted = predicted_labels(clf, dev, kwargs.get("dev_texts"))
        scores[c] = classification_metrics(dev_labels, predicted).macro_f1
    best = max(C_GRID, key=lambda c: (round(scores[c], 4), -c))
    return best, scores


def _supervised(config: EvalConfig, ds: Dataset, vecs: dict[str, np.ndarray], model: str) -> tuple:
    if config.method == "prototype":
        return PrototypeClassifier().fit(vecs["train"], ds.train.labels, model), {}
    kwargs = {"model_name": model, "texts": ds.train.texts, "dev_texts": ds.dev.texts, "lexical": config.lexical}
    best, scores = choose_c(vecs["train"], ds.train.labels, vecs["dev"], ds.dev.labels, **kwargs)
    clf = LogisticClassifier(C=best, lexical=config.lexical).fit(vecs["train"], ds.train.labels, model,
                                                                  texts=ds.train.texts)
    return clf, {"C": best, "dev_macro_f1_by_C": {str(c): round(s, 4) for c, s in scores.items()},
                 "lexical": config.lexical}


def _generator(config: EvalConfig) -> Any:
    from pipelines.generation import load_generator

    path = str(config.model_path) if config.model_path else None
    return load_generator(config.preset, model_path=path, backend="llama.cpp")


def _scored(classifier: Classifier, vecs: np.ndarray, split: Any, priors: str) -> list[str]:
    """Predicted labels of one split, the probabilities adapted to that split's texts by ``priors``."""
    if priors == "none":
        return predicted_labels(classifier, vecs, split.texts)
    # An evaluation measures the adaptation at any split size (n is reported); no 50-text minimum.
    probs = adapt(classifier.probabilities(vecs, split.texts), priors, min_texts=1)
    return [p.label for p in predictions_from(classifier, vecs, probs)]


def evaluate(
    config: EvalConfig, encoder: TextEncoder | None = None, show_progress: bool = False, generator: Any = None
) -> EvalResult:
    """Run one evaluation.

    Args:
        config: dataset, method and options.
        encoder: embedder to use (default ``Embedder(config.model)``; unused by ``generate``).
        show_progress: progress bars while embedding or generating.
        generator: ``generate`` and ``expand``: the generator (default: llama.cpp from ``config.preset`` /
            ``config.model_path``).

    Raises:
        ConfigError / DatasetError: bad options, labels or data.
    """
    config.validate()
    started = time.perf_counter()
    ds = _load(config)
    if config.method == "generate":
        return _evaluate_generate(config, ds, generator or _generator(config), show_progress, started)
    if encoder is None:
        from indexing.embedder import Embedder

        encoder = Embedder(config.model)
    wanted = ("dev", "test") if config.method in ("zero-shot", "auto") else ("train", "dev", "test")
    vecs = {s: cached_encode(encoder, getattr(ds, s).texts, show_progress=show_progress) for s in wanted}
    settings: dict[str, Any]
    classifier: Classifier
    expansion = auto_report = None
    if config.method == "auto":
        from pipelines.classify.auto import AutoClassifier
        from pipelines.classify.generative import GenerativeClassifier

        labels = _label_set(config, ds)
        bar = _progress_bar(0) if show_progress else None
        scorer = GenerativeClassifier(labels, generator or _generator(config)).log_scores
        auto = AutoClassifier(labels, _zero_shot(config, labels, ds, encoder, vecs["dev"]), scorer,
                              sample=config.sample, seed=config.seed,
                              progress=_bar_progress(bar) if bar is not None else None)
        try:
            classifier = auto.fit(vecs["test"], lambda rows: [ds.test.texts[r] for r in rows])
        finally:
            if bar is not None:
                bar.close()
        auto_report = auto.report
        settings = {"calibration": config.calibration, "combine": config.combine, "labels": _labels_source(config),
                    "priors": config.priors, "sample": config.sample}
    elif config.method == "zero-shot":
        labels = _label_set(config, ds)
        if config.expand:
            expansion = LabelExpander(generator or _generator(config), config.expand).expand(labels)
            labels = expansion.labels(labels)
        classifier = _zero_shot(config, labels, ds, encoder, vecs["dev"])
        settings = {"calibration": config.calibration, "combine": config.combine,
                    "labels": _labels_source(config), "priors": config.priors, "expand": config.expand}
    else:
        classifier, settings = _supervised(config, ds, vecs, encoder.name)
    scored = ("test",) if config.method == "auto" else ("dev", "test")  # auto is fitted on the texts it labels
    reports: dict[str, MetricsReport | None] = {
        s: classification_metrics(getattr(ds, s).labels, _scored(classifier, vecs[s], getattr(ds, s), config.priors),
                                  ds.classes) for s in scored}
    sizes = {"train": len(ds.train), "dev": len(ds.dev), "test": len(ds.test)}
    return EvalResult(ds.name, config.method, encoder.name, sizes, {"seed": config.seed, **settings},
                      reports["test"], reports.get("dev"), time.perf_counter() - started, [f"text: {ds.note}"],
                      expansion, auto_report)


def _evaluate_generate(config: EvalConfig, ds: Dataset, generator: Any, show_progress: bool,
                       started: float) -> EvalResult:
    from pipelines.classify.generative import GenerativeClassifier

    bar = _progress_bar(len(ds.test)) if show_progress else None
    classifier = GenerativeClassifier(_label_set(config, ds), generator,
                                      progress=(lambda done, total: bar.update(done - bar.n)) if bar else None)
    empty = np.zeros((len(ds.test), 0), dtype=np.float32)
    try:
        probs = adapt(np.exp(_cached_log_scores(classifier, ds.test.texts)), config.priors, min_texts=1)
    finally:
        if bar is not None:
            bar.close()
    predicted = [p.label for p in predictions_from(classifier, empty, probs)]
    report = classification_metrics(ds.test.labels, predicted, ds.classes)
    settings = {"seed": config.seed, "labels": _labels_source(config), "priors": config.priors,
                "max_text_tokens": classifier.max_text_tokens}
    sizes = {"train": len(ds.train), "dev": len(ds.dev), "test": len(ds.test)}
    return EvalResult(ds.name, "generate", classifier.generator_name, sizes, settings, report, None,
                      time.perf_counter() - started, [f"text: {ds.note}"])


def _cached_log_scores(classifier: Any, texts: list[str]) -> np.ndarray:
    """The generator's (n, k) label log-probabilities, cached under ``data/cache/generate`` by
    (generator, prompt, labels, text cut, texts): runs that differ only in ``priors`` score once."""
    import json

    from pipelines.classify.generative import label_prompt

    setup = json.dumps([classifier.generator_name, label_prompt(classifier.label_set, classifier.max_descriptions),
                        classifier.max_text_tokens], sort_keys=True)
    path = cache_dir() / "generate" / f"{cache_key(classifier.generator_name, [setup, *texts])}.npy"
    if path.exists():
        cached = np.load(path)
        if cached.shape == (len(texts), len(classifier.labels)):
            return cached
    scores = classifier.log_scores(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, scores)
    return scores


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="generate", unit="text", leave=False)


def _bar_progress(bar: Any) -> Any:
    """A (done, total) callback that moves ``bar`` (its total set from the first call)."""

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update
