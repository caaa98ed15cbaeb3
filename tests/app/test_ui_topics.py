"""Topics page (AppTest) on a tiny real index: topics computed from stored vectors, map drawn, a topic picked,
its documents listed, search and ask restricted to it (real SmolLM2 through llama.cpp)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_testkit import build_index, page_app

from app.workspace import Workspace


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("topics"))


def test_topics_map_pick_search_and_ask_within(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    at = page_app("app.ui.topics_page")
    at.run(timeout=180)
    assert not at.exception and not at.error
    at.number_input(key="topics_n").set_value(2)
    next(b for b in at.button if b.label == "Compute topics").click()
    at.run(timeout=180)
    assert not at.exception and not at.error
    assert any(c.value.startswith("2 topics") and "outliers" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1, "the 2-D map is drawn"
    assert len(at.get("vega_lite_chart")) == 2, "topic sizes and the picked topic's keyword bars"

    (pick,) = at.selectbox
    assert pick.value == 0, "the largest topic is picked by default"
    topics = Workspace(index_dir).saved_topics()
    assert topics is not None
    members = topics.chunk_ids[topics.chunk_topics == 0].tolist()
    records = Workspace(index_dir).store.get_chunks(members)
    listed = at.dataframe[0].value
    assert sorted(set(listed["title"])) == sorted({r.title for r in records})
    assert any(f"{len({r.doc_id for r in records})} documents" in c.value for c in at.caption)

    pick.set_value(1).run(timeout=120)
    assert at.selectbox[0].value == 1
    other = {r.title for r in Workspace(index_dir).store.get_chunks(
        topics.chunk_ids[topics.chunk_topics == 1].tolist())}
    assert set(at.dataframe[0].value["title"]) == other

    # Search within the topic returns only its members.
    first_title = sorted(other)[0]
    at.text_input(key="topics_query").input(first_title).run(timeout=120)
    assert not at.exception and not at.error
    shown = [m.value for m in at.markdown if m.value.startswith("**")]
    assert shown, "hits are listed"
    assert all(any(f"**{t}**" in s or f" {t}**" in s for t in other) for s in shown)

    # Ask within the topic: a real generator answers (or refuses) with the latency caption.
    at.text_input(key="topics_question").input(f"What is {first_title}?").run(timeout=300)
    assert not at.exception and not at.error
    assert any("TTFT" in c.value for c in at.caption) or any("No answer" in w.value for w in at.warning)
