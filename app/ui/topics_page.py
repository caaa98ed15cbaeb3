"""Topics page: the 2-D map coloured by topic, keyword bars, sizes and outlier rate; pick a topic to list
its documents and to search or ask within it.

Opening the page only reads the topics saved with the index; clustering runs on "Compute topics".
Search and ask run on their forms' buttons and their results are kept in the session, so a rerun
(another widget, a picked topic coming back) shows the same answer without calling the generator again.
Titles, topic labels, passages and answers come from documents: they are shown escaped (:mod:`app.ui.text`).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from app.ui.ask_page import show_details, stream_answer
from app.ui.resources import get_workspace, workspace
from app.ui.text import box, plain
from app.workspace import Workspace
from pipelines.topics import IndexTopics, Topic

MAP_SNIPPET = 160  # characters of chunk text in a map tooltip
MAX_LISTED = 500  # documents listed for one topic
SEARCH_KEY = "topics_search_result"  # session state: (inputs, hits) of the last search within a topic
ANSWER_KEY = "topics_answer"  # session state: (inputs, Answer) of the last question asked within a topic
ASKED_KEY = "topics_asked"  # session state: how many questions this session sent to the generator


def render() -> None:
    """Draw the page."""
    st.title("🗺️ Topics")
    ws = workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    with st.form("topics_options"):
        cols = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
        n_topics = cols[0].number_input("Number of topics (0 = automatic, HDBSCAN)", 0, 200, 0, key="topics_n")
        seed = cols[1].number_input("Seed", 0, 10_000, 0, key="topics_seed")
        names = cols[2].checkbox("Name with the generator", True, key="topics_names",
                                 help="The local generator names each topic from its keywords and central texts; "
                                      "off: the top keywords label it (faster).")
        compute = cols[3].form_submit_button("Compute topics", type="primary")
    if compute:
        with st.spinner("Clustering the stored vectors (nothing is re-embedded)…"):
            result: IndexTopics | None = ws.topics(n_topics=int(n_topics) or None, seed=int(seed), names=names)
    else:
        result = ws.saved_topics()
    if result is None:
        st.info("No topics computed for this index yet: choose a number of topics (0 = automatic) and press "
                "Compute topics.")
        return
    if result.stale:
        st.warning(f"The index changed since these topics were computed (generation {result.generation}, now "
                   f"{ws.generation}): press Compute topics to include the new documents.")
    _overview(ws, result)


def _overview(ws: Workspace, result: IndexTopics) -> None:
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


@st.cache_data(max_entries=4, show_spinner="Reading the chunks for the map…")
def _hover(index_dir: str, generation: int, ids: tuple[int, ...]) -> tuple[list[str], list[str]]:
    """(title, snippet) per chunk id for the map's tooltips; read once per index generation."""
    records = {r.id: r for r in get_workspace(index_dir).chunks(ids)}
    # plotly renders some HTML in tooltips (links, styles): a document's title and text are escaped
    titles = [html.escape(records[i].title) if i in records else "" for i in ids]
    return titles, [html.escape(_snippet(records[i].text)) if i in records else "" for i in ids]


def _map(ws: Workspace, result: IndexTopics, topics: list[Topic]) -> None:
    """Scatter of every chunk's 2-D coordinates, coloured by topic; hover shows title and snippet."""
    if result.coords is None or len(result.chunk_ids) == 0:
        st.caption("No map: the topics were computed without 2-D coordinates.")
        return
    titles, snippets = _hover(str(ws.index_dir), ws.generation, tuple(result.chunk_ids.tolist()))
    # plotly renders some HTML in legends and tooltips: a name (generator- or document-written) is escaped
    names = {int(t.id): html.escape(f"{t.id}: {t.label}") for t in topics}
    frame = pd.DataFrame(
        {
            "x": result.coords[:, 0],
            "y": result.coords[:, 1],
            "topic": [names.get(int(t), "outlier") for t in result.chunk_topics],
            "title": titles,
            "snippet": snippets,
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
    st.subheader(f"Topic {topic.id}: {plain(topic.label)}")
    named_by = result.model.params.get("labeler") or "the top keywords"
    note = {"labeler": f"Named by {named_by}", "fallback": f"{named_by} wrote no name: labelled by its top keywords"}
    st.caption(plain(f"{note.get(topic.label_source, 'Labelled by its top keywords')} · keywords: "
                     f"{', '.join(topic.keywords)}"))
    keywords = pd.DataFrame({"keyword": topic.keywords, "weight": topic.scores})
    st.bar_chart(keywords, x="keyword", y="weight", horizontal=True, sort="-weight")
    with st.expander("Most representative passages"):
        for text in topic.texts:
            st.html(box(html.escape(text[:400])))
    members = result.members(topic.id)
    docs: dict[str, tuple[str, str]] = {}
    for record in ws.chunks(members):
        docs.setdefault(record.doc_id, (record.title, record.source))
    st.caption(f"{len(docs):,} documents ({len(members):,} chunks) in this topic")
    listed = list(docs.values())[:MAX_LISTED]
    st.dataframe(pd.DataFrame(listed, columns=["title", "source"]), hide_index=True, height=240)
    where = {"topic_id": str(topic.id)}
    _search_within(ws, topic, where)
    _ask_within(ws, topic, where)


def _inputs(ws: Workspace, topic: Topic, text: str) -> tuple[Any, ...]:
    """What a kept result answers: the index, its generation, the topic and the text typed."""
    return (str(ws.index_dir), ws.generation, topic.id, topic.label, text.strip())


def _search_within(ws: Workspace, topic: Topic, where: dict[str, str]) -> None:
    with st.form("topics_search"):
        query = st.text_input("Search within this topic", key="topics_query")
        submitted = st.form_submit_button("Search")
    if submitted:
        st.session_state.pop(SEARCH_KEY, None)
        if not query.strip():
            st.warning("Type some words to search for.")
            return
        st.session_state[SEARCH_KEY] = (_inputs(ws, topic, query), ws.search(query, k=5, mode="hybrid", where=where))
    kept = st.session_state.get(SEARCH_KEY)
    if kept is None or kept[0] != _inputs(ws, topic, query):
        return
    if not kept[1]:
        st.warning(f"No results for {query!r} in this topic.")
    for hit in kept[1]:
        st.markdown(f"**{hit.rank}. {plain(hit.title)}** · `{hit.score:.3f}`")
        st.html(box(html.escape(hit.text[:300])))


def _ask_within(ws: Workspace, topic: Topic, where: dict[str, str]) -> None:
    with st.form("topics_ask"):
        question = st.text_input("Ask within this topic", key="topics_question")
        submitted = st.form_submit_button("Ask")
    if submitted:
        st.session_state.pop(ANSWER_KEY, None)
        if not question.strip():
            st.warning("Type a question to ask.")
            return
        st.session_state[ASKED_KEY] = st.session_state.get(ASKED_KEY, 0) + 1
        answer = stream_answer(ws.converse([], question, k=5, where=where))
        st.session_state[ANSWER_KEY] = (_inputs(ws, topic, question), answer)
        return
    kept = st.session_state.get(ANSWER_KEY)
    if kept is not None and kept[0] == _inputs(ws, topic, question):  # the same question: show, never regenerate
        st.markdown(plain(kept[1].text))
        show_details(kept[1])
