"""Chunking: offsets are exact, no chunk exceeds the model's limit, bad settings are refused."""

from __future__ import annotations

import pytest

from indexing.chunker import Chunker, ChunkerConfig
from indexing.datatypes import Document
from indexing.errors import ConfigError

SAMPLES = {
    "prose": "".join(f"The quick brown fox {i} jumps over the lazy dog. " for i in range(200)),
    "no_spaces": "".join(str(i) for i in range(2000)),
    "emoji": "".join(f"🙂 héllo {i} wörld — ünïcode ✓ " for i in range(300)),
    "paragraphs": "\n\n".join(f"Paragraph {i}. " + "word " * 50 for i in range(20)),
    "short": "One line.",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_chunks_are_exact_substrings_within_token_limit(embedder, name: str) -> None:
    doc = Document("d", "d", "t", SAMPLES[name])
    config = ChunkerConfig(chunk_size=64, chunk_overlap=8)
    chunks = Chunker(config, embedder.count_tokens).split(doc)
    assert chunks, "every non-empty document yields chunks"
    for i, c in enumerate(chunks):
        assert doc.text[c.start : c.end] == c.text
        assert embedder.count_tokens(c.text) <= 64
        assert c.ordinal == i
    # the chunks cover the document: first starts near 0, last ends near the end
    assert chunks[0].start <= 2 and chunks[-1].end >= len(doc.text.rstrip()) - 1


def test_repetitive_text_offsets_advance(embedder) -> None:
    doc = Document("d", "d", "t", "la " * 2000)
    chunks = Chunker(ChunkerConfig(chunk_size=40, chunk_overlap=10), embedder.count_tokens).split(doc)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert all(b.start > a.start and b.end > a.end for a, b in zip(chunks, chunks[1:]))


def test_overlap_repeats_text(embedder) -> None:
    doc = Document("d", "d", "t", " ".join(f"w{i}" for i in range(400)))
    chunks = Chunker(ChunkerConfig(chunk_size=50, chunk_overlap=20), embedder.count_tokens).split(doc)
    assert len(chunks) > 2
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:])), "consecutive chunks overlap"


def test_batched_token_counts_equal_single_counts(embedder) -> None:
    texts = [*SAMPLES.values(), "", "  padded  ", "Ünïcödé and 漢字 and 🙂"]
    assert embedder.count_tokens_many(texts) == [embedder.count_tokens(t) for t in texts]


def test_split_many_equals_split(embedder) -> None:
    """Documents within the size skip the splitter: same chunks as the splitter makes."""
    docs = [Document(name, name, "t", text) for name, text in SAMPLES.items()]
    docs += [Document("ws", "ws", "t", "\n  Surrounded by whitespace.  \n"), Document("e", "e", "t", "   ")]
    chunker = Chunker(ChunkerConfig(chunk_size=64, chunk_overlap=8), embedder.count_tokens, embedder.count_tokens_many)
    assert chunker.split_many(docs) == [chunker.split(d) for d in docs]
    assert len(chunker.split_many(docs)[-2]) == 1


def test_empty_document_has_no_chunks(embedder) -> None:
    assert Chunker(ChunkerConfig(), embedder.count_tokens).split(Document("d", "d", "t", "")) == []


@pytest.mark.parametrize("size,overlap", [(8, 0), (100, 100), (100, -1)])
def test_bad_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        ChunkerConfig(size, overlap).validate()


def test_size_above_model_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="--chunk-size 221"):
        ChunkerConfig(300, 10).validate(max_tokens=221)
