"""Label expansion: the list parser, the options check, the cache (a hit makes no generator call) and the labels
it gives zero-shot, with a scripted generator and with the real SmolLM2."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.errors import ConfigError
from pipelines.classify import LabelSet, evaluate
from pipelines.classify.evaluate import EvalConfig
from pipelines.classify.expand import (
    MAX_CALLS_PER_LABEL,
    MAX_EXPAND,
    Expansion,
    LabelExpander,
    check_expand,
    parse_examples,
)
from pipelines.generation import load_generator
from pipelines.generation.base import GenerationConfig, GenerationMetrics, GenerationResult
from pipelines.options import ClassifyOptions

LABELS = LabelSet.parse(["sport=a text about sport", "food=a text about cooking", "food=a recipe"])


class ScriptedGenerator:
    """Answers the i-th prompt with ``answers[i]`` (the last one from then on); records prompts and seeds."""

    def __init__(self, *answers: str, name: str = "scripted") -> None:
        self.answers, self.name, self.prompts, self.seeds = list(answers), name, [], []

    @property
    def answer(self) -> str:
        return self.answers[0]

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return "\n".join(m["content"] for m in messages)

    def generate(self, prompt: str, config: GenerationConfig) -> GenerationResult:
        self.prompts.append(prompt)
        self.seeds.append(config.seed)
        text = self.answers[min(len(self.prompts), len(self.answers)) - 1]
        return GenerationResult(text, "stop", GenerationMetrics(1, 1, 0.0, 0.0, 0.0, 0.0))


@pytest.mark.parametrize(
    ("raw", "n", "texts"),
    [
        ("1. One.\n2. Two.\n3. Three.", 3, ["One.", "Two.", "Three."]),
        ("Here are two texts:\n\n1) **Bold one**\n2 - \"Quoted two\"", 5, ["Bold one", "Quoted two"]),
        ("- a bullet\n* another bullet\n• third one", 2, ["a bullet", "another bullet"]),
        ("1. Same text.\n2. same text\n3. SAME TEXT!\n4. Other.", 4, ["Same text.", "Other."]),
        ("No numbering at all\nsecond line", 4, ["No numbering at all", "second line"]),
        ("1.\n2. fine\n3. \"\"\n4. ab", 4, ["fine"]),  # too short (under 3 characters) or empty: dropped
        ("1. Großartig 🎬 film\n2. 映画は素晴らしい", 2, ["Großartig 🎬 film", "映画は素晴らしい"]),
        ("12. numbers above nine\n13. still items", 2, ["numbers above nine", "still items"]),
        ("1. a   text\n   spread out", 3, ["a text"]),
        ("", 3, []),
        ("\n \n", 3, []),
    ],
)
def test_parse_examples(raw: str, n: int, texts: list[str]) -> None:
    assert parse_examples(raw, n) == texts


@pytest.mark.parametrize("bad", [-1, MAX_EXPAND + 1, 2.5, True, "8", None])
def test_a_bad_n_is_refused_naming_the_flag(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^--expand must be a whole number of texts per label from 0"):
        check_expand(bad)
    with pytest.raises(ConfigError, match=r"^expand \(--expand\) must be a whole number"):
        ClassifyOptions(expand=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="--expand must be a whole number"):
        EvalConfig(dataset="rotten-tomatoes", expand=bad).validate()  # type: ignore[arg-type]


def test_expand_is_for_zero_shot_only() -> None:
    with pytest.raises(ConfigError, match="use it with --method zero-shot, not generate"):
        ClassifyOptions(method="generate", expand=4)
    with pytest.raises(ConfigError, match="use --method zero-shot, not logreg"):
        EvalConfig(dataset="rotten-tomatoes", method="logreg", expand=4).validate()
    with pytest.raises(ConfigError, match="expand 0 means no expansion"):
        LabelExpander(ScriptedGenerator(""), 0)
    assert ClassifyOptions.from_dict(ClassifyOptions(expand=4).to_dict()) == ClassifyOptions(expand=4)


def test_one_call_per_label_then_the_cache_answers(tmp_path: Path) -> None:
    gen = ScriptedGenerator("1. First text.\n2. Second text.\n3. Third text.")
    first = LabelExpander(gen, 2, directory=tmp_path).expand(LABELS)
    assert first.texts == {"sport": ["First text.", "Second text."], "food": ["First text.", "Second text."]}
    assert (first.cached, first.calls, len(gen.prompts)) == (False, 2, 2)
    assert "Label: food\nWhat the label means: a text about cooking; a recipe" in gen.prompts[1]
    assert "Write 2 different, typical texts" in gen.prompts[1]
    again = LabelExpander(gen, 2, directory=tmp_path).expand(LABELS)
    assert (again.cached, again.calls, again.texts, len(gen.prompts)) == (True, 0, first.texts, 2)
    assert again.summary().endswith("read from the cache")


def test_a_short_list_is_asked_again_for_the_missing_texts_with_the_next_seed(tmp_path: Path) -> None:
    two = LabelSet.parse(["sport=a text about sport", "food=a recipe"])
    gen = ScriptedGenerator("1. Goal!!\n2. A late goal.", "1. a late goal\n2. Extra time.", "1. Penalties.",
                            "1. Bread and butter.")
    expansion = LabelExpander(gen, 4, directory=tmp_path).expand(two)
    assert expansion.texts["sport"] == ["Goal!!", "A late goal.", "Extra time.", "Penalties."]
    assert gen.seeds[:3] == [0, 1, 2]
    assert "Write 4 different" in gen.prompts[0] and "Write 1 different" in gen.prompts[2]
    # food gets the last answer on every call: one new text, then nothing new until the call limit
    assert expansion.texts["food"] == ["Bread and butter."]
    assert expansion.calls == 3 + 4 == len(gen.prompts)


@pytest.mark.parametrize(
    "change",
    [
        lambda gen, labels, n: (ScriptedGenerator(gen.answer, name="other-model"), labels, n),
        lambda gen, labels, n: (gen, LabelSet.parse(["sport=a text about sport", "food=a recipe"]), n),
        lambda gen, labels, n: (gen, LabelSet.parse(["sports=a text about sport", "food=a recipe"]), n),
        lambda gen, labels, n: (gen, labels, n + 1),
    ],
    ids=["generator", "description", "name", "n"],
)
def test_the_cache_key_holds_every_input(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    gen = ScriptedGenerator("1. a text")
    base = LabelExpander(gen, 2, directory=tmp_path).cache_path(LABELS)
    other_gen, labels, n = change(gen, LABELS, 2)
    assert LabelExpander(other_gen, n, directory=tmp_path).cache_path(labels) != base


def test_expanded_labels_keep_the_descriptions_first() -> None:
    expansion = Expansion("g", 2, {"sport": ["He scored."], "food": []})
    assert expansion.labels(LABELS).descriptions == {
        "sport": ["a text about sport", "He scored."], "food": ["a text about cooking", "a recipe"],
    }


@pytest.mark.slow
def test_smollm2_writes_once_and_the_second_run_makes_no_call(tmp_path: Path) -> None:
    gen = load_generator("smollm2-135m", backend="llama.cpp")
    calls: list[str] = []
    real = gen.generate
    gen.generate = lambda prompt, config: calls.append(prompt) or real(prompt, config)  # type: ignore[method-assign]
    first = LabelExpander(gen, 3, directory=tmp_path).expand(LABELS)
    made = len(calls)
    assert 2 <= made <= 2 * MAX_CALLS_PER_LABEL and first.calls == made and not first.cached and first.seconds > 0
    assert all(len(texts) <= 3 and all(t.strip() for t in texts) for texts in first.texts.values())
    again = LabelExpander(gen, 3, directory=tmp_path).expand(LABELS)
    assert len(calls) == made and again.cached and again.calls == 0 and again.texts == first.texts


@pytest.mark.slow
def test_eval_classify_reports_the_expansion(tmp_path: Path, embedder, expansions) -> None:  # type: ignore[no-untyped-def]
    rows = ["text,label"] + [f"The team won match {i} after a late goal.,sport" for i in range(30)] + [
        f"Bake recipe {i} with flour and butter.,food" for i in range(30)]
    (tmp_path / "set.csv").write_text("\n".join(rows), encoding="utf-8")
    config = EvalConfig(csv=tmp_path / "set.csv", expand=2, preset="smollm2-135m")
    result = evaluate(config, embedder)
    (n, generator, calls), = expansions
    assert (n, generator) == (2, "SmolLM2-135M-Instruct.Q4_1.gguf") and calls >= 2
    assert result.settings["expand"] == 2 and result.to_dict()["expansion"]["calls"] == calls
    assert evaluate(config, embedder).expansion.cached  # type: ignore[union-attr]
    assert expansions[-1][2] == 0
