"""Token-aware chunking with langchain-text-splitters, measured in the embedding model's tokens.

Every chunk keeps its character offsets into the document text and is guaranteed to fit the
embedding model: a chunk the splitter leaves too long is split again, never silently truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from indexing.datatypes import Chunk, Document
from indexing.errors import ConfigError

Counter = Callable[[str], int]
BatchCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class ChunkerConfig:
    """How documents are cut.

    Attributes:
        chunk_size: most model tokens per chunk (special tokens and the title header excluded).
        chunk_overlap: tokens shared by consecutive chunks.
    """

    chunk_size: int = 200
    chunk_overlap: int = 32

    def validate(self, max_tokens: int | None = None) -> None:
        """Raise ConfigError when the sizes cannot work (or exceed ``max_tokens``)."""
        if self.chunk_size < 16:
            raise ConfigError(f"chunk size {self.chunk_size} is too small: use at least 16 tokens")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"chunk overlap {self.chunk_overlap} must be ≥ 0 and below the chunk size {self.chunk_size}"
            )
        if max_tokens is not None and self.chunk_size > max_tokens:
            raise ConfigError(
                f"chunk size {self.chunk_size} exceeds the {max_tokens} tokens the embedding model can read "
                f"with the title header: pass --chunk-size {max_tokens} or less"
            )


class Chunker:
    """Splits documents into :class:`Chunk` s whose token count never exceeds ``chunk_size``.

    Example:
        >>> chunker = Chunker(ChunkerConfig(chunk_size=16, chunk_overlap=0), count=lambda s: len(s.split()))
        >>> [c.text for c in chunker.split(Document("d", "d", "t", "one two. " * 10))][:1]
        ['one two. one two. one two. one two. one two. one two. one two. one two.']

    Args:
        config: sizes.
        count: token counter of the embedding model (``Embedder.count_tokens``).
        count_many: the same for many texts at once (``Embedder.count_tokens_many``); used by
            :meth:`split_many` to find the documents that fit one chunk without running the splitter.
    """

    def __init__(self, config: ChunkerConfig, count: Counter, count_many: BatchCounter | None = None) -> None:
        config.validate()
        self.config = config
        self.count = count
        self.count_many = count_many or (lambda texts: [count(t) for t in texts])
        self._splitter = None

    def split_many(self, docs: Sequence[Document]) -> list[list[Chunk]]:
        """:meth:`split` of each document; those within ``chunk_size`` tokens become one chunk directly.

        Most documents of a corpus of short texts fit one chunk, and one batched count of their
        tokens is far cheaper than the splitter's many per-piece counts.
        """
        sizes = self.count_many([d.text for d in docs])
        return [
            self._whole(doc) if _fits(doc.text, size, self.config.chunk_size) else self.split(doc)
            for doc, size in zip(docs, sizes, strict=True)
        ]

    @staticmethod
    def _whole(doc: Document) -> list[Chunk]:
        """The document as one chunk (surrounding whitespace left out, as the splitter does)."""
        text = doc.text.strip()
        if not text:
            return []
        start = doc.text.index(text)
        return [Chunk(doc.id, 0, text, start, start + len(text))]

    def _make_splitter(self, size: int, overlap: int):  # type: ignore[no-untyped-def]
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        return RecursiveCharacterTextSplitter(
            chunk_size=size,
            chunk_overlap=overlap,
            length_function=self.count,
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
            strip_whitespace=True,
        )

    def split(self, doc: Document) -> list[Chunk]:
        """Cut one document; ``doc.text[c.start:c.end] == c.text`` for every chunk."""
        if self._splitter is None:
            self._splitter = self._make_splitter(self.config.chunk_size, self.config.chunk_overlap)
        pieces = self._splitter.split_text(doc.text)
        chunks: list[Chunk] = []
        prev_start, prev_end = -1, 0
        for piece in self._enforce_limit(pieces):
            start = _locate(doc.text, piece, prev_start + 1, prev_end)
            if start < 0:
                raise RuntimeError(f"chunk of {doc.id!r} is not a substring of the document")
            chunks.append(Chunk(doc.id, len(chunks), piece, start, start + len(piece)))
            prev_start, prev_end = start, start + len(piece)
        return chunks

    def _enforce_limit(self, pieces: list[str]) -> list[str]:
        """Re-split any piece the recursive splitter left over the limit (rare: merge arithmetic)."""
        out: list[str] = []
        for piece in pieces:
            if self.count(piece) <= self.config.chunk_size:
                out.append(piece)
                continue
            half = max(8, self.config.chunk_size // 2)
            sub = self._make_splitter(half, min(self.config.chunk_overlap, half // 4)).split_text(piece)
            if len(sub) <= 1:  # no separator left to cut at: halve the characters
                sub = [piece[: len(piece) // 2].strip(), piece[len(piece) // 2 :].strip()]
            out.extend(self._enforce_limit([s for s in sub if s]))
        return out


# Ordinary text has 1-6 characters per token. Far more means the tokenizer swallowed long runs whole
# (WordPiece turns a 100+ character "word" into one [UNK]); the splitter cuts those into readable pieces.
MAX_CHARS_PER_TOKEN = 12


def _fits(text: str, tokens: int, chunk_size: int) -> bool:
    """Whether ``text`` of ``tokens`` tokens can be one chunk without running the splitter."""
    return tokens <= chunk_size and len(text.strip()) <= MAX_CHARS_PER_TOKEN * max(tokens, 1)


def _locate(text: str, piece: str, lo: int, prev_end: int) -> int:
    """Where ``piece`` starts: the earliest occurrence that starts after the previous chunk's
    start and ends after its end. Chunks advance monotonically, so this never passes the true
    position (in repetitive text several positions hold the same characters; any of them is exact)."""
    return text.find(piece, max(lo, prev_end - len(piece) + 1))
