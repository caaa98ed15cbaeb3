"""Topic modelling on the vectors already in the index (Hands-On LLMs, chapter 5, without re-embedding).

Stages, each a swappable object: reduce (:mod:`.reduce`: UMAP on an exact cosine neighbour graph),
cluster (:mod:`.cluster`: HDBSCAN, or KMeans when a number of topics is asked), describe
(:mod:`.ctfidf`: c-TF-IDF keywords; representative texts nearest each centroid; optional labeler),
and a 2-D map. :mod:`.index` runs it on a Store, writes ``topic_id``/``topic`` metadata and saves
the result with the index; :mod:`.evaluate` scores it against gold topics next to BERTopic.

Example:
    >>> from pipelines.topics import TopicModel
    >>> model = TopicModel(seed=0).fit(vectors, texts)     # doctest: +SKIP
    >>> [(t.id, t.size, t.label) for t in model.topics_]    # doctest: +SKIP
    [(0, 812, 'music, album, band'), (1, 640, 'species, genus, family'), ...]
"""

from __future__ import annotations

from pipelines.topics.index import IndexTopics, StaleTopicsError, fit_index_topics, index_topics, load_index_topics
from pipelines.topics.model import Topic, TopicModel, default_label

__all__ = [
    "IndexTopics",
    "StaleTopicsError",
    "Topic",
    "TopicModel",
    "default_label",
    "fit_index_topics",
    "index_topics",
    "load_index_topics",
]
