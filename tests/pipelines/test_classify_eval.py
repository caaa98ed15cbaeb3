"""Evaluation on small real slices of the built-in datasets and on CSV files; fixed, seeded splits."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from indexing.errors import ConfigError, DatasetError
from pipelines.classify import EvalConfig, evaluate, format_result
from pipelines.classify.datasets import (
    FORTUNE_FILES,
    FORTUNES_DIR,
    Split,
    debates_2016,
    fortunes,
    from_files,
    rotten_tomatoes,
    split_three,
    subsample,
    wiki_topics,
)
from pipelines.classify.tables import column, read_rows


@pytest.fixture(scope="module")
def rt():
    return rotten_tomatoes()


def test_rotten_tomatoes_splits_are_fixed_and_disjoint(rt):
    assert len(rt.test) == 1066 and len(rt.dev) == 1066 and len(rt.train) > 10_000
    assert rt.classes == ["fresh", "rotten"]
    assert not set(rt.test.texts) & set(rt.train.texts) and not set(rt.dev.texts) & set(rt.train.texts)
    again = rotten_tomatoes()
    assert again.test.texts == rt.test.texts and again.dev.labels == rt.dev.labels
    share = rt.test.labels.count("fresh") / len(rt.test)
    assert share == pytest.approx(rt.train.labels.count("fresh") / len(rt.train), abs=0.01)


def test_wiki_topics_has_eleven_classes_without_uncategorized():
    ds = wiki_topics()
    assert len(ds.classes) == 11 and "Uncategorized" not in ds.classes
    assert len(ds.train) + len(ds.dev) + len(ds.test) > 8_500
    assert ds.test.texts[0].split(". ")[0]  # "<title>. <extract>"


def test_debates_2016_are_turns_by_side_with_moderators():
    ds = debates_2016()
    assert ds.classes == ["Democratic", "Moderator", "Republican"]
    assert len(ds.test) == 211 and len(ds.train) + len(ds.dev) + len(ds.test) > 1000
    assert not set(ds.test.texts) & set(ds.train.texts)
    assert all("\n" not in t and t == t.strip() for t in ds.test.texts)


@pytest.mark.skipif(shutil.which("apt-get") is None and not FORTUNES_DIR.is_dir(),
                    reason="reads Debian's fortunes package: installed, or fetched with apt-get download")
def test_fortunes_are_quips_labelled_by_their_file():
    ds = fortunes()
    assert ds.classes == list(FORTUNE_FILES) and len(ds.test) > 500
    assert set(ds.test.labels) == set(FORTUNE_FILES) and not any("%" == t for t in ds.test.texts)


def test_fortunes_without_the_package_or_apt_say_what_to_install(tmp_path, monkeypatch):
    from pipelines.classify import datasets

    monkeypatch.setattr(datasets, "FORTUNES_DIR", tmp_path / "none")
    monkeypatch.setattr(datasets, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no dpkg-deb
    with pytest.raises(DatasetError, match=r"install it \(apt-get install fortunes\)"):
        datasets.fortunes()


def test_split_three_drops_conflicting_duplicates():
    data = Split(["x", "x", "y", "y"] + [f"t{i}" for i in range(40)], ["a", "b", "a", "a"] + ["a", "b"] * 20)
    train, dev, test = split_three(data, 0.2, 0.1, seed=1)
    everything = train.texts + dev.texts + test.texts
    assert "x" not in everything and everything.count("y") == 1 and len(everything) == 41


def test_zero_shot_eval_on_rotten_tomatoes_slice(embedder):
    result = evaluate(EvalConfig(dataset="rotten-tomatoes", method="zero-shot", limit=100), embedder)
    assert result.sizes == {"train": 100, "dev": 100, "test": 100}
    assert result.test.weighted_f1 > 0.6  # chance is ~0.5; the full test split gives ~0.70
    assert sum(m.support for m in result.test.per_class.values()) == 100
    text = format_result(result)
    assert "TEST" in text and "fresh" in text and "confusion" in text
    assert json.loads(json.dumps(result.to_dict()))["test"]["per_class"]["rotten"]["support"] > 0


def test_logreg_and_prototype_eval_on_wiki_slice(embedder):
    zs = evaluate(EvalConfig(dataset="wiki-topics", method="zero-shot", limit=60), embedder)
    assert zs.test.macro_f1 > 0.45  # 11 classes: chance is ~0.09
    lr = evaluate(EvalConfig(dataset="wiki-topics", method="logreg", limit=60), embedder)
    assert lr.settings["C"] in (0.1, 0.3, 1.0, 3.0, 10.0) and lr.test.accuracy > 0.5
    proto = evaluate(EvalConfig(dataset="wiki-topics", method="prototype", limit=60), embedder)
    assert proto.test.accuracy > 0.5


def _write_csv(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["body", "topic"])
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture()
def toy_csv(tmp_path):
    sport = ["The team won the match {}.", "She scored a goal in game {}.", "The runner finished race {}."]
    food = ["Bake the bread for {} minutes.", "Add {} spoons of sugar to the cake.", "Fry the onions for {} minutes."]
    rows = [{"body": s.format(i), "topic": "sport"} for i in range(10) for s in sport]
    rows += [{"body": f.format(i), "topic": "food"} for i in range(10) for f in food]
    _write_csv(tmp_path / "toy.csv", rows)
    return tmp_path / "toy.csv"


def test_eval_csv_zero_shot_with_label_names_and_logreg(embedder, toy_csv, tmp_path):
    config = EvalConfig(csv=toy_csv, text_column="body", label_column="topic", method="zero-shot")
    assert evaluate(config, embedder).test.accuracy >= 0.9
    _write_csv(tmp_path / "test.csv", [{"body": "A penalty in extra time.", "topic": "sport"},
                                       {"body": "Knead the dough and let it rise.", "topic": "food"}])
    config = EvalConfig(csv=tmp_path / "test.csv", train_csv=toy_csv, text_column="body", label_column="topic",
                        method="logreg", lexical=True)
    result = evaluate(config, embedder)
    assert result.sizes["test"] == 2 and result.test.accuracy == 1.0


def test_eval_refuses_bad_options(embedder, toy_csv, tmp_path):
    with pytest.raises(ConfigError, match="exactly one"):
        evaluate(EvalConfig(), embedder)
    with pytest.raises(ConfigError, match="no column 'text'"):
        evaluate(EvalConfig(csv=toy_csv, label_column="topic"), embedder)
    (tmp_path / "labels.toml").write_text('sport = "sport"\nmusic = "music"\n')
    with pytest.raises(ConfigError, match="no descriptions for classes"):
        evaluate(EvalConfig(csv=toy_csv, text_column="body", label_column="topic",
                            labels=tmp_path / "labels.toml"), embedder)
    (tmp_path / "tiny.csv").write_text("body,topic\nx,a\ny,b\n")
    with pytest.raises(DatasetError, match="cannot split"):
        from_files(tmp_path / "tiny.csv", "body", "topic")


def test_tables_read_csv_and_jsonl(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "n": 1}\n\n{"text": null}\n')
    rows = read_rows(tmp_path / "a.jsonl")
    assert column(rows, "text", tmp_path / "a.jsonl") == ["hi", ""]
    (tmp_path / "b.jsonl").write_text('{"text": "hi"}\nnot json\n')
    with pytest.raises(DatasetError, match="line 2"):
        read_rows(tmp_path / "b.jsonl")
    assert len(subsample(Split(list("abcdefghij"), ["x", "y"] * 5), 4)) == 4
