"""Classify page: edit labels and their descriptions; label a text, an uploaded table (download it labelled)
or the whole index; evaluate a method and see accuracy, F1 and the confusion matrix.

Label names are shown escaped (:func:`app.ui.text.plain`): a label can come from a file or a document.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app.settings import Settings
from app.ui.classify_eval import evaluate_tab
from app.ui.resources import workspace
from app.ui.text import plain
from app.workspace import Workspace, shared_embedder
from indexing.embedder import Embedder
from indexing.errors import ConfigError, SiftError
from pipelines.classify import (
    PRIORS,
    LabelSet,
    builtin_labels,
)
from pipelines.classify.auto import AutoReport
from pipelines.classify.expand import MAX_EXPAND
from pipelines.classify.service import MIN_TEXTS_TO_CENTER
from pipelines.classify.tables import TABLE_SUFFIXES, column, read_rows
from pipelines.generation import DEFAULT_PRESET, PRESETS
from pipelines.generation.presets import default_preset
from pipelines.options import ClassifyOptions

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
AUTO = "generator on a sample, embeddings for the rest (auto)"
METHODS = {EMBEDDINGS: "zero-shot", AUTO: "auto", GENERATOR: "generate"}
CORRECTIONS_KEY = "classify_corrections"
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
    options = _options()
    text_tab, file_tab, index_tab, eval_tab = st.tabs(["Text", "Table file", "Whole index", "Evaluate"])
    with text_tab:
        _classify_text(ws, labels, options)
    with file_tab:
        _classify_file(ws, labels, options)
    with index_tab:
        _classify_index(ws, labels, options)
    with eval_tab:
        evaluate_tab(labels, options, _encoder(ws))


def _options() -> ClassifyOptions:
    """The page's controls as the one options object the Workspace's classify verbs take."""
    cols = st.columns(3)
    how = cols[0].radio(
        "Method", list(METHODS), key="classify_method",
        help="auto: the generator labels 10 % of the texts (at least 10 per label), a classifier on the embeddings "
             "learns from its labels and labels the rest; you can correct the sample's labels and run it again.",
    )
    expand = cols[1].number_input(
        "Typical texts per label (0 = off)", 0, MAX_EXPAND, 0, 1, key="classify_expand", disabled=how != EMBEDDINGS,
        help="The generator writes this many typical texts for each label, once per label set (cached), and they "
             "are embedded with the descriptions. Slow the first time: one generator call per label.",
    )
    expand = int(expand) if how == EMBEDDINGS else 0
    preset = cols[2].selectbox("Generator preset", list(PRESETS), index=list(PRESETS).index(_configured_preset()),
                               key="classify_preset", disabled=how == EMBEDDINGS and not expand)
    unit = "similarity" if how == EMBEDDINGS else "probability"
    threshold = st.number_input(
        f"Abstain below this {unit} (0 = never; answers 'unknown')", 0.0, 1.0, 0.0, 0.01, key="classify_threshold"
    )
    return ClassifyOptions(method=METHODS[how], threshold=_threshold(threshold), expand=expand, preset=preset)


def _configured_preset() -> str:
    """``$SIFT_GENERATOR``'s preset (the one every other page uses), or the default when it names none."""
    try:
        return default_preset()
    except ConfigError:
        return DEFAULT_PRESET


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


def _show_expansion(ws: Workspace, labels: LabelSet, options: ClassifyOptions) -> None:
    """The texts the generator wrote for each label (written once per label set, then read from the cache)."""
    if not options.expand:
        return
    with st.spinner(f"Writing {options.expand} typical texts per label with the generator (once; then cached)…"):
        expansion = ws.expand_labels(labels, options)
    assert expansion is not None
    with st.expander(expansion.summary()):
        for name, texts in expansion.texts.items():
            st.markdown(f"**{plain(name)}**")
            st.text("\n".join(f"- {text}" for text in texts))


def _classify_text(ws: Workspace, labels: LabelSet | None, options: ClassifyOptions) -> None:
    text = st.text_area("Text to classify", key="classify_text", height=100)
    if not st.button("Classify text", key="classify_text_go", type="primary"):
        return
    if labels is None:
        return
    if not text.strip():
        st.warning("Type or paste a text to classify.")
        return
    _show_expansion(ws, labels, options)
    with st.spinner("Scoring each label with the generator…" if options.method != "zero-shot" else "Embedding…"):
        (pred,) = ws.classify([text], labels, options)
    generated = options.method != "zero-shot"
    unit = "the label's probability" if generated else "the best similarity"
    st.metric("Label", plain(pred.label), help=f"'unknown' when {unit} is below the threshold")
    score = "the generator's probability of answering this label" if generated else "similarity to the best label's"
    st.caption(f"{score}{'' if generated else ' descriptions'}: {pred.score:.3f}")
    scores = pd.DataFrame({"label": list(pred.scores), "probability": list(pred.scores.values())})
    st.bar_chart(scores, x="label", y="probability", horizontal=True, sort="-probability")


def _classify_file(ws: Workspace, labels: LabelSet | None, options: ClassifyOptions) -> None:
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
    go = st.button("Classify file", key="classify_file_go", type="primary")
    again = st.session_state.pop("classify_file_again_pressed", False)
    if (go or again) and labels is not None:
        texts = column(rows, text_col, Path(upload.name))
        _show_expansion(ws, labels, options)
        with st.spinner(f"Labelling {len(texts)} rows…"):
            labelled = ws.classify_with(texts, labels, options, priors=priors, progress=_progress_bar(options),
                                        corrections=_corrections("file", options, go))
        frame = labelled_table(rows, labelled.predictions)
        centred = options.method in ("zero-shot", "auto") and len(texts) >= MIN_TEXTS_TO_CENTER
        sample = _sample(labelled.auto, [texts[i] for i in labelled.auto.sample] if labelled.auto else [],
                         st.session_state.get(f"{CORRECTIONS_KEY}_file_applied"))
        st.session_state["classify_file_result"] = (upload.name, frame, centred, labelled.auto, sample)
    result = st.session_state.get("classify_file_result")
    if result is None or result[0] != upload.name:
        return
    name, frame, centred, report, sample = result
    _show_sample("file", report, sample, labels)
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


def _classify_index(ws: Workspace, labels: LabelSet | None, options: ClassifyOptions) -> None:
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    key = st.text_input("Metadata key to write", "label", key="classify_key")
    st.caption(
        "Labels every chunk from its stored vector (nothing is re-embedded) and each document from the mean "
        f"of its chunks; search with the filter `{key}=NAME` (chunks) or `doc_{key}=NAME` (documents)."
    )
    go = st.button("Classify the whole index", key="classify_index_go", type="primary")
    again = st.session_state.pop("classify_index_again_pressed", False)
    if not (go or again) or labels is None:
        if "classify_index_result" in st.session_state:
            _show_sample("index", *st.session_state["classify_index_result"], labels)
        return
    try:
        _show_expansion(ws, labels, options)
        with st.spinner("Labelling the stored vectors…" if options.method == "zero-shot" else "Labelling every chunk…"):
            result = ws.label_index(labels, key.strip(), options, progress=_progress_bar(options),
                                    corrections=_corrections("index", options, go))
    except SiftError as exc:  # e.g. a key no filter could match: say so here, keep the other tabs drawn
        st.error(f"{exc}")
        return
    report = getattr(result.classifier, "report", None)
    if report is not None:
        ids = getattr(result.classifier, "sample_ids", [])
        texts = {c.id: c.text for c in ws.chunks(ids)} if ids else {}
        st.session_state["classify_index_result"] = (report, _sample(report, [texts.get(i, "") for i in ids],
                                                                     st.session_state.get(f"{CORRECTIONS_KEY}_index_applied")))
        _show_sample("index", *st.session_state["classify_index_result"], labels)
    st.success(f"labelled {result.chunks:,} chunks and {result.documents:,} documents under {result.key!r}")
    table = pd.DataFrame(
        {
            "label": list(result.document_counts),
            "documents": list(result.document_counts.values()),
            "chunks": [result.chunk_counts.get(k, 0) for k in result.document_counts],
        }
    )
    st.dataframe(table, hide_index=True)


def _progress_bar(options: ClassifyOptions):  # type: ignore[no-untyped-def]
    """A progress bar for the generator's calls (generate and auto), as a (done, total) callback; None otherwise."""
    if options.method == "zero-shot":
        return None
    bar = st.progress(0.0, text="the generator is labelling…")

    def update(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"the generator labelled {done:,} of {total:,} texts")

    return update


def _sample(report: AutoReport | None, texts: list[str], applied: dict[str, str] | None) -> pd.DataFrame | None:
    """auto: the texts of its sample with their labels and who gave them, as the table a person corrects."""
    if report is None:
        return None
    by = ["you" if t in (applied or {}) else "the generator" for t in texts]
    return pd.DataFrame({"text": texts, "labelled by": by, "label": report.sample_labels})


def _show_sample(where: str, report: AutoReport | None, sample: pd.DataFrame | None, labels: LabelSet | None) -> None:
    """auto's report and its sample, the ``label`` column editable; the corrections made so far and the new
    edits are kept for the next run."""
    if report is None or sample is None or labels is None:
        return
    st.info(report.summary())
    st.caption("The sample the generator labelled. Change a label where it is wrong and press "
               "'Label again with my corrections': corrected texts train the classifier (no generator call).")
    edited = st.data_editor(
        sample, key=f"classify_sample_{where}", hide_index=True, disabled=["text", "labelled by"],
        column_config={"label": st.column_config.SelectboxColumn("label", options=list(labels.labels), required=True)},
    )
    changed = edited[edited["label"] != sample["label"]]
    applied = st.session_state.get(f"{CORRECTIONS_KEY}_{where}_applied") or {}
    st.session_state[f"{CORRECTIONS_KEY}_{where}"] = {**applied, **dict(zip(changed["text"], changed["label"],
                                                                            strict=True))}
    if len(changed):
        st.caption(f"{len(changed)} new correction(s) waiting")
    st.button("Label again with my corrections", key=f"classify_{where}_again",
              on_click=lambda: st.session_state.update({f"classify_{where}_again_pressed": True}))


def _corrections(where: str, options: ClassifyOptions, fresh: bool) -> dict[str, str] | None:
    """The corrections for an auto rerun (a fresh 'Classify' press starts without any), remembered as applied."""
    if options.method != "auto" or fresh:
        st.session_state.pop(f"{CORRECTIONS_KEY}_{where}", None)
        st.session_state.pop(f"{CORRECTIONS_KEY}_{where}_applied", None)
        return None
    corrections = st.session_state.get(f"{CORRECTIONS_KEY}_{where}") or None
    st.session_state[f"{CORRECTIONS_KEY}_{where}_applied"] = corrections
    return corrections
