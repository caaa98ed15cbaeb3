"""Topics page: the 2-D map coloured by topic, keyword bars, sizes and outlier rate; pick a topic to list
its documents and to search or ask within it."""

from __future__ import annotations

import html

import pandas as pd
import plotly.express as px
import streamlit as st

from app.ui.ask_page import stream_answer
from app.ui.resources import workspace
from app.ui.text import box
from app.workspace import Workspace
from pipelines.topics import IndexTopics, Topic

MAP_SNIPPET = 160  # characters of chunk text in a map tooltip
MAX_LISTED = 500  # documents listed for one topic


def render() -> None:
    """Draw the page."""
    st.title("🗺️ Topics")
    ws = workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    cols = st.columns([2, 1, 1], vertical_alignment="bottom")
    n_topics = cols[0].number_input("Number of topics (0 = automatic, HDBSCAN)", 0, 200, 0, key="topics_n")
    seed = cols[1].number_input("Seed", 0, 10_000, 0, key="topics_seed")
    result = ws.saved_topics()
    if cols[2].button("Compute topics", key="topics_compute") or result is None or result.stale:
        with st.spinner("Clustering the stored vectors (nothing is re-embedded)…"):
            result = ws.topics(n_topics=int(n_topics) or None, seed=int(seed))
    topics = [t for t in result.model.topics_ if t.id >= 0]
    st.caption(
        f"{len(topics)} topics · {len(result.chunk_ids):,} chunks · outliers before reassignment "
        f"{result.model.outlier_rate_:.1%} · computed on index generation {result.generation}"
    )
    if not topics:
        st.info("No topics found: every text is an outlier. Set a number of topics and compute again.")
        return
    _map(ws, result, topics)
    sizes = pd.DataFrame({"topic": [f"{t.id}: {t.label}" for t in topics], "size": [t.size for t in topics]})
    st.subheader("Topic sizes")
    st.bar_chart(sizes, x="topic", y="size", horizontal=True, sort=False)
    by_id = {int(t.id): t for t in topics}
    # The key carries the topic count: a recomputed set of topics must not inherit a stale choice.
    chosen = st.selectbox(
        "Topic", list(by_id), format_func=lambda i: f"{i}: {by_id[i].label} ({by_id[i].size})",
        key=f"topics_pick_{len(by_id)}",
    )
    if chosen is not None:
        _topic_detail(ws, result, by_id[chosen])


def _map(ws: Workspace, result: IndexTopics, topics: list[Topic]) -> None:
    """Scatter of every chunk's 2-D coordinates, coloured by topic; hover shows title and snippet."""
    if result.coords is None or len(result.chunk_ids) == 0:
        st.caption("No map: the topics were computed without 2-D coordinates.")
        return
    ids = result.chunk_ids.tolist()
    records = {r.id: r for r in ws.store.get_chunks(ids)}
    names = {int(t.id): f"{t.id}: {t.label}" for t in topics}
    frame = pd.DataFrame(
        {
            "x": result.coords[:, 0],
            "y": result.coords[:, 1],
            "topic": [names.get(int(t), "outlier") for t in result.chunk_topics],
            "title": [records[i].title if i in records else "" for i in ids],
            "snippet": [_snippet(records[i].text) if i in records else "" for i in ids],
        }
    )
    fig = px.scatter(
        frame, x="x", y="y", color="topic", category_orders={"topic": [*names.values(), "outlier"]},
        hover_data={"title": True, "snippet": True, "x": False, "y": False, "topic": True},
    )
    fig.update_traces(marker={"size": 5})
    fig.update_layout(xaxis_title=None, yaxis_title=None, legend_title_text="topic", height=560)
    st.plotly_chart(fig, width="stretch", key="topics_map")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAP_SNIPPET else flat[:MAP_SNIPPET] + "…"


def _topic_detail(ws: Workspace, result: IndexTopics, topic: Topic) -> None:
    """Keywords, representative passages, the topic's documents, and search / ask restricted to it."""
    st.subheader(f"Topic {topic.id}: {topic.label}")
    keywords = pd.DataFrame({"keyword": topic.keywords, "weight": topic.scores})
    st.bar_chart(keywords, x="keyword", y="weight", horizontal=True, sort="-weight")
    with st.expander("Most representative passages"):
        for text in topic.texts:
            st.html(box(html.escape(text[:400])))
    members = result.chunk_ids[result.chunk_topics == topic.id].tolist()
    docs: dict[str, tuple[str, str]] = {}
    for record in ws.store.get_chunks(members):
        docs.setdefault(record.doc_id, (record.title, record.source))
    st.caption(f"{len(docs):,} documents ({len(members):,} chunks) in this topic")
    listed = list(docs.values())[:MAX_LISTED]
    st.dataframe(pd.DataFrame(listed, columns=["title", "source"]), hide_index=True, height=240)
    where = {"topic_id": str(topic.id)}
    query = st.text_input("Search within this topic", key="topics_query")
    if query.strip():
        hits = ws.search(query, k=5, mode="hybrid", where=where)
        if not hits:
            st.warning(f"No results for {query!r} in this topic.")
        for hit in hits:
            st.markdown(f"**{hit.rank}. {hit.title}** · `{hit.score:.3f}`")
            st.html(box(html.escape(hit.text[:300])))
    question = st.text_input("Ask within this topic", key="topics_question")
    if question.strip():
        stream_answer(ws.rag(k=5), question, where=where)
