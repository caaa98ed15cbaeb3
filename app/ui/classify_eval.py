"""The Classify page's Evaluate tab: score a method on a built-in set or an uploaded labelled file, with the page's
labels and options; accuracy, F1, per-class scores and the confusion matrix."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from app.workspace import shared_generator
from indexing.embedder import Embedder
from pipelines.classify import UNKNOWN, EvalConfig, EvalResult, LabelSet, MetricsReport, evaluate
from pipelines.classify.datasets import DATASETS
from pipelines.classify.evaluate import LABEL_METHODS, METHODS
from pipelines.classify.tables import TABLE_SUFFIXES
from pipelines.options import ClassifyOptions

UPLOAD_FILE = "uploaded labelled file"


def evaluate_tab(labels: LabelSet | None, options: ClassifyOptions, encoder: Embedder) -> None:
    """Draw the tab: ``labels`` and ``options`` are the page's; ``encoder`` its embedding model."""
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
            expand = options.expand if method == "zero-shot" else 0
            config = EvalConfig(
                dataset=None if csv_path else source, csv=csv_path, method=method, labels=labels_path,
                text_column=text_col, label_column=label_col,
                model=encoder.name, limit=int(limit) or None, preset=options.preset, expand=expand,
            )
            generator = shared_generator(options.preset) if method in ("generate", "auto") or expand else None

            embedder = encoder if method != "generate" else None
            st.session_state["classify_eval_result"] = evaluate(config, embedder, generator=generator)
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
    if result.expansion is not None:
        st.caption(result.expansion.summary())
    if result.auto is not None:
        st.caption(result.auto.summary())


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
