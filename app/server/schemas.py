"""Request bodies of the REST routes (pydantic models; FastAPI answers 422 when one does not validate).

Field limits mirror the CLI's: ``k`` 1–100 hits, a query up to 4,000 characters, metadata filters as
``{"key": "value"}`` (the ``--where key=value`` of ``sift search``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.options import AskOptions
from pipelines.rag.answer_length import DEFAULT_ANSWER_LENGTH, AnswerLength

Mode = Literal["dense", "bm25", "hybrid"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Strict):
    """``POST /v1/search``: the hits of ``sift search QUERY -k K --mode MODE --where k=v --json``."""

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(10, ge=1, le=100)
    mode: Mode = "hybrid"
    where: dict[str, str] | None = None
    source: str | None = Field(None, description="only sources whose path matches this glob, e.g. '*.md'")


class TurnIn(_Strict):
    """One earlier exchange of a conversation."""

    question: str
    answer: str


class AskOptionsIn(_Strict):
    """The fields of :class:`pipelines.options.AskOptions` a client may set (every one but the generator,
    which the server chooses: ``sift serve --preset``). Unset fields keep the server's defaults."""

    k: int = Field(5, ge=1, le=50)
    mode: Mode = "hybrid"
    where: dict[str, str] | None = None
    source: str | None = Field(None, description="only passages from sources whose path matches this glob")
    answer_length: AnswerLength = Field(
        DEFAULT_ANSWER_LENGTH,
        description="brief: one or two sentences; explain: a short paragraph; auto: explain how/why questions",
    )
    rewrite: Literal["heuristic", "generator", "none"] = Field(
        "heuristic", description="how a follow-up is made standalone for retrieval")
    min_score: float | None = Field(None, ge=-1.0, le=1.0, description="best dense cosine that always answers")
    floor: float | None = Field(None, ge=-1.0, le=1.0, description="best dense cosine under which sift refuses")
    passage_tokens: int | None = Field(None, ge=1, le=32768, description="most prompt tokens the passages take")
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)
    repetition_penalty: float | None = Field(None, gt=0.0)
    seed: int | None = None
    stop: list[str] | None = Field(None, max_length=4)

    def options(self, defaults: AskOptions) -> AskOptions:
        """``defaults`` with the fields this request set.

        Example:
            >>> AskOptionsIn(k=2).options(AskOptions()).k
            2
        """
        given = {name: getattr(self, name) for name in self.model_fields_set if name in ASK_FIELDS}
        if "stop" in given and given["stop"] is not None:
            given["stop"] = tuple(given["stop"])
        return defaults.merged(**given)


ASK_FIELDS = frozenset(AskOptionsIn.model_fields)


class AskRequest(AskOptionsIn):
    """``POST /v1/ask``: the answer of ``sift ask QUESTION --json``; ``stream`` sends server-sent events."""

    question: str = Field(min_length=1, max_length=4000)
    history: list[TurnIn] = Field(default_factory=list, max_length=50)
    stream: bool = False


class ClassifyRequest(_Strict):
    """``POST /v1/classify``: labels for ``texts`` from label descriptions (``sift classify``)."""

    texts: list[str] = Field(min_length=1, max_length=1000)
    labels: dict[str, str | list[str]] = Field(min_length=2, description='{"sport": "football, games", ...}')
    method: Literal["zero-shot", "generate", "auto"] = Field(
        "zero-shot", description="zero-shot (embeddings), generate (the generator labels every text) or auto (the "
                                 "generator labels a sample, a classifier on the embeddings the rest)")
    sample: int = Field(0, ge=0, le=1000,
                        description="auto: texts the generator labels (0: 10 %, at least 10 per label)")
    corrections: dict[str, str] = Field(default_factory=dict, max_length=1000,
                                        description="auto: text → the right label (e.g. the sample's, fixed by a "
                                                    "person): training labels that replace the generator's answer")
    threshold: float | None = Field(None, ge=-1.0, le=1.0)
    expand: int = Field(0, description="the generator writes this many typical texts per label (0 to 32, cached) "
                                       "that are embedded with the descriptions; 0 = off (sift classify --expand)")


class TopicsRequest(_Strict):
    """``POST /v1/topics``: compute (or reuse) the index's topics, as ``sift topics``."""

    n_topics: int | None = Field(None, ge=1, le=500)
    min_cluster_size: int | None = Field(None, ge=2)
    level: Literal["chunk", "doc"] = "chunk"
    seed: int = 0
    names: bool = Field(False, description="the local generator names each topic (loads it); else top keywords")


class SyncRequest(_Strict):
    """``POST /v1/documents/sync``: ``sift index PATH...`` on paths of the server's machine."""

    paths: list[str] = Field(min_length=1, max_length=100)
    dry_run: bool = False
