"""`sift classify` and `sift eval classify`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from app.cli.common import print_json, workspace
from app.settings import Settings
from app.workspace import Workspace, shared_embedder
from indexing.embedder import Embedder
from indexing.errors import ConfigError
from indexing.filters import label_keys
from pipelines.classify import (
    Classifier,
    EvalConfig,
    LabelSet,
    check_model,
    evaluate,
    format_result,
    load_classifier,
    save_classifier,
    train,
)
from pipelines.classify.datasets import DATASETS
from pipelines.classify.evaluate import CALIBRATIONS, LABEL_METHODS, METHODS
from pipelines.classify.expand import MAX_EXPAND
from pipelines.classify.priors import PRIORS, check_count, predict_adapted
from pipelines.classify.tables import column, read_rows
from pipelines.generation import DEFAULT_PRESET, PRESETS
from pipelines.options import ClassifyOptions


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``classify`` and ``eval classify``."""
    _add_classify(sub)
    _add_eval_classify(eval_sub)


def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="label texts, a file or the whole index", description=cmd_classify.__doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("text", nargs="*", default=[], metavar="TEXT", help="texts to classify")
    src.add_argument("--input", metavar="FILE", help="CSV/TSV/JSONL file, one text per row")
    src.add_argument("--index", nargs="?", const="", metavar="DIR",
                     help="label every chunk and document of the index (default dir: $SIFT_INDEX or data/index)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--label", action="append", default=[], metavar="NAME=DESCRIPTION",
                     help="a label and one description (repeat; repeat a name for more descriptions)")
    how.add_argument("--labels", metavar="FILE", help="TOML/JSON file: label → description(s)")
    how.add_argument("--load", metavar="PATH", help="a classifier saved with --save (folder or .json)")
    p.add_argument("--method", choices=METHODS, default="zero-shot",
                   help="zero-shot (embeddings, default), generate (the generator picks a label name for each "
                        "text), auto (the generator labels a sample, a classifier on the embeddings the rest), "
                        "prototype or logreg (trained on --train)")
    _add_sample_option(p)
    p.add_argument("--corrections", metavar="FILE",
                   help="auto: CSV/JSONL of texts with the right label (--text-column, --label-column), e.g. the "
                        "sample's labels fixed by hand; they train the classifier and replace the generator's answer")
    p.add_argument("--sample-out", metavar="FILE",
                   help="auto: write the texts the generator labelled, with its labels, to this CSV (text,label): "
                        "fix what is wrong and pass it back with --corrections")
    p.add_argument("--train", metavar="FILE", help="prototype/logreg: labelled CSV/JSONL to train on")
    p.add_argument("--text-column", default="text", metavar="C", help="column with the text (default text)")
    p.add_argument("--label-column", default="label", metavar="L", help="--train: column with the label")
    p.add_argument("--lexical", action="store_true", help="logreg: add TF-IDF word features")
    p.add_argument("--threshold", type=float, metavar="X",
                   help="answer 'unknown' below X (zero-shot: cosine similarity; others: probability)")
    p.add_argument("--calibration", choices=("auto", "center", "none"), default="auto",
                   help="zero-shot: subtract each label's mean similarity over the texts being labelled "
                        "(auto: when there are at least 50)")
    p.add_argument("--combine", choices=("mean", "max"), default="mean", help="zero-shot: combine descriptions")
    _add_priors_option(p)
    _add_expand_option(p, "the texts are printed to stderr")
    _add_generator_options(p)
    p.add_argument("--key", default="label", help="--index: metadata key to write (default label)")
    p.add_argument("--model", metavar="NAME", help="embedding model (default: the index's, else all-MiniLM-L6-v2)")
    p.add_argument("--save", metavar="PATH", help="save the classifier into folder PATH (JSON + npz, no pickle)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_classify)


def _add_eval_classify(eval_sub: argparse._SubParsersAction) -> None:
    p = eval_sub.add_parser("classify", help="accuracy/F1 of a classification method on a test split",
                            description=cmd_eval_classify.__doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=DATASETS, help="built-in labelled set")
    src.add_argument("--csv", metavar="FILE", help="labelled CSV/JSONL (split 70/10/20 unless --train-csv)")
    p.add_argument("--text-column", default="text", metavar="C")
    p.add_argument("--label-column", default="label", metavar="L")
    p.add_argument("--train-csv", metavar="FILE", help="separate training file (then --csv is all test)")
    p.add_argument("--method", choices=METHODS, default="zero-shot")
    _add_sample_option(p)
    p.add_argument("--labels", metavar="FILE", help="zero-shot descriptions (default: shipped, or label names)")
    p.add_argument("--calibration", choices=CALIBRATIONS, default="center",
                   help="zero-shot: center = subtract mean dev similarity (default, label-free); "
                        "dev = fit per-label bias + temperature to dev labels; none")
    p.add_argument("--combine", choices=("mean", "max"), default="mean")
    p.add_argument("--lexical", action="store_true", help="logreg: add TF-IDF word features")
    p.add_argument("--model", metavar="NAME", help="embedding model (default all-MiniLM-L6-v2)")
    p.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    p.add_argument("--limit", type=int, metavar="N", help="use at most N rows per split (quick runs)")
    _add_priors_option(p)
    _add_expand_option(p, "the report says what writing them cost, --json holds them")
    _add_generator_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval_classify)


def _add_sample_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="auto: how many texts the generator labels (default 0: 10 %% of them, at least 10 per label)")


def _add_priors_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--priors", choices=PRIORS, default="none",
                   help="zero-shot/generate: adapt the label priors to the texts being labelled, without labels: "
                        "center = subtract each label's mean log-probability over them, em = EM re-estimation "
                        "(Saerens et al. 2002); needs at least 50 texts (default none)")


def _add_expand_option(p: argparse.ArgumentParser, shown: str) -> None:
    p.add_argument("--expand", type=int, default=0, metavar="N",
                   help=f"zero-shot: the generator writes N typical texts per label (0 to {MAX_EXPAND}), once per "
                        "label set and generator (cached under data/cache/expansions), embedded with the "
                        f"descriptions; {shown} (default 0: off)")


def _add_generator_options(p: argparse.ArgumentParser) -> None:
    model = p.add_mutually_exclusive_group()
    model.add_argument("--preset", choices=sorted(PRESETS),
                       help=f"generate and --expand: generator preset (default {DEFAULT_PRESET})")
    model.add_argument("--model-path", metavar="PATH", help="generate and --expand: a .gguf file run by llama.cpp")


def _generator(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The llama.cpp generator for --method generate (built now, weights load on first use)."""
    from pipelines.generation import load_generator

    return load_generator(args.preset, model_path=args.model_path, backend="llama.cpp")


def _progress(args: argparse.Namespace, total: int) -> Callable[[int, int], None] | None:
    """A tqdm bar for the generator's calls: --method generate over more than 20 texts, --method auto's
    sample (none with --json)."""
    if args.json or args.method not in ("generate", "auto") or (args.method == "generate" and total <= 20):
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, desc="generate", unit="text", leave=False, file=sys.stderr)

    def update(done: int, planned: int) -> None:
        bar.total = planned
        bar.update(done - bar.n)

    return update


def _corrections(args: argparse.Namespace) -> dict[str, str] | None:
    """--corrections FILE as text → label (None without it)."""
    if not args.corrections:
        return None
    path = Path(args.corrections)
    rows = read_rows(path)
    return dict(zip(column(rows, args.text_column, path), column(rows, args.label_column, path), strict=True))


def _show_auto(args: argparse.Namespace, report: object, texts: list[str]) -> None:
    """--method auto: what the generator labelled on stderr; with --sample-out, the sample as a CSV to correct."""
    import csv

    from pipelines.classify.auto import AutoReport

    if not isinstance(report, AutoReport):
        return
    print(report.summary(), file=sys.stderr)
    if args.sample_out:
        with open(args.sample_out, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([args.text_column, args.label_column])
            writer.writerows(zip(texts, report.sample_labels, strict=True))
        print(f"wrote the sample's {len(texts)} texts and labels to {args.sample_out}: fix the wrong ones and pass "
              "the file back with --corrections", file=sys.stderr)


def _options(args: argparse.Namespace) -> ClassifyOptions:
    """The flags as the one options object every front end hands the Workspace."""
    return ClassifyOptions(
        method=args.method, calibration=args.calibration, combine=args.combine, threshold=args.threshold,
        priors=args.priors, expand=args.expand, sample=args.sample, preset=args.preset, model_path=args.model_path,
    )


def _show_expansion(args: argparse.Namespace, ws: Workspace, labels: LabelSet, options: ClassifyOptions) -> None:
    """With --expand (and without --json), print the texts the generator wrote for each label to stderr."""
    if not options.expand or args.json:
        return
    expansion = ws.expand_labels(labels, options)
    assert expansion is not None
    print(expansion.summary(), file=sys.stderr)
    for name, texts in expansion.texts.items():
        print(f"  {name}:", file=sys.stderr)
        for text in texts:
            print(f"    - {text}", file=sys.stderr)


def _texts(args: argparse.Namespace) -> list[str]:
    if args.input:
        path = Path(args.input)
        return column(read_rows(path), args.text_column, path)
    texts = [t for t in args.text if t.strip()]
    if not texts:
        raise ConfigError("nothing to classify: give TEXT, --input FILE or --index")
    return texts


def _label_set(args: argparse.Namespace) -> LabelSet:
    if args.labels:
        return LabelSet.load(Path(args.labels))
    if args.label:
        return LabelSet.parse(args.label)
    raise ConfigError(f"--method {args.method} needs labels: --label 'name=description' (repeat) or --labels FILE")


def _check_options(args: argparse.Namespace) -> None:
    """Fail on missing labels or training data before any model loads."""
    if args.priors != "none" and args.index is not None:
        raise ConfigError("--priors works on texts and files; for the index use --calibration center (zero-shot)")
    if args.method in ("generate", "auto") and args.save:
        raise ConfigError(f"--method {args.method} cannot be saved (it asks the generator about the texts it labels): "
                          "pass --labels again")
    if (args.corrections or args.sample_out) and args.method != "auto":
        raise ConfigError("--corrections and --sample-out are for --method auto (the generator's sample)")
    if args.expand and (args.load or args.method not in LABEL_METHODS):
        raise ConfigError("--expand writes texts for zero-shot labels: use it with --method zero-shot and labels, "
                          "not with --load or a trained method")
    if args.load:
        return
    if args.method in LABEL_METHODS:
        _options(args)  # a bad --expand, --threshold or combination fails before any model loads
        _label_set(args)
    elif not args.train:
        raise ConfigError(f"--method {args.method} needs labelled examples: --train FILE --label-column L")


def _loaded(args: argparse.Namespace) -> Classifier | None:
    """The classifier named by --load (with --threshold applied), or None."""
    _check_options(args)
    if not args.load:
        return None
    clf = load_classifier(Path(args.load))
    if args.threshold is not None:
        clf.threshold = args.threshold
    return clf


def _train(args: argparse.Namespace, encoder: Embedder) -> Classifier:
    """Train the prototype or logistic-regression classifier the options ask for."""
    path = Path(args.train)
    rows = read_rows(path)
    texts, labels = column(rows, args.text_column, path), column(rows, args.label_column, path)
    return train(args.method, texts, labels, encoder, lexical=args.lexical, threshold=args.threshold)


def cmd_classify(args: argparse.Namespace) -> int:
    """Label texts with a zero-shot classifier (label descriptions), the generator (--method generate:
    the label name it is likeliest to answer with), or a prototype / logistic regression classifier
    trained on a labelled file. With --index, every chunk and document of the
    index gets metadata (label, label_score; documents also doc_label) from the stored vectors —
    nothing is embedded again — so `sift search --where label=NAME` filters by it."""
    if args.index is not None:
        return _classify_index(args)
    classifier = _loaded(args)
    texts = _texts(args)
    check_count(args.priors, len(texts))
    if classifier is None and args.method in LABEL_METHODS:
        return _classify_by_labels(args, texts)
    # A saved classifier brings its embedding model; otherwise --model or the settings decide.
    model = args.model or (classifier.model_name if classifier else None)
    encoder = shared_embedder(Settings.load(model=model).model)
    if classifier is not None:
        check_model(classifier, encoder)
    vectors = encoder.encode(texts, show_progress=len(texts) > 200)
    classifier = classifier or _train(args, encoder)
    predictions = predict_adapted(classifier, vectors, texts, args.priors)
    if args.save:
        save_classifier(classifier, Path(args.save))
    return _print_predictions(args, texts, predictions)


def _classify_by_labels(args: argparse.Namespace, texts: list[str]) -> int:
    """Zero-shot or generate from label descriptions: the Workspace's classify verb with the flags' options."""
    ws = workspace(argparse.Namespace(index=None), model=args.model)
    labels, options = _label_set(args), _options(args)
    _show_expansion(args, ws, labels, options)
    if not args.save:
        labelled = ws.classify_with(texts, labels, options, corrections=_corrections(args),
                                    progress=_progress(args, len(texts)))
        _show_auto(args, labelled.auto, [texts[i] for i in labelled.auto.sample] if labelled.auto else [])
        return _print_predictions(args, texts, labelled.predictions)
    vectors = ws.embed(texts)  # zero-shot (generate cannot be saved): keep the classifier to save it
    classifier = ws.label_classifier(labels, options, vectors)
    save_classifier(classifier, Path(args.save))
    return _print_predictions(args, texts, predict_adapted(classifier, vectors, texts, options.priors))


def _print_predictions(args: argparse.Namespace, texts: list[str], predictions: list) -> int:  # type: ignore[type-arg]
    if args.json:
        print_json([{"text": t, **p.to_dict()} for t, p in zip(texts, predictions, strict=True)])
        return 0
    for text, pred in zip(texts, predictions, strict=True):
        snippet = " ".join(text.split())
        print(f"{pred.label:<16} {pred.score:6.3f}  {snippet[:90]}{'…' if len(snippet) > 90 else ''}")
    return 0


def _classify_index(args: argparse.Namespace) -> int:
    label_keys(args.key)  # a key --where could never match is refused before any model loads
    classifier = _loaded(args)
    ws = workspace(argparse.Namespace(index=args.index or None), model=args.model)
    if not args.json:
        print(f"classifying the chunks of {ws.index_dir}…", file=sys.stderr)
    if classifier is None and args.method in LABEL_METHODS:  # from label descriptions: the Workspace's one path
        labels, options = _label_set(args), _options(args)
        _show_expansion(args, ws, labels, options)
        generator = _generator(args) if args.method in ("generate", "auto") else None
        result = ws.label_index(labels, args.key, options, generator=generator, corrections=_corrections(args),
                                progress=_progress(args, 0) if args.method == "auto" else None)
        sample_ids = getattr(result.classifier, "sample_ids", [])
        _show_auto(args, getattr(result.classifier, "report", None), [c.text for c in ws.chunks(sample_ids)])
    else:
        classifier = classifier or _train(args, ws.embedder)
        result = ws.classify_index(classifier, key=args.key)
    if args.save and result.classifier is not None:
        save_classifier(result.classifier, Path(args.save))
    if args.json:
        print_json(result.to_dict())
    else:
        print(f"labelled {result.chunks} chunks and {result.documents} documents under {args.key!r}")
        for label, count in result.document_counts.items():
            print(f"  {label:<24} {count:6d} documents  {result.chunk_counts.get(label, 0):6d} chunks")
    return 0


def cmd_eval_classify(args: argparse.Namespace) -> int:
    """Evaluate zero-shot, generate, auto, prototype or logistic-regression classification on a fixed test split
    (seeded; descriptions and C are chosen on the dev split only). Reports accuracy, macro/weighted F1,
    per-class precision/recall/F1 and the confusion matrix. Embeddings are cached under
    data/cache/embeddings; with --expand, the generator's texts per label under data/cache/expansions (the
    report says how many calls and seconds writing them took, or that they were read from the cache)."""
    config = EvalConfig(
        dataset=args.dataset, csv=Path(args.csv) if args.csv else None, text_column=args.text_column,
        label_column=args.label_column, train_csv=Path(args.train_csv) if args.train_csv else None,
        method=args.method, labels=Path(args.labels) if args.labels else None,
        model=Settings.load(model=args.model).model, calibration=args.calibration, combine=args.combine,
        lexical=args.lexical, seed=args.seed, limit=args.limit, priors=args.priors, preset=args.preset,
        model_path=Path(args.model_path) if args.model_path else None, expand=args.expand, sample=args.sample,
    )
    quantize = Settings.load().quantize  # SIFT_QUANTIZE / sift.toml: measure int8 weights as an index would use them
    encoder = shared_embedder(config.model, quantize=quantize) if config.method != "generate" else None
    config.validate()  # a bad --expand fails before the generator loads
    generator = _generator(args) if config.method in ("generate", "auto") or config.expand else None
    result = evaluate(config, encoder, show_progress=not args.json, generator=generator)
    if args.json:
        print_json(result.to_dict())
    else:
        print(format_result(result))
    return 0

