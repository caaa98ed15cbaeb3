"""Topic names: the cleaner, the prompt, the fallback to keywords, and names saved with the topics."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from test_topics import blobs

from pipelines.generation.base import GenerationConfig, GenerationMetrics, GenerationResult
from pipelines.topics.cluster import KMeansClusterer
from pipelines.topics.model import Topic, TopicModel, default_label
from pipelines.topics.naming import GeneratorNamer, clean_name, excerpt, name_messages
from pipelines.topics.reduce import PCAReducer


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ('**Topic name:** "Volcanoes and Magma".\nThese texts are about volcanoes.', "Volcanoes and Magma"),
        ("  \n\n# Jazz Albums\n", "Jazz Albums"),
        ("- `C# programming`", "C# programming"),
        ("Name: The Roman Empire and its many emperors over time", "The Roman Empire"),
        ("“Birds of Prey”", "Birds of Prey"),
        ("Topic: __Ancient Greece__!", "Ancient Greece"),
        ("1. Football clubs", "Football clubs"),
        ("Ice\x07hockey\tteams", "Ice hockey teams"),
        ("[Space probes](https://example.org/a)", "Space probes"),
        ("> The topic is: 'Rivers'", "Rivers"),
        ("snake_case naming", "snake_case naming"),
        ('A short title for this topic could be "The Hunt: Cats and Owls', "The Hunt"),
        ('A short title for this topic is "Baking with Flour."', "Baking with Flour"),
        ("The Key to a Perfect Baked Dream: A Simple Recipe", "The Key to a Perfect"),
        ("Ünïcödé 🙂 names", "Ünïcödé 🙂 names"),
        ("x" * 200, "x" * 60),
        ("", ""),
        ("\n  \n", ""),
        ('""', ""),
        ("**", ""),
    ],
)
def test_clean_name(raw: str, name: str) -> None:
    assert clean_name(raw) == name


def test_excerpt_cuts_at_a_word_and_flattens() -> None:
    assert excerpt("Etna is an\nactive volcano in Sicily", 20) == "Etna is an active…"
    assert excerpt("short  one") == "short one"


class FakeGenerator:
    """Records prompts; answers from a list (the chat template is a plain join)."""

    name = "fake-model"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.prompts: list[str] = []

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return "\n".join(f"<{m['role']}>{m['content']}" for m in messages) + "\n<assistant>"

    def generate(self, prompt: str, config: GenerationConfig) -> GenerationResult:
        self.prompts.append(prompt)
        text = self.answers[(len(self.prompts) - 1) % len(self.answers)]
        return GenerationResult(text, "stop", GenerationMetrics(1, 1, 0.0, 0.0, 0.0, 0.0))


def test_namer_prompts_with_keywords_and_excerpts_and_cleans_the_answer() -> None:
    gen = FakeGenerator(['"Volcanic Rocks".'])
    namer = GeneratorNamer(gen, n_keywords=2)
    assert namer.name == "generator:fake-model"
    assert namer(["basalt", "magma", "lava"], ["Basalt is a rock. " * 40, "Magma cools."]) == "Volcanic Rocks"
    (prompt,) = gen.prompts
    assert prompt.startswith("<system>You name topics.") and prompt.endswith("<assistant>")
    assert "Keywords: basalt, magma\n" in prompt and "lava" not in prompt
    assert "- Magma cools." in prompt and "Basalt is a rock. " * 17 not in prompt, "texts are short excerpts"


def test_name_messages_without_texts() -> None:
    assert name_messages(["a"], [])[1]["content"] == "Keywords: a\n\nTexts from the topic:\n- (none)\n\n" \
        "What is a short title for this topic?"


@pytest.fixture(scope="module")
def data():
    return blobs(n_per=30)


def test_names_go_to_labels_and_an_empty_answer_falls_back_to_keywords_recorded(data) -> None:
    X, texts, _ = data
    gen = FakeGenerator(["**  **", "Music", "Geology", "Biology", "Politics"])
    model = TopicModel(PCAReducer(5), KMeansClusterer(5), labeler=GeneratorNamer(gen), map_2d=False).fit(X, texts)
    assert len(gen.prompts) == 5, "one prompt per topic"
    first, *rest = model.topics_
    assert (first.label, first.label_source) == (default_label(first.keywords, []), "fallback")
    assert [(t.label, t.label_source) for t in rest] == [
        ("Music", "labeler"), ("Geology", "labeler"), ("Biology", "labeler"), ("Politics", "labeler")
    ]
    assert "name" in model.timings_


def test_without_labeler_labels_are_keywords(data) -> None:
    X, texts, _ = data
    model = TopicModel(PCAReducer(5), KMeansClusterer(5), map_2d=False).fit(X, texts)
    assert {t.label_source for t in model.topics_} == {"keywords"} and "name" not in model.timings_


def test_unknown_label_source_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown label_source 'llm'"):
        Topic(0, 1, [], [], [], [], "x", "llm")  # type: ignore[arg-type]


def test_names_survive_save_and_load(data) -> None:
    X, texts, _ = data
    namer = GeneratorNamer(FakeGenerator(["", "Music"]))
    model = TopicModel(PCAReducer(5), KMeansClusterer(5), labeler=namer, map_2d=False).fit(X, texts)
    model.params["labeler"] = namer.name
    loaded = TopicModel.from_bytes(model.to_bytes())
    assert [t.to_dict() for t in loaded.topics_] == [t.to_dict() for t in model.topics_]
    assert [t.label_source for t in loaded.topics_] == ["fallback", "labeler", "fallback", "labeler", "fallback"]


def _as_format_1(payload: bytes, labeler: str | None) -> bytes:
    """The same model as sift wrote it before names were recorded: format 1, no label_source."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    info = json.loads(str(arrays.pop("info")))
    info["format"] = 1
    info["params"]["labeler"] = labeler
    for topic in info["topics"]:
        del topic["label_source"]
    buf = io.BytesIO()
    np.savez_compressed(buf, info=np.array(json.dumps(info)), **arrays)
    return buf.getvalue()


@pytest.mark.parametrize(("labeler", "source"), [(None, "keywords"), ("first-keyword", "labeler")])
def test_format_1_files_without_names_load(data, labeler: str | None, source: str) -> None:
    X, texts, _ = data
    model = TopicModel(PCAReducer(5), KMeansClusterer(5), map_2d=False).fit(X, texts)
    model.labels_[:3] = -1  # an outlier topic too
    model.topics_.append(Topic(-1, 3, ["w"], [1.0], [0], ["t"], "outliers", "outliers"))
    loaded = TopicModel.from_bytes(_as_format_1(model.to_bytes(), labeler))
    assert [t.label for t in loaded.topics_] == [t.label for t in model.topics_]
    assert [t.label_source for t in loaded.topics_] == [source] * 5 + ["outliers"]


def test_a_newer_format_is_refused(data) -> None:
    X, texts, _ = data
    payload = TopicModel(PCAReducer(5), KMeansClusterer(5), map_2d=False).fit(X, texts).to_bytes()
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    info = json.loads(str(arrays.pop("info")))
    info["format"] = 99
    buf = io.BytesIO()
    np.savez_compressed(buf, info=np.array(json.dumps(info)), **arrays)
    with pytest.raises(ValueError, match="format 99 is newer than this sift reads"):
        TopicModel.from_bytes(buf.getvalue())
