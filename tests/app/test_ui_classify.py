"""Classify page (AppTest) with the real default embedding model: edited labels; a text, an uploaded table
(labelled and offered for download), the whole index; an evaluation with metrics and the confusion heatmap."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from ui_testkit import build_index, page_app

from app.ui.classify_page import labels_from_text, labels_to_text
from app.workspace import Workspace
from indexing.errors import ConfigError
from indexing.filters import is_valid_key
from pipelines.classify import builtin_labels

LABELS = "animals = a text about animals\nanimals = wildlife and pets\nfood = a text about food, bread or baking"
ANIMALS = ["Penguins hunt fish in cold seas.", "The cat purrs on the sofa.", "Wolves live in packs.",
           "An eagle builds its nest on a cliff.", "Dolphins are playful marine mammals.",
           "The horse galloped across the field.", "Bees collect nectar from flowers.",
           "A frog sat on the lily pad.", "The owl hunts mice at night.", "Elephants have long trunks."]
FOOD = ["Knead the dough and let the bread rise.", "Add sugar and butter to the cake batter.",
        "The soup simmered with carrots and onions.", "Grill the steak for four minutes a side.",
        "Fresh pasta needs flour and eggs.", "She baked a loaf of sourdough.",
        "Season the salad with olive oil and lemon.", "The pie crust should be flaky.",
        "Stir the risotto until it is creamy.", "Toast the bread and spread some jam."]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("classify"))


def classify_page(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    at = page_app("app.ui.classify_page").run()
    assert not at.exception and not at.error
    at.text_area(key="classify_labels").set_value(LABELS)
    return at.run()


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return at.run()


def test_label_text_round_trip_and_errors() -> None:
    labels = labels_from_text(f"# my labels\n\n{LABELS}\n")
    assert labels.descriptions == {
        "animals": ["a text about animals", "wildlife and pets"],
        "food": ["a text about food, bread or baking"],
    }
    assert labels_from_text(labels_to_text(labels)) == labels
    with pytest.raises(ConfigError, match="at least two labels"):
        labels_from_text("only = one label")
    with pytest.raises(ConfigError, match="line 2"):
        labels_from_text("a = x\n= no name")


def test_starter_sets_fill_the_editor(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    at = page_app("app.ui.classify_page").run()
    assert labels_from_text(at.text_area(key="classify_labels").value) == builtin_labels("wiki-topics")
    at.selectbox(key="classify_starter").set_value("rotten-tomatoes (built-in, fresh / rotten)").run()
    labels = labels_from_text(at.text_area(key="classify_labels").value)
    assert labels.labels == ["fresh", "rotten"]
    assert any(c.value.startswith("2 labels: fresh (") for c in at.caption)


def test_bad_labels_show_an_error_and_classify_nothing(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = classify_page(index_dir, monkeypatch)
    at.text_area(key="classify_labels").set_value("lonely = just one label").run()
    assert "at least two labels" in at.error[0].value
    at.text_area(key="classify_text").set_value("Penguins hunt fish.")
    at = click(at, "classify_text_go")
    assert not at.exception and not at.get("metric")


def test_classify_a_text(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = classify_page(index_dir, monkeypatch)
    assert any(c.value == "2 labels: animals (2), food (1)" for c in at.caption)
    at.text_area(key="classify_text").set_value("Penguins hunt fish in cold seas.")
    at = click(at, "classify_text_go")
    assert not at.exception and not at.error
    assert at.metric[0].value == "animals"
    at.text_area(key="classify_text").set_value("Knead the dough, then bake the bread.")
    at = click(at, "classify_text_go")
    assert at.metric[0].value == "food"


def test_classify_an_uploaded_table_and_offer_it_for_download(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = classify_page(index_dir, monkeypatch)
    table = pd.DataFrame({"id": [1, 2, 3], "sentence": [ANIMALS[0], FOOD[0], ANIMALS[1]]})
    at.file_uploader(key="classify_upload").set_value(("notes.csv", table.to_csv(index=False).encode(), "text/csv"))
    at.run()
    at.selectbox(key="classify_text_column").set_value("sentence")
    at = click(at, "classify_file_go")
    assert not at.exception and not at.error
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["id", "sentence", "label", "label_score"]
    assert list(frame["label"]) == ["animals", "food", "animals"]
    assert at.get("download_button"), "the labelled CSV can be downloaded"
    assert any(c.value.startswith("3 rows labelled: animals 2, food 1") for c in at.caption)


def test_unreadable_upload_is_a_clear_error(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = classify_page(index_dir, monkeypatch)
    at.file_uploader(key="classify_upload").set_value(("broken.jsonl", b'{"text": "ok"}\nnot json\n', "text/plain"))
    at.run()
    assert not at.exception
    assert "broken.jsonl: line 2 is not valid JSON" in at.error[0].value


def test_classify_the_whole_index_writes_searchable_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = build_index(tmp_path)  # its own index: this test writes metadata
    at = classify_page(index_dir, monkeypatch)
    at = click(at, "classify_index_go")
    assert not at.exception and not at.error
    ws = Workspace(index_dir)
    chunks = ws.info()["chunks"]
    assert at.success[0].value.startswith(f"labelled {chunks} chunks")
    food = {hit.title for hit in ws.search("bread", k=10, mode="bm25", where={"doc_label": "food"})}
    assert {"Sourdough", "Baguette"} <= food


@pytest.mark.parametrize(
    "key,needle",
    [("topic_id", "reserved"), ("1x", "label key '1x' is not valid"), ("id", "would write 'doc_id'"), ("", "''")],
)
def test_a_key_no_filter_could_match_is_refused_and_nothing_is_written(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch, key: str, needle: str
) -> None:
    at = classify_page(index_dir, monkeypatch)
    at.text_input(key="classify_key").set_value(key)
    at = click(at, "classify_index_go")
    assert not at.exception and not at.success
    assert needle in at.error[0].value
    assert at.button(key="classify_eval_go"), "the other tabs are still drawn"
    written = [k for k in (key, f"{key}_score", f"doc_{key}") if is_valid_key(k)]
    assert not any(Workspace(index_dir).meta_values(k) for k in written), "no label was written"


def test_evaluate_on_an_uploaded_labelled_file(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = classify_page(index_dir, monkeypatch)
    rows = [{"text": t, "label": "animals"} for t in ANIMALS] + [{"text": t, "label": "food"} for t in FOOD]
    buffer = io.StringIO()
    pd.DataFrame(rows * 2).to_csv(buffer, index=False)  # duplicates are dropped before splitting
    at.selectbox(key="classify_eval_source").set_value("uploaded labelled file").run()
    at.file_uploader(key="classify_eval_upload").set_value(("pets_food.csv", buffer.getvalue().encode(), "text/csv"))
    at.run()
    assert at.checkbox(key="classify_eval_mine_file").value, "an uploaded file uses the edited labels by default"
    at = click(at, "classify_eval_go")
    assert not at.exception and not at.error
    values = {m.label: float(m.value) for m in at.metric}
    assert set(values) == {"Accuracy", "Macro F1", "Weighted F1"}
    assert values["Accuracy"] >= 0.75, "these sentences are easy for zero-shot"
    assert len(at.get("plotly_chart")) == 1, "the confusion heatmap"
    per_class = at.dataframe[-1].value
    assert list(per_class["class"]) == ["animals", "food"] and per_class["support"].sum() == 4

    at.selectbox(key="classify_eval_method").set_value("logreg")
    at = click(at, "classify_eval_go")
    assert not at.exception and not at.error
    assert "logreg" in next(c.value for c in at.caption if "pets_food" in c.value)


@pytest.mark.slow
def test_classify_a_text_with_the_generator(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = classify_page(index_dir, monkeypatch)
    at.text_area(key="classify_labels").set_value("sports = a text about sports\ncooking = a text about cooking")
    at.radio(key="classify_method").set_value("generator (picks a label name)").run()
    at.selectbox(key="classify_preset").set_value("smollm2-135m").run()
    for text, label in [("The tennis champion won the final in straight sets.", "sports"),
                        ("Chop the onions finely and fry them in butter until golden.", "cooking")]:
        at.text_area(key="classify_text").set_value(text)
        at = click(at, "classify_text_go")
        assert not at.exception and not at.error
        assert at.metric[0].value == label
        assert any(c.value.startswith("the generator's probability of answering this label:") for c in at.caption)


@pytest.mark.slow
def test_auto_on_a_table_shows_the_sample_and_relabels_with_corrections(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classify_testkit import LABELS, TEXTS, accuracy

    at = classify_page(index_dir, monkeypatch)
    at.text_area(key="classify_labels").set_value("\n".join(f"{k} = {v}" for k, v in LABELS.items()))
    at.radio(key="classify_method").set_value("generator on a sample, embeddings for the rest (auto)").run()
    at.selectbox(key="classify_preset").set_value("smollm2-135m").run()
    table = pd.DataFrame({"text": TEXTS})
    at.file_uploader(key="classify_upload").set_value(("notes.csv", table.to_csv(index=False).encode(), "text/csv"))
    at = click(at.run(), "classify_file_go")
    assert not at.exception and not at.error
    assert at.info[0].value.startswith("auto: the generator labelled 20 of 60 texts")
    sample = at.dataframe[0].value  # the editable sample: text, the generator's label, label
    assert list(sample.columns) == ["text", "labelled by", "label"] and len(sample) == 20
    assert set(sample["labelled by"]) == {"the generator"}
    frame = at.dataframe[1].value
    assert accuracy(list(frame["label"])) >= 0.95
    # A person corrects the first sample row (the table's edits land in this state): the rerun takes it as a
    # training label and as that text's answer.
    first, label = sample.iloc[0]["text"], sample.iloc[0]["label"]
    wrong = "cooking" if label == "sports" else "sports"
    at.session_state["classify_corrections_file"] = {first: wrong}
    at = click(at, "classify_file_again")
    assert not at.exception and not at.error
    assert "1 corrected by hand" in at.info[0].value
    relabelled = at.dataframe[1].value
    assert relabelled.loc[TEXTS.index(first), "label"] == wrong
    again = at.dataframe[0].value  # the correction stays in the sample, marked as the person's, for the next run
    row = again[again["text"] == first].iloc[0]
    assert row["labelled by"] == "you" and row["label"] == wrong
    assert at.session_state["classify_corrections_file"] == {first: wrong}


@pytest.mark.slow
def test_expanded_labels_are_shown_and_used(index_dir: Path, monkeypatch: pytest.MonkeyPatch, expansions) -> None:
    at = classify_page(index_dir, monkeypatch)
    assert at.selectbox(key="classify_preset").disabled, "no generator without --expand or the generate method"
    at.number_input(key="classify_expand").set_value(2).run()
    assert not at.selectbox(key="classify_preset").disabled
    at.selectbox(key="classify_preset").set_value("smollm2-135m").run()
    at.text_area(key="classify_text").set_value("Penguins hunt fish in cold seas.")
    at = click(at, "classify_text_go")
    assert not at.exception and not at.error
    assert [n for n, _, _ in expansions] == [2, 2] and expansions[1][2] == 0, "shown, then classify reads the cache"
    assert at.expander[0].label.startswith("expanded labels: SmolLM2-135M-Instruct.Q4_1.gguf wrote")
    assert at.metric[0].value == "animals"
