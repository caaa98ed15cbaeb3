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
