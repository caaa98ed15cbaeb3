"""Retrieval-augmented answering: prompt packing, citations, refusal and evaluation.

Example:
    >>> from pipelines.rag import RAGPipeline
    >>> rag = RAGPipeline(workspace, generator)      # doctest: +SKIP
    >>> rag.ask("Who painted the Mona Lisa?").text   # doctest: +SKIP
    'Leonardo da Vinci painted it [1].'
"""

from __future__ import annotations

from pipelines.rag.answer import Answer, Evidence, RAGPipeline, Retriever
from pipelines.rag.citations import Citation, resolve_citations
from pipelines.rag.prompt import Passage, PromptReport, Turn, build_prompt
from pipelines.rag.refusal import RefusalPolicy
from pipelines.rag.support import SentenceSupport, SupportReport, check_support

__all__ = [
    "Answer",
    "Citation",
    "Evidence",
    "Passage",
    "PromptReport",
    "RAGPipeline",
    "RefusalPolicy",
    "Retriever",
    "SentenceSupport",
    "SupportReport",
    "Turn",
    "build_prompt",
    "check_support",
    "resolve_citations",
]
