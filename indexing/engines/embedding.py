"""Documents → chunks → the texts the model reads → vectors and lead vectors: the one rule every engine runs.

The local engine runs it in this process; the Ray engine runs the very same code inside its embedder
actors, so both produce the same chunks, offsets and vectors (to float rounding of batch padding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from indexing.chunker import Chunker, ChunkerConfig
from indexing.datatypes import Chunk, Document
from indexing.embedder import Embedder
from indexing.lead import lead_text, mix

TITLE_TOKENS = 32  # most title tokens put in front of each chunk for embedding
Encode = Callable[[list[str], str], np.ndarray]  # (texts, stage) → (n, d) unit vectors


@dataclass
class Embedded:
    """The chunks and vectors of a list of documents, in their order.

    Attributes:
        chunks: per document, its chunks (``[]`` for a document with no text to chunk).
        vectors: (total chunks, d) float32, the chunks of all documents one after another.
        starts: (documents + 1,) row offsets: document ``n``'s vectors are ``vectors[starts[n]:starts[n + 1]]``.
        leads: document number → its lead vector (unit(first chunk's vector + its lead's), :mod:`indexing.lead`).

    Example:
        >>> done = Embedded([[chunk_a, chunk_b], [chunk_c]], vectors, np.array([0, 2, 3]), {0: lead})  # doctest: +SKIP
        >>> done.rows(1).shape                                                                          # doctest: +SKIP
        (1, 384)
    """

    chunks: list[list[Chunk]]
    vectors: np.ndarray
    starts: np.ndarray
    leads: dict[int, np.ndarray]

    def rows(self, n: int) -> np.ndarray:
        """The vectors of document ``n``'s chunks: (len(chunks[n]), d)."""
        return self.vectors[self.starts[n] : self.starts[n + 1]]

    @classmethod
    def join(cls, parts: Sequence[Embedded]) -> Embedded:
        """The parts' documents one after another (lead numbers shifted to match)."""
        chunks = [c for part in parts for c in part.chunks]
        dim = parts[0].vectors.shape[1] if parts else 0
        vectors = np.concatenate([p.vectors for p in parts]) if parts else np.zeros((0, dim), dtype=np.float32)
        starts = np.cumsum([0] + [len(c) for c in chunks])
        leads: dict[int, np.ndarray] = {}
        offset = 0
        for part in parts:
            leads.update({offset + n: row for n, row in part.leads.items()})
            offset += len(part.chunks)
        return cls(chunks, np.ascontiguousarray(vectors, dtype=np.float32), starts, leads)


class ChunkEmbedder:
    """Cuts documents with the model's tokenizer, puts each title above its chunks, embeds, adds lead vectors.

    Example:
        >>> work = ChunkEmbedder(Embedder(), ChunkerConfig(64, 8))                          # doctest: +SKIP
        >>> done = work.run([Document("a", "a", "Cats", "Cats purr when content.")], leads=2)     # doctest: +SKIP
        >>> done.vectors.shape, sorted(done.leads)                                         # doctest: +SKIP
        ((1, 384), [0])

    Args:
        embedder: the model (its tokenizer counts tokens for the chunker and the title headers).
        chunking: chunk sizes.
    """

    def __init__(self, embedder: Embedder, chunking: ChunkerConfig) -> None:
        self.embedder = embedder
        self.chunker = Chunker(chunking, embedder.count_tokens, embedder.count_tokens_many)

    def run(self, docs: Sequence[Document], leads: int, encode: Encode | None = None) -> Embedded:
        """Chunk and embed ``docs`` with lead vectors of style ``leads`` (0: none; ``Manifest.leads``);
        ``encode`` (default: the embedder's, one call per stage) embeds texts."""
        encode = encode or self._encode
        chunks = self.chunker.split_many(docs)
        headers = self.headers([d.title for d in docs])
        texts = [f"{headers[d.title]}\n{c.text}" if headers[d.title] else c.text
                 for d, cut in zip(docs, chunks, strict=True) for c in cut]
        vectors = encode(texts, "embedding chunks")
        starts = np.cumsum([0] + [len(cut) for cut in chunks])
        lead_of = self._lead_vectors(docs, chunks, vectors, starts, encode, leads) if leads else {}
        return Embedded(chunks, vectors, starts, lead_of)

    def _encode(self, texts: list[str], stage: str) -> np.ndarray:
        return self.embedder.encode(texts, show_progress=False)

    def _lead_vectors(
        self, docs: Sequence[Document], chunks: list[list[Chunk]], vectors: np.ndarray, starts: np.ndarray,
        encode: Encode, style: int,
    ) -> dict[int, np.ndarray]:
        """Document number → unit(first chunk's vector + its lead's of ``style``), for documents with a lead."""
        found = [(n, lead_text(doc.title, doc.text, style)) for n, (doc, cut) in enumerate(zip(docs, chunks)) if cut]
        found = [(n, text) for n, text in found if text]
        if not found:
            return {}
        encoded = encode([text for _, text in found], "embedding leads")
        mixed = mix(vectors[starts[[n for n, _ in found]]], encoded)
        return {n: row for (n, _), row in zip(found, mixed, strict=True)}

    def embed_text(self, title: str, text: str) -> str:
        """What the model reads for a chunk: its document title (≤ 32 tokens) on a line, then the chunk."""
        header = self.headers([title])[title]
        return f"{header}\n{text}" if header else text

    def headers(self, titles: Sequence[str]) -> dict[str, str]:
        """Title → the header put above its chunks: whitespace normalized, cut to ≤ TITLE_TOKENS tokens.

        All titles are counted in one batched tokenizer call; only the rare long ones are cut word by word.
        """
        return title_headers(self.embedder, titles)


def title_headers(embedder: Embedder, titles: Sequence[str]) -> dict[str, str]:
    """:meth:`ChunkEmbedder.headers` with ``embedder``'s tokenizer (no chunker needed).

    Example:
        >>> title_headers(Embedder(), ["  Cats \\n and dogs "])   # doctest: +SKIP
        {'  Cats \\n and dogs ': 'Cats and dogs'}
    """
    unique = list(dict.fromkeys(" ".join(t.split()) for t in titles))
    fits = dict(zip(unique, (n <= TITLE_TOKENS for n in embedder.count_tokens_many(unique)), strict=True))
    headers: dict[str, str] = {}
    for title in titles:
        words = title.split()
        joined = " ".join(words)
        if not fits[joined]:
            while words and embedder.count_tokens(" ".join(words)) > TITLE_TOKENS:
                words = words[: max(1, len(words) * 3 // 4)] if len(words) > 1 else []
        headers[title] = " ".join(words)
    return headers
