"""The Workspace verbs front ends read through instead of the store: chunks, generation, manifest, label_index."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.workspace import Workspace
from indexing.errors import ConfigError, IndexNotFoundError

LABELS = {"animals": "animals and pets", "food": "food, baking and cooking",
          "tech": "computers and programming", "places": "cities and buildings"}


def test_reads_before_and_after_the_first_index(tmp_path: Path, corpus_dir: Path) -> None:
    ws = Workspace(tmp_path / "idx")
    assert ws.manifest is None and ws.chunks([1, 2]) == [] and ws.chunks() == []
    with pytest.raises(IndexNotFoundError, match="no index at"):
        ws.generation  # noqa: B018 - the property raises
    ws.index([corpus_dir], chunk_size=64, chunk_overlap=8)
    info = ws.info()
    assert ws.manifest is not None and (ws.manifest.chunk_size, ws.manifest.chunk_overlap) == (64, 8)
    assert ws.generation == info["generation"] >= 1
    every = ws.chunks()
    assert len(every) == info["chunks"] and {c.title for c in every} == {"Cats", "paris", "Python", "bread"}
    hits = ws.search("Eiffel Tower", k=2, mode="bm25")
    picked = ws.chunks([hits[0].chunk_id, 10_000_000, hits[0].chunk_id])
    assert [c.title for c in picked] == ["paris", "paris"], "in the order asked, unknown ids skipped"
    assert picked[0].text == hits[0].text and picked[0].source == hits[0].source


def test_label_index_from_descriptions_writes_what_search_filters_by(tmp_path: Path, corpus_dir: Path) -> None:
    ws = Workspace(tmp_path / "idx")
    ws.index([corpus_dir])
    result = ws.label_index(LABELS, "kind")
    assert result.document_counts == {"animals": 1, "food": 1, "places": 1, "tech": 1}
    assert [h.title for h in ws.search("oven", k=5, mode="dense", where={"doc_kind": "food"})] == ["bread"]
    assert result.classifier is not None and result.classifier.model_name == ws.model_name
    for key in ("topic_id", "title", "id", "1x"):
        with pytest.raises(ConfigError, match=key):
            ws.label_index(LABELS, key)
    assert ws.meta_values("kind") and not ws.meta_values("topic_id")


@pytest.mark.slow
def test_classify_verbs_take_one_options_object_and_expand_from_it(tmp_path: Path, corpus_dir: Path,
                                                                    expansions) -> None:
    from pipelines.classify import LabelSet
    from pipelines.options import ClassifyOptions

    ws = Workspace(tmp_path / "idx", classify=ClassifyOptions(expand=2))  # the default options of every call
    ws.index([corpus_dir])
    texts = ["the kitten purred on the sofa", "knead the dough and bake the loaf"]
    expansion = ws.expand_labels(LABELS)
    assert expansion is not None and expansions == [(2, "SmolLM2-135M-Instruct.Q4_1.gguf", expansion.calls)]
    predictions = ws.classify(texts, LABELS)
    # the expanded labels are exactly what classify uses: the same scores as the written texts given as descriptions
    by_hand = ws.classify(texts, expansion.labels(LabelSet.from_mapping(LABELS)), expand=0)
    assert [p.scores for p in predictions] == [p.scores for p in by_hand]
    assert ws.label_index(LABELS, "kind").chunks > 0
    assert [calls for _, _, calls in expansions[1:]] == [0, 0], "classify and label_index read the cache"
    assert ws.expand_labels(LABELS, expand=0) is None and len(expansions) == 3
    with pytest.raises(ConfigError, match="unknown classify option 'expnad'"):
        ws.classify(texts, LABELS, expnad=2)
