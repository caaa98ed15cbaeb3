"""`sift models`: what is installed, what it costs, which is the default; `sift models add` errors."""

from __future__ import annotations

import json

import pytest

from app.cli.main import main


def test_models_lists_generators_and_embeddings_with_the_default(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIFT_GENERATOR", raising=False)
    assert main(["models", "--json"]) == 0
    models = {(m["kind"], m["name"]): m for m in json.loads(capsys.readouterr().out)["models"]}
    qwen = models[("generator", "qwen2.5-1.5b")]
    assert qwen["default"] and qwen["installed"] and qwen["disk_bytes"] == 1_117_320_768
    assert qwen["backend"] == "llama.cpp" and qwen["licence"].startswith("Apache-2.0")
    assert [n for (kind, n), m in models.items() if kind == "generator" and m["default"]] == ["qwen2.5-1.5b"]
    assert models[("embedding", "minilm")]["default"] and models[("embedding", "minilm")]["installed"]
    phi3 = models[("generator", "phi-3-mini")]
    assert not phi3["installed"] and "--model-path" in phi3["location"]


def test_sift_generator_changes_the_default(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_GENERATOR", "smollm2-135m")
    assert main(["models"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [r[1] for r in rows if r[0] == "generator" and r[2] == "*"] == ["smollm2-135m"]


def test_an_unknown_sift_generator_is_a_one_line_error(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_GENERATOR", "gpt-17")
    assert main(["models"]) == 1
    assert "SIFT_GENERATOR='gpt-17' is not a generator preset" in capsys.readouterr().err


def test_models_add_refuses_an_unknown_name(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["models", "add", "gpt-17"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_an_uninstalled_preset_says_how_to_install_it(tmp_path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.errors import ModelNotAvailableError
    from pipelines.generation import load_generator

    monkeypatch.setenv("SIFT_DATA", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match=r"run `sift models add qwen2.5-0.5b`"):
        load_generator("qwen2.5-0.5b")
