"""Every ``SIFT_*`` variable sift reads is parsed by one module: a bad value is a ConfigError naming the variable
and the value, the yes/no words mean the same everywhere, the data directory is one absolute path, and importing
sift leaves the process environment as it found it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.settings import Settings
from indexing import env, onnx_cache
from indexing.embedder import embed_runtime
from indexing.engines.ray_engine import ray_workers
from indexing.errors import ConfigError
from indexing.faults import fault_point
from indexing.loaders.ocr import ocr_workers
from indexing.onnx_encoder import bulk_workers, query_threads
from indexing.query_runtime import query_runtime
from indexing.sync import group_chunks
from pipelines.generation.llama_cpp_backend import LlamaCppGenerator
from pipelines.generation.llama_cpp_settings import default_extra_buffers, default_threads
from pipelines.generation.presets import default_preset
from pipelines.rag.second_look import second_look_enabled
from pipelines.rag.untrusted import strip_enabled

ROOT = Path(__file__).resolve().parents[2]
A_FILE = "<a file>"  # replaced by the path of an existing file

# (variable, a bad value, the call that reads it): each must raise a ConfigError naming both.
BAD: list[tuple[str, str, Callable[[], Any]]] = [
    ("SIFT_CHUNK_SIZE", "big", Settings.load),
    ("SIFT_CHUNK_SIZE", "0", Settings.load),
    ("SIFT_CHUNK_OVERLAP", "-1", Settings.load),
    ("SIFT_BATCH_SIZE", "1.5", Settings.load),
    ("SIFT_OCR", "maybe", Settings.load),
    ("SIFT_OCR_LANG", "english please", Settings.load),
    ("SIFT_QUANTIZE", "int4", Settings.load),
    ("SIFT_DATA", A_FILE, env.data_dir),
    ("SIFT_DATA", A_FILE, Settings.load),
    ("SIFT_QUERY_THREADS", "two", query_threads),
    ("SIFT_QUERY_THREADS", "-1", query_threads),
    ("SIFT_EMBED_WORKERS", "0", bulk_workers),
    ("SIFT_GROUP_CHUNKS", "many", group_chunks),
    ("SIFT_EMBED_RUNTIME", "tensorrt", embed_runtime),
    ("SIFT_QUERY_RUNTIME", "cuda", query_runtime),
    ("SIFT_RAY_WORKERS", "four", ray_workers),
    ("SIFT_OCR_WORKERS", "0", ocr_workers),
    ("SIFT_FAULT", "nowhere", lambda: fault_point("commit.after_sql")),
    ("SIFT_FAULT", "commit.after_sql:twice", lambda: fault_point("commit.after_sql")),
    ("SIFT_LLAMA_THREADS", "two", default_threads),
    ("SIFT_LLAMA_EXTRA_BUFFERS", "maybe", default_extra_buffers),
    ("SIFT_PREFIX_CACHE", "maybe", lambda: LlamaCppGenerator("m.gguf")),
    ("SIFT_STRIP_INSTRUCTIONS", "maybe", strip_enabled),
    ("SIFT_SECOND_LOOK", "maybe", second_look_enabled),
    ("SIFT_GENERATOR", "gpt-5", default_preset),
    ("HF_HUB_OFFLINE", "maybe", env.hub_offline),
]
# Read as they are: a path, a name or a secret that is checked where it is used, not a word to parse.
FREE_FORM = {
    "SIFT_INDEX": "index folder path",
    "SIFT_MODEL": "model name or folder (resolve_embedding_model names a missing one)",
    "SIFT_DEVICE": "torch device string",
    "SIFT_CONFIG": "TOML file path (a missing file means no file)",
    "SIFT_API_KEY": "bearer key",
    "SIFT_GENERATOR_PATH": "model file or folder path (load_generator names a missing one)",
    "SIFT_RAY_FAULT": "marker file path (fault tests)",
}
# (variable, how to read it as a bool)
FLAGS: list[tuple[str, Callable[[], bool]]] = [
    ("SIFT_OCR", lambda: Settings.load().ocr),
    ("HF_HUB_OFFLINE", env.hub_offline),
    ("SIFT_PREFIX_CACHE", lambda: LlamaCppGenerator("m.gguf").prefix_cache),
    ("SIFT_LLAMA_EXTRA_BUFFERS", default_extra_buffers),
    ("SIFT_STRIP_INSTRUCTIONS", strip_enabled),
    ("SIFT_SECOND_LOOK", second_look_enabled),
]


def _variables_in_source() -> set[str]:
    names: set[str] = set()
    for package in ("app", "indexing", "pipelines"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(r"\bSIFT_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    return {n for n in names if "EXAMPLE" not in n}


def test_every_variable_the_code_reads_is_covered_here() -> None:
    covered = {name for name, _, _ in BAD} | set(FREE_FORM) | {"SIFT_CONFIG"}
    assert _variables_in_source() - covered == set(), "a new SIFT_* variable: add a bad value to BAD (or FREE_FORM)"
    assert covered - {"HF_HUB_OFFLINE"} <= _variables_in_source(), "BAD or FREE_FORM names a variable no code reads"


@pytest.mark.parametrize(("name", "value", "read"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_value_is_a_config_error_naming_the_variable_and_value(
    name: str, value: str, read: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if value == A_FILE:
        value = str(tmp_path / "a-file")
        Path(value).write_text("not a folder")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        read()
    assert name in str(caught.value) and repr(value) in str(caught.value)


@pytest.mark.parametrize("name", ["SIFT_OCR", "SIFT_PREFIX_CACHE", "HF_HUB_OFFLINE"])
def test_a_bad_yes_no_value_lists_the_words(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, "maybe")
    read = dict(FLAGS)[name]
    with pytest.raises(ConfigError, match=f"{name} must be a yes/no word, 1/0, true/false, yes/no or on/off"):
        read()


@pytest.mark.parametrize(
    ("word", "expected"),
    [("1", True), ("true", True), ("TRUE", True), ("Yes", True), ("on", True), (" ON ", True),
     ("0", False), ("false", False), ("False", False), ("NO", False), ("no", False), ("Off", False)],
)
@pytest.mark.parametrize(("name", "read"), FLAGS, ids=[name for name, _ in FLAGS])
def test_yes_no_words_mean_the_same_for_every_flag(
    name: str, read: Callable[[], bool], word: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, word)
    assert read() is expected


def test_hub_is_off_unless_hf_hub_offline_says_no(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert env.hub_offline() is True
    monkeypatch.setenv("HF_HUB_OFFLINE", "no")  # counted as offline by the old parser
    assert env.hub_offline() is False
    assert "HF_HUB_OFFLINE" in os.environ and os.environ["HF_HUB_OFFLINE"] == "no", "read, never rewritten"


@given(st.text(max_size=12))
def test_parse_bool_accepts_exactly_the_words(raw: str) -> None:
    word = raw.strip().lower()
    if word in env.BOOL_WORDS:
        assert env.parse_bool(raw, "SIFT_X") is env.BOOL_WORDS[word]
    else:
        with pytest.raises(ConfigError, match=re.escape(f"SIFT_X must be a yes/no word, {env.BOOL_HELP}, got ")):
            env.parse_bool(raw, "SIFT_X")


@given(st.integers(min_value=-10**6, max_value=10**6), st.sampled_from(["", " ", "\t"]))
def test_parse_int_round_trips_and_checks_the_minimum(number: int, pad: str) -> None:
    raw = f"{pad}{number}{pad}"
    if number >= 0:
        assert env.parse_int(raw, "SIFT_X", minimum=0) == number
    else:
        with pytest.raises(ConfigError, match=r"SIFT_X must be a whole number, 0 or more, got "):
            env.parse_int(raw, "SIFT_X", minimum=0)


@pytest.mark.parametrize("raw", ["", "two", "1.5", "1e3", "0x10", "--1", True])
def test_parse_int_refuses_what_is_not_a_whole_number(raw: Any) -> None:
    with pytest.raises(ConfigError, match=f"SIFT_X must be a whole number, got {re.escape(repr(raw))}"):
        env.parse_int(raw, "SIFT_X")


def test_toml_errors_name_the_key_and_file(tmp_path: Path) -> None:
    toml = tmp_path / "sift.toml"
    toml.write_text('chunk_size = "big"\n')
    with pytest.raises(ConfigError, match=re.escape(f"chunk_size in {toml} must be a whole number, 1 or more")):
        Settings.load(toml)
    toml.write_text('ocr = "sometimes"\n')
    with pytest.raises(ConfigError, match=re.escape(f"ocr in {toml} must be a yes/no word")):
        Settings.load(toml)


def test_the_data_dir_comes_from_sift_data_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "sift.toml"
    toml.write_text('data_dir = "elsewhere"\n')
    with pytest.raises(ConfigError, match=f"data_dir in {re.escape(str(toml))} cannot set the data directory: "
                                          "remove it and set SIFT_DATA=elsewhere"):
        Settings.load(toml)
    with pytest.raises(ConfigError, match="set SIFT_DATA"):
        Settings.load(data_dir="elsewhere")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIFT_DATA", "relative-data")
    settings = Settings.load()
    assert settings.data_dir == env.data_dir() == tmp_path / "relative-data", "resolved once, absolute"
    assert settings.index_dir == tmp_path / "relative-data" / "index"
    assert onnx_cache.cache_dir() == tmp_path / "relative-data" / "models" / "onnx"


def test_without_sift_data_the_checkout_data_folder_is_used_from_any_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIFT_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert env.data_dir() == ROOT / "data" and Settings.load().index_dir == ROOT / "data" / "index"
    assert onnx_cache.cache_dir() == ROOT / "data" / "models" / "onnx"
    assert not onnx_cache.cache_dir().is_relative_to(tmp_path)


def test_importing_sift_leaves_the_environment_unchanged(tmp_path: Path) -> None:
    # Not the UI pages: streamlit and scikit-learn set MPLBACKEND and KMP_* on their own import.
    code = (
        "import json, os; before = dict(os.environ)\n"
        "import app.workspace, app.cli.main, pipelines.generation, indexing.embedder, app.settings\n"
        "after = dict(os.environ)\n"
        "print(json.dumps({k: [before.get(k), after.get(k)] for k in before.keys() | after.keys()"
        " if before.get(k) != after.get(k)}))\n"
    )
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean, cwd=cwd,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}
    assert list(cwd.iterdir()) == [], "importing wrote nothing into the working directory"
