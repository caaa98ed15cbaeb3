"""The index on disk: FAISS vectors + a BM25 index + SQLite metadata, written crash-safely."""

from indexing.store.records import ChunkRecord, DocumentRecord
from indexing.store.store import Store, WriteBatch

__all__ = ["ChunkRecord", "DocumentRecord", "Store", "WriteBatch"]
