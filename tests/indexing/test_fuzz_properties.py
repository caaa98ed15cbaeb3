"""Property tests (hypothesis) for every input boundary: chunker offsets, loaders on arbitrary bytes,
CSV/JSONL rows, ``--where`` parsing (CLI and UI), label files and the eval JSONL reader."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.cli.common import parse_where as cli_parse_where
from indexing.chunker import Chunker, ChunkerConfig
from indexing.datatypes import Document
from indexing.errors import ConfigError, DatasetError, LoaderError
from indexing.filters import KEY_PATTERN
from indexing.filters import parse_filter_text as ui_parse_where
from indexing.loaders import load_file
from pipelines.classify.label_set import LabelSet
from pipelines.rag.datasets import load_jsonl as load_eval_jsonl

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Text a file can hold: any code point but lone surrogates (not encodable as UTF-8).
TEXT = st.text(st.characters(exclude_categories=("Cs",)))
# Words, separators, emoji and a 130-letter run (one [UNK] token for WordPiece) for the splitter's edge cases.
WORDS = st.lists(st.sampled_from(["tide", "pool", "ß", "🦀", "naïve", "a" * 130, ".", ",", "\n", "\n\n", "  "]))
TEXT_SUFFIXES = [".txt", ".md", ".rst", ".html", ".csv", ".jsonl", ".json"]


def _file(suffix: str, data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115 - closed at once, unlinked by caller
    handle.write(data)
    handle.close()
    return Path(handle.name)


# ---- chunker: offsets slice the text exactly; no chunk over the model's limit ---------------------
@pytest.mark.slow
@FUZZ
@given(text=st.one_of(TEXT, WORDS.map("".join), WORDS.map(" ".join)), size=st.sampled_from([16, 40, 200]))
def test_chunks_slice_the_text_and_fit_the_model(embedder, text: str, size: int) -> None:  # noqa: ANN001
    chunker = Chunker(ChunkerConfig(size, size // 4), embedder.count_tokens, embedder.count_tokens_many)
    doc = Document("d", "d", "t", text)
    for chunks in (chunker.split(doc), chunker.split_many([doc])[0]):
        assert all(text[c.start : c.end] == c.text for c in chunks)
        assert all(embedder.count_tokens(c.text) <= size for c in chunks)
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)
        assert bool(chunks) == bool(text.strip())


# ---- loaders on arbitrary bytes: a document or a LoaderError naming the file, nothing else ---------
@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(TEXT_SUFFIXES))
def test_text_loaders_on_arbitrary_bytes_load_or_refuse_by_name(data: bytes, suffix: str) -> None:
    path = _file(suffix, data)
    try:
        docs = load_file(path)
    except LoaderError as exc:
        assert str(exc).startswith(f"{path}: ")
    else:
        assert docs and all(d.text.strip() and d.source == str(path.resolve()) for d in docs)
    finally:
        path.unlink()


CELL = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"), max_size=30)


@FUZZ
@given(rows=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=8))
def test_csv_rows_round_trip(rows: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["title", "text"])
    writer.writerows(rows)
    path = _file(".csv", buffer.getvalue().encode())
    try:
        expected = [(t.strip() or f"{path.stem} row {n}", x.strip()) for n, (t, x) in enumerate(rows, 1) if x.strip()]
        if not expected:
            with pytest.raises(LoaderError, match="no rows with text"):
                load_file(path)
            return
        assert [(d.title, d.text) for d in load_file(path)] == expected
    finally:
        path.unlink()


SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
JSON_VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3))


def _cell(value: object) -> str:
    """A JSON value as the loaders read a cell: strings as they are, null as empty, the rest as JSON."""
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@FUZZ
@given(rows=st.lists(st.dictionaries(st.sampled_from(["text", "title", "lang"]), JSON_VALUE), min_size=1, max_size=6))
def test_jsonl_rows_round_trip(rows: list[dict]) -> None:
    path = _file(".jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode())
    try:
        expected = [_cell(r["text"]).strip() for r in rows if _cell(r.get("text")).strip()]
        if not expected:
            with pytest.raises(LoaderError) as error:
                load_file(path)
            assert str(error.value).startswith(f"{path}: ")
            return
        assert [d.text for d in load_file(path)] == expected
    finally:
        path.unlink()


# ---- --where parsing: CLI (repeated KEY=VALUE) and UI (comma separated) --------------------------
KEY = st.from_regex(KEY_PATTERN, fullmatch=True)
VALUE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=","))


@FUZZ
@given(pairs=st.dictionaries(KEY, VALUE.map(str.strip), min_size=1, max_size=5))
def test_where_pairs_round_trip(pairs: dict[str, str]) -> None:
    assert cli_parse_where([f"{k}={v}" for k, v in pairs.items()]) == pairs
    assert ui_parse_where(", ".join(f" {k} = {v} " for k, v in pairs.items())) == pairs


@FUZZ
@given(bad=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="=,")).filter(str.strip))
def test_where_without_equals_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ConfigError) as cli_error:
        cli_parse_where(["topic=Arts", bad])
    assert f"--where {bad.strip()!r} is not key=value" in str(cli_error.value)
    with pytest.raises(ConfigError) as ui_error:
        ui_parse_where(f"topic=Arts,{bad}")
    assert f"filter {bad.strip()!r} is not key=value" in str(ui_error.value)


@FUZZ
@given(key=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="=,"), min_size=1).filter(
    lambda k: k.strip() and not KEY_PATTERN.fullmatch(k.strip())
))
def test_where_with_an_invalid_key_is_refused_naming_it(key: str) -> None:
    for parse, given_as in ((lambda s: cli_parse_where([s]), "--where key"), (ui_parse_where, "filter key")):
        with pytest.raises(ConfigError) as error:
            parse(f"{key}=x")
        assert f"{given_as} {key.strip()!r} is not valid" in str(error.value)


# ---- label files and the eval JSONL reader ------------------------------------------------------
@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".toml", ".json"]))
def test_label_file_on_arbitrary_bytes_loads_or_raises_config_error(data: bytes, suffix: str) -> None:
    path = _file(suffix, data)
    try:
        labels = LabelSet.load(path)
    except ConfigError:
        pass  # the property: never another exception type
    else:
        assert len(labels.labels) >= 2 and all(labels.descriptions.values())
    finally:
        path.unlink()


LABEL = st.text(st.characters(exclude_categories=("Cs",)), min_size=1).map(str.strip).filter(bool)


@FUZZ
@given(table=st.dictionaries(LABEL, st.one_of(TEXT, st.lists(TEXT, max_size=3)), max_size=4))
def test_label_file_round_trips_valid_tables(table: dict) -> None:
    path = _file(".json", json.dumps({"labels": table}).encode())
    try:
        valid = len(table) >= 2 and "unknown" not in table and all(
            (v.strip() if isinstance(v, str) else v and all(x.strip() for x in v)) for v in table.values()
        )
        if not valid:
            with pytest.raises(ConfigError):
                LabelSet.load(path)
            return
        loaded = LabelSet.load(path).descriptions
        assert loaded == {k: [v.strip()] if isinstance(v, str) else [x.strip() for x in v] for k, v in table.items()}
    finally:
        path.unlink()


@FUZZ
@given(data=st.binary(max_size=600))
@example(data=b'{"question": "q", "answers": ["a"]}\n\xff\n')
def test_eval_reader_on_arbitrary_bytes_loads_or_raises_dataset_error(data: bytes) -> None:
    path = _file(".jsonl", data)
    try:
        items = load_eval_jsonl(path)
    except DatasetError as exc:
        assert str(path) in str(exc)
    else:
        assert items and all(isinstance(i.question, str) for i in items)
    finally:
        path.unlink()


@FUZZ
@given(rows=st.lists(st.fixed_dictionaries({"question": TEXT, "answers": st.lists(TEXT, max_size=3)}), min_size=1))
@example(rows=[{"question": "line\u2028separator?", "answers": ["yes"]}])
def test_eval_reader_round_trips_questions(rows: list[dict]) -> None:
    path = _file(".jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode())
    try:
        items = load_eval_jsonl(path)
        assert [(i.question, list(i.answers)) for i in items] == [(r["question"], r["answers"]) for r in rows]
    finally:
        path.unlink()
