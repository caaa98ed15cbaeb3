"""Classify page: edit labels and their descriptions; label a text, an uploaded table (download it labelled)
or the whole index; evaluate a method and see accuracy, F1 and the confusion matrix.

Label names are shown escaped (:func:`app.ui.text.plain`): a label can come from a file or a document.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from app.settings import Settings
from app.ui.resources import workspace
from app.ui.text import plain
from app.workspace import Workspace, shared_embedder, shared_generator
from indexing.embedder import Embedder
from indexing.errors import ConfigError, SiftError
from pipelines.classify import (
    PRIORS,
    UNKNOWN,
    Classifier,
    EvalConfig,
    EvalResult,
    LabelSet,
    MetricsReport,
    builtin_labels,
    classify_texts,
    evaluate,
    predict,
    predict_adapted,
    zero_shot,
)
from pipelines.classify.datasets import DATASETS
from pipelines.classify.evaluate import LABEL_METHODS, METHODS
from pipelines.classify.generative import GenerativeClassifier
from pipelines.classify.service import MIN_TEXTS_TO_CENTER
from pipelines.classify.tables import TABLE_SUFFIXES, column, read_rows
from pipelines.generation import DEFAULT_PRESET, PRESETS

LABELS_KEY = "classify_labels"
STARTERS = {
    "wiki-topics (built-in, 11 labels)": lambda: builtin_labels("wiki-topics"),
    "rotten-tomatoes (built-in, fresh / rotten)": lambda: builtin_labels("rotten-tomatoes"),
    "sentiment (2 labels)": lambda: LabelSet.parse(
        ["positive=a positive, happy text", "negative=a negative, unhappy text"]
    ),
}
MAX_TABLE_MB = 50
EMBEDDINGS, GENERATOR = "embeddings (zero-shot)", "generator (picks a label name)"
UPLOAD_FILE = "uploaded labelled file"


def labels_to_text(labels: LabelSet) -> str:
    """One ``label = description`` line per description (the editor's format)."""
    return "\n".join(f"{name} = {desc}" for name, descs in labels.descriptions.items() for desc in descs)


def labels_from_text(text: str) -> LabelSet:
    """Parse the editor: ``label = description`` per line, a repeated label adds a description, a bare
    name describes itself; blank lines and ``#`` comments are ignored.

    Raises:
        ConfigError: fewer than two labels, an empty name or description.
    """
    lines = [line.strip() for line in text.splitlines()]
    specs = [line for line in lines if line and not line.startswith("#")]
    for number, spec in enumerate(specs, 1):
        if spec.startswith("="):
            raise ConfigError(f"labels line {number} ({spec!r}) has no label name before '='")
    return LabelSet.parse(specs)


def labelled_table(rows: list[dict], predictions: list) -> pd.DataFrame:  # type: ignore[type-arg]
    """The uploaded rows with ``label`` and ``label_score`` columns added (overwriting same-named ones)."""
    frame = pd.DataFrame(rows)
    frame["label"] = [p.label for p in predictions]
    frame["label_score"] = [round(p.score, 4) for p in predictions]
    return frame


def render() -> None:
    """Draw the page."""
    st.title("🏷️ Classify")
    st.caption(
        "Zero-shot classification: each text goes to the label whose descriptions its embedding is most "
        "similar to (cosine), or to the label name the generator is likeliest to answer with when the prompt "
        "lists the labels and their descriptions. No training data needed; more and better descriptions help."
    )
    ws = workspace()
    labels = _label_editor()
    cols = st.columns(2)
    how = cols[0].radio("Method", [EMBEDDINGS, GENERATOR], key="classify_method", horizontal=True)
    preset = cols[1].selectbox("Generator preset", list(PRESETS), index=list(PRESETS).index(DEFAULT_PRESET),
                               key="classify_preset", disabled=how != GENERATOR)
    unit = "similarity" if how == EMBEDDINGS else "probability"
    threshold = st.number_input(
        f"Abstain below this {unit} (0 = never; answers 'unknown')", 0.0, 1.0, 0.0, 0.01, key="classify_threshold"
    )
    method = "zero-shot" if how == EMBEDDINGS else "generate"
    text_tab, file_tab, index_tab, eval_tab = st.tabs(["Text", "Table file", "Whole index", "Evaluate"])
    with text_tab:
        _classify_text(ws, labels, threshold, method, preset)
    with file_tab:
        _classify_file(ws, labels, threshold, method, preset)
    with index_tab:
        _classify_index(ws, labels, threshold, method, preset)
    with eval_tab:
        _evaluate(ws, labels, preset)


def _label_editor() -> LabelSet | None:
    """The labels text area (seeded from a starter set); shows the parse error and returns None if invalid."""

    def load_starter() -> None:
        st.session_state[LABELS_KEY] = labels_to_text(STARTERS[st.session_state["classify_starter"]]())

    st.selectbox("Start from", list(STARTERS), key="classify_starter", on_change=load_starter)
    if LABELS_KEY not in st.session_state:
        load_starter()
    text = st.text_area(
        "Labels: one `label = description` per line; repeat a label to give it more descriptions",
        key=LABELS_KEY, height=220,
    )
    try:
        labels = labels_from_text(text)
    except ConfigError as exc:
        st.error(f"{exc}. Fix the labels above: at least two labels, each `name = description`.")
        return None
    counts = ", ".join(f"{plain(name)} ({len(d)})" for name, d in labels.descriptions.items())
    st.caption(f"{len(labels.labels)} labels: {counts}")
    return labels


def _encoder(ws: Workspace) -> Embedder:
    """The index's embedding model (labels and the index's vectors must share it), else the default."""
    return ws.embedder if ws.exists() else shared_embedder(Settings.load().model)


def _threshold(value: float) -> float | None:
    return float(value) if value > 0 else None


def _generative(labels: LabelSet, threshold: float, preset: str) -> GenerativeClassifier:
    return GenerativeClassifier(labels, shared_generator(preset), threshold=_threshold(threshold))


def _classify_text(ws: Workspace, labels: LabelSet | None, threshold: float, method: str, preset: str) -> None:
    text = st.text_area("Text to classify", key="classify_text", height=100)
    if not st.button("Classify text", key="classify_text_go", type="primary"):
        return
    if labels is None:
        return
    if not text.strip():
        st.warning("Type or paste a text to classify.")
        return
    if method == "generate":
        with st.spinner("Scoring each label with the generator…"):
            (pred,) = predict(_generative(labels, threshold, preset), np.zeros((1, 0)), [text])
        st.metric("Label", plain(pred.label), help="'unknown' when the label's probability is below the threshold")
        st.caption(f"the generator's probability of answering this label: {pred.score:.3f}")
    else:
        encoder = _encoder(ws)
        clf = zero_shot(labels, encoder, threshold=_threshold(threshold))
        (pred,) = classify_texts(clf, encoder, [text])
        st.metric("Label", plain(pred.label), help="'unknown' when the best similarity is below the threshold")
        st.caption(f"similarity to the best label's descriptions: {pred.score:.3f}")
    scores = pd.DataFrame({"label": list(pred.scores), "probability": list(pred.scores.values())})
    st.bar_chart(scores, x="label", y="probability", horizontal=True, sort="-probability")


def _classify_file(ws: Workspace, labels: LabelSet | None, threshold: float, method: str, preset: str) -> None:
    types = sorted(s.lstrip(".") for s in TABLE_SUFFIXES)
    upload = st.file_uploader(
        f"CSV, TSV or JSONL file, one text per row (at most {MAX_TABLE_MB} MB)", type=types, key="classify_upload"
    )
    if upload is None:
        st.session_state.pop("classify_file_result", None)
        return
    data = upload.getvalue()
    if len(data) > MAX_TABLE_MB * 1024 * 1024:
        st.error(f"{upload.name}: {len(data) / 2**20:.1f} MB is over the {MAX_TABLE_MB} MB limit; split the file.")
        return
    rows = _read_upload(upload.name, data)
    columns = list(dict.fromkeys(key for row in rows[:50] for key in row))
    text_col = st.selectbox(
        "Text column", columns, index=columns.index("text") if "text" in columns else 0, key="classify_text_column"
    )
    priors = st.selectbox(
        "Adapt label priors to this file (needs 50+ rows)", PRIORS, key="classify_priors",
        help="center: subtract each label's mean log-probability over the file's texts; em: EM re-estimation",
    )
    if st.button("Classify file", key="classify_file_go", type="primary") and labels is not None:
        texts = column(rows, text_col, Path(upload.name))
        clf: Classifier
        if method == "generate":
            clf, vectors = _generative(labels, threshold, preset), np.zeros((len(texts), 0))
        else:
            encoder = _encoder(ws)
            vectors = encoder.encode(texts, show_progress=False)
            clf = zero_shot(labels, encoder, reference=vectors, threshold=_threshold(threshold))
        with st.spinner(f"Labelling {len(texts)} rows…"):
            frame = labelled_table(rows, predict_adapted(clf, vectors, texts, priors))
        centred = method == "zero-shot" and len(texts) >= MIN_TEXTS_TO_CENTER
        st.session_state["classify_file_result"] = (upload.name, frame, centred)
    result = st.session_state.get("classify_file_result")
    if result is None or result[0] != upload.name:
        return
    name, frame, centred = result
    counts = frame["label"].value_counts()
    st.caption(
        f"{len(frame)} rows labelled: " + ", ".join(f"{plain(str(k))} {v}" for k, v in counts.items())
        + (" · similarities centred on this file's texts" if centred else "")
    )
    st.dataframe(frame, hide_index=True, height=260)
    st.download_button(
        "Download the labelled CSV", frame.to_csv(index=False).encode("utf-8"),
        file_name=f"{Path(name).stem}.labelled.csv", mime="text/csv", key="classify_download",
    )


def _read_upload(name: str, data: bytes) -> list[dict]:  # type: ignore[type-arg]
    """Rows of an uploaded table (read through a temporary file with the upload's name)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        return read_rows(path)


def _classify_index(ws: Workspace, labels: LabelSet | None, threshold: float, method: str, preset: str) -> None:
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    key = st.text_input("Metadata key to write", "label", key="classify_key")
    st.caption(
        "Labels every chunk from its stored vector (nothing is re-embedded) and each document from the mean "
        f"of its chunks; search with the filter `{key}=NAME` (chunks) or `doc_{key}=NAME` (documents)."
    )
    if not st.button("Classify the whole index", key="classify_index_go", type="primary") or labels is None:
        return
    try:
        with st.spinner("Labelling the stored vectors…" if method == "zero-shot" else "Labelling every chunk…"):
            generator = shared_generator(preset) if method == "generate" else None
            result = ws.label_index(labels, key.strip(), method=method, threshold=_threshold(threshold),
                                    generator=generator)
    except SiftError as exc:  # e.g. a key no filter could match: say so here, keep the other tabs drawn
        st.error(f"{exc}")
        return
    st.success(f"labelled {result.chunks:,} chunks and {result.documents:,} documents under {result.key!r}")
    table = pd.DataFrame(
        {
            "label": list(result.document_counts),
            "documents": list(result.document_counts.values()),
            "chunks": [result.chunk_counts.get(k, 0) for k in result.document_counts],
        }
    )
    st.dataframe(table, hide_index=True)


def _evaluate(ws: Workspace, labels: LabelSet | None, preset: str) -> None:
    cols = st.columns(3)
    source = cols[0].selectbox("Dataset", [*DATASETS, UPLOAD_FILE], key="classify_eval_source")
    method = cols[1].selectbox("Method", METHODS, key="classify_eval_method")
    limit = cols[2].number_input("Rows per split (0 = all)", 0, 100_000, 500, 100, key="classify_eval_limit")
    upload, text_col, label_col = None, "text", "label"
    if source == UPLOAD_FILE:
        upload = st.file_uploader(
            "Labelled CSV / JSONL (split 70/10/20 into train/dev/test)",
            type=sorted(s.lstrip(".") for s in TABLE_SUFFIXES), key="classify_eval_upload",
        )
        c1, c2 = st.columns(2)
        text_col = c1.text_input("Text column", "text", key="classify_eval_text_column")
        label_col = c2.text_input("Label column", "label", key="classify_eval_label_column")
    use_mine = method in LABEL_METHODS and st.checkbox(
        "Zero-shot with the labels above (else the shipped descriptions or the class names)",
        value=source == UPLOAD_FILE, key=f"classify_eval_mine_{'file' if source == UPLOAD_FILE else 'builtin'}",
    )
    if st.button("Run evaluation", key="classify_eval_go", type="primary"):
        if source == UPLOAD_FILE and upload is None:
            st.warning("Upload a labelled file first.")
            return
        if use_mine and labels is None:
            return
        with tempfile.TemporaryDirectory() as tmp, st.spinner("Embedding or generating, and scoring…"):
            csv_path = labels_path = None
            if upload is not None:
                csv_path = Path(tmp) / Path(upload.name).name
                csv_path.write_bytes(upload.getvalue())
            if use_mine and labels is not None:
                labels_path = Path(tmp) / "labels.json"
                labels_path.write_text(json.dumps(labels.to_dict()), encoding="utf-8")
            config = EvalConfig(
                dataset=None if csv_path else source, csv=csv_path, method=method, labels=labels_path,
                text_column=text_col, label_column=label_col,
                model=_encoder(ws).name, limit=int(limit) or None, preset=preset,
            )
            generator = shared_generator(preset) if method == "generate" else None
            encoder = _encoder(ws) if method != "generate" else None
            st.session_state["classify_eval_result"] = evaluate(config, encoder, generator=generator)
    result: EvalResult | None = st.session_state.get("classify_eval_result")
    if result is not None:
        _show_eval(result)


def _show_eval(result: EvalResult) -> None:
    test = result.test
    sizes = ", ".join(f"{k} {v}" for k, v in result.sizes.items())
    st.caption(f"{result.dataset} · {result.method} · {result.model} · {sizes} · {result.seconds:.1f} s")
    cols = st.columns(3)
    cols[0].metric("Accuracy", f"{test.accuracy:.3f}")
    cols[1].metric("Macro F1", f"{test.macro_f1:.3f}")
    cols[2].metric("Weighted F1", f"{test.weighted_f1:.3f}")
    per_class = pd.DataFrame(
        [
            {"class": name, "precision": m.precision, "recall": m.recall, "F1": m.f1, "support": m.support}
            for name, m in test.per_class.items()
        ]
    )
    st.dataframe(per_class, hide_index=True)
    st.plotly_chart(confusion_figure(test), key="classify_confusion")
    if result.dev is not None:
        st.caption(f"dev split (used for choices): accuracy {result.dev.accuracy:.3f} · "
                   f"macro F1 {result.dev.macro_f1:.3f}")


def confusion_figure(report: MetricsReport):  # type: ignore[no-untyped-def]
    """Heatmap of the test confusion matrix (rows gold, columns predicted; 'unknown' only when used)."""
    matrix = np.asarray(report.confusion)
    columns = [*report.classes, UNKNOWN]
    if matrix[:, -1].sum() == 0:
        matrix, columns = matrix[:, :-1], columns[:-1]
    fig = px.imshow(
        matrix, x=columns, y=report.classes, text_auto=True, color_continuous_scale="Blues",
        labels={"x": "predicted", "y": "gold", "color": "texts"}, aspect="auto",
    )
    fig.update_layout(title="Confusion matrix (test split)", height=max(320, 40 * len(report.classes) + 160))
    return fig
