"""The typed shapes of sift's MCP tools: what a client may send and what each tool answers.

Inputs that name a sift option (``k``, ``mode``, ``answer_length``, ``where``, ``source``) are checked by
:class:`pipelines.options.SearchOptions` / :class:`~pipelines.options.AskOptions`, the one place every front
end's options are checked, so a bad value is refused with the message the CLI prints; the schemas only
advertise the choices. Outputs mirror the ``--json`` shapes of ``sift search`` / ``sift ask`` where they
overlap (``source`` is the path of the file a document came from, as there).

Example:
    >>> Turn(question="Who built it?", answer="Gustave Eiffel's company [1].").question
    'Who built it?'
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from indexing.store.records import FILE_STATUSES
from pipelines.options import MAX_K
from pipelines.rag.answer_length import ANSWER_LENGTHS
from pipelines.search import MODES


def choices(values: tuple[str, ...]) -> dict[str, Any]:
    """The JSON-schema ``enum`` of an optional string input whose values an options object checks (null: the
    default)."""
    return {"enum": [*values, None]}


Query = Annotated[str, Field(description="what to look for, in words", max_length=4000)]
K = Annotated[int | None, Field(description=f"how many passages (1 to {MAX_K:,}); leave out for the default")]
Mode = Annotated[str | None, Field(description="hybrid (words and meaning, the default), dense (meaning) or "
                                               "bm25 (exact words)", json_schema_extra=choices(MODES))]
Where = Annotated[dict[str, str] | None, Field(description='metadata filter, e.g. {"lang": "en"}: only passages '
                                                          "whose document or chunk has every key=value")]
SourceGlob = Annotated[str | None, Field(description="only documents whose file path matches this glob, e.g. '*.md'")]
AnswerLength = Annotated[str | None, Field(
    description="brief: one or two sentences (the default); explain: a short paragraph; auto: explain "
    "how/why questions", json_schema_extra=choices(ANSWER_LENGTHS))]
Status = Annotated[str | None, Field(description="only files with this status (parsed, ocr, empty, encrypted, "
                                                 "unsupported, failed)", json_schema_extra=choices(FILE_STATUSES))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Strict):
    """One earlier exchange of the conversation, as the client keeps it."""

    question: str = Field(description="what was asked", max_length=4000)
    answer: str = Field(description="the answer sift gave (its [n] citation marks included)")


class Hit(BaseModel):
    """One passage a search found (the ``sift search --json`` hit)."""

    rank: int = Field(description="1 for the best hit")
    chunk_id: int
    doc_id: str = Field(description="the document's id: get_document opens it")
    source: str = Field(description="path of the file the document came from")
    title: str
    score: float = Field(description="relevance in the search mode's own scale; higher is better")
    start: int = Field(description="offset of the passage's first character in the document's text")
    end: int = Field(description="offset just past its last character")
    text: str
    meta: dict[str, Any] = Field(description="the document's and the chunk's metadata (usable in where)")


class SearchResult(BaseModel):
    query: str
    mode: str
    k: int
    hits: list[Hit]


class Citation(BaseModel):
    """A passage the answer cites as [number], with where it is in its document."""

    number: int = Field(description="the [n] the answer uses")
    doc_id: str = Field(description="the document's id: get_document(doc_id, start, end) opens the passage")
    source: str = Field(description="path of the file the document came from")
    title: str
    start: int = Field(description="offset of the passage's first character in the document's text")
    end: int = Field(description="offset just past its last character")
    page: int | None = Field(description="PDF page where the passage starts (null for other files)")
    label: str = Field(description='where to look, for a person: "p. 3", "§ Installation, line 42" or ""')


class AskResult(BaseModel):
    """An answer from the indexed documents, or a refusal that says why."""

    answer: str = Field(description="the answer, with [n] marks pointing at citations")
    citations: list[Citation]
    unsupported: list[str] = Field(description="sentences of the answer that no cited passage supports")
    refused: bool = Field(description="true when sift did not answer")
    refusal_reason: str | None = Field(
        description="no_hits, low_evidence (the model was not asked), model or ungrounded")
    refusal_message: str | None = Field(description="why sift did not answer, in plain words")
    finish_reason: str = Field(description="stop, length (cut at the token budget), repetition or refused")
    query: str = Field(description="what retrieval searched for (a follow-up rewritten to stand alone)")


class Prediction(BaseModel):
    text: str
    label: str = Field(description='the best label, or "unknown" when none clears the threshold')
    score: float = Field(description="cosine similarity of the text to the best label's description")
    scores: dict[str, float] = Field(description="label -> probability, summing to 1")


class AutoSample(BaseModel):
    """A text the generator labelled for ``method="auto"`` (correct it and pass it back in ``corrections``)."""

    text: str
    label: str


class AutoSummary(BaseModel):
    """What ``method="auto"`` did: how many texts the generator labelled, and whether it fell back to zero-shot."""

    calls: int
    agreement: float = Field(description="share of the sample where the generator and zero-shot agree")
    fallback: bool = Field(description="true: the generator and the embeddings disagreed, zero-shot labelled the rest")
    summary: str
    sample: list[AutoSample]


class ClassifyResult(BaseModel):
    predictions: list[Prediction]
    auto: AutoSummary | None = None


class DocumentRow(BaseModel):
    """An indexed document and the status of its file, or a file the index holds no document from."""

    doc_id: str | None = Field(description="the document's id (null: nothing indexed from this file)")
    title: str | None
    source: str = Field(description="path of the file")
    chunks: int
    status: str | None = Field(description="what the last sync made of the file: parsed, ocr, empty, "
                                           "encrypted, unsupported or failed (null: not recorded)")
    reason: str = Field(description='why the file is not parsed ("" when it is)')


class DocumentList(BaseModel):
    total: int = Field(description="rows that match, over all pages")
    offset: int
    limit: int
    documents: list[DocumentRow]


class DocumentText(BaseModel):
    doc_id: str
    title: str
    source: str = Field(description="path of the file the document came from")
    length: int = Field(description="characters in the whole document's text")
    start: int
    end: int
    text: str = Field(description="the document's text from start to end")
    truncated: bool = Field(description="true when end was not given and the text stops before the document "
                                        "does: ask again with start set to this end")
    label: str = Field(description='where the span is, for a person: "p. 3", "§ Installation, line 42" or ""')


class FileReport(BaseModel):
    path: str
    status: str
    reason: str
    documents: int


class SyncResult(BaseModel):
    summary: str = Field(description="one line: added, updated, removed, unchanged, skipped, unsupported")
    dry_run: bool
    added: int
    updated: int
    removed: int
    unchanged: int
    files: list[FileReport]
