"""Sync: add / change / delete, dry runs, bad files, model and chunker mismatch, nothing lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.chunker import ChunkerConfig
from indexing.errors import IndexMismatchError, SiftError
from indexing.lead import LEAD_STYLE, lead_text, mix
from indexing.manifest import Manifest
from indexing.store import Store
from indexing.sync import Syncer


def _sync(index: Path, embedder, paths, **kw):
    return Syncer(index, embedder, ChunkerConfig(64, 8)).sync(paths, **kw)


def test_first_sync_adds_everything_then_nothing_changes(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    first = _sync(index, embedder, [corpus_dir])
    assert len(first.added) == 4 and first.chunks_embedded >= 4 and not first.skipped
    second = _sync(index, embedder, [corpus_dir])
    assert len(second.unchanged) == 4 and second.chunks_embedded == 0 and not second.changed
    store = Store.open(index)
    ids, _ = store.vectors()
    assert len(ids) == store.count_chunks() == first.chunks_embedded


def test_progress_reports_and_stores_the_same_vectors(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    """With a progress callback texts are embedded in length-sorted steps; each chunk keeps its own vector."""
    for i in range(300):  # enough chunks for two steps of 256
        (corpus_dir / f"note{i:03d}.txt").write_text(f"Note {i}: " + "a few words " * (i % 17 + 1) + "\n")
    seen: list[tuple[str, int, int]] = []
    Syncer(tmp_path / "a", embedder, ChunkerConfig(64, 8)).sync([corpus_dir], progress=lambda *a: seen.append(a))
    _sync(tmp_path / "b", embedder, [corpus_dir])
    assert [s for s in seen if s[0] == "embedding chunks"][-1][1:] == (304, 304)
    text_a, text_b = _vectors_by_text(tmp_path / "a"), _vectors_by_text(tmp_path / "b")
    assert text_a.keys() == text_b.keys()
    assert all(float(text_a[t] @ text_b[t]) > 0.9999 for t in text_a)


def _vectors_by_text(index: Path) -> dict[str, np.ndarray]:
    store = Store.open(index)
    ids, vectors = store.vectors()
    return {c.text: v for c, v in zip(store.get_chunks(ids), vectors)}


def test_change_and_delete(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    (corpus_dir / "bread.txt").write_text("Sourdough uses a wild yeast starter instead of baker's yeast.\n")
    (corpus_dir / "cats.md").unlink()
    (corpus_dir / "new.txt").write_text("Volcanoes erupt lava and ash.\n")
    report = _sync(index, embedder, [corpus_dir])
    assert [Path(d).name for d in report.updated] == ["bread.txt"]
    assert [Path(d).name for d in report.removed] == ["cats.md"]
    assert [Path(d).name for d in report.added] == ["new.txt"]
    assert len(report.unchanged) == 2
    store = Store.open(index)
    titles = {d.title for d in store.documents()}
    assert "Cats" not in titles and "new" in titles
    texts = " ".join(c.text for c in store.get_chunks(store.vectors()[0]))
    assert "Sourdough" in texts and "flour" not in texts, "old chunks of a changed file are gone"


def test_dry_run_writes_nothing(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    report = _sync(index, embedder, [corpus_dir], dry_run=True)
    assert len(report.added) == 4 and report.dry_run and not index.exists()
    _sync(index, embedder, [corpus_dir])
    (corpus_dir / "paris.txt").unlink()
    before = Store.open(index).count_documents()
    report = _sync(index, embedder, [corpus_dir], dry_run=True)
    assert len(report.removed) == 1 and Store.open(index).count_documents() == before


def test_csv_rows_are_synced_per_row(tmp_path: Path, embedder) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    table = folder / "t.csv"
    table.write_text("id,text,topic\n1,Apples are red,food\n2,Rust is a language,tech\n")
    index = tmp_path / "idx"
    _sync(index, embedder, [folder])
    table.write_text("id,text,topic\n1,Apples are red,food\n2,Go is a language,tech\n3,Tea is hot,food\n")
    report = _sync(index, embedder, [folder])
    assert len(report.unchanged) == 1 and len(report.updated) == 1 and len(report.added) == 1
    assert report.chunks_embedded == 2, "only the changed and new rows are embedded"


def test_bad_files_are_skipped_and_keep_previous_version(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    (corpus_dir / "paris.txt").write_bytes(b"\x00\x01binary now")
    (corpus_dir / "empty.md").write_text("   \n")
    (corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (corpus_dir / "latin.txt").write_bytes("café crème".encode("cp1252"))
    report = _sync(index, embedder, [corpus_dir])
    skipped = {Path(f).name: reason for f, reason in report.skipped}
    assert set(skipped) == {"paris.txt", "empty.md", "broken.pdf"}
    assert all(Path(f).name in reason for f, reason in report.skipped), "each reason names its file"
    assert [Path(d).name for d in report.added] == ["latin.txt"]
    store = Store.open(index)
    assert any(d.title == "paris" for d in store.documents()), "a file that turned unreadable keeps its old version"


def test_only_paths_under_the_given_roots_are_removed(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("Glaciers carve valleys.\n")
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir, other])
    report = _sync(index, embedder, [other])
    assert not report.removed and Store.open(index).count_documents() == 5


def test_missing_path_is_an_error_and_changes_nothing(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    with pytest.raises(SiftError, match="does not exist"):
        _sync(index, embedder, [corpus_dir, tmp_path / "typo"])
    assert Store.open(index).count_documents() == 4


def test_model_and_chunker_mismatch_are_refused(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    Store.create(index, Manifest(embedding_model="all-mpnet-base-v2", dimension=768, chunk_size=64, chunk_overlap=8))
    with pytest.raises(IndexMismatchError, match="all-mpnet-base-v2.*all-MiniLM-L6-v2"):
        _sync(index, embedder, [corpus_dir])
    other = tmp_path / "idx2"
    _sync(other, embedder, [corpus_dir])
    with pytest.raises(IndexMismatchError, match="chunker"):
        Syncer(other, embedder, ChunkerConfig(100, 8)).sync([corpus_dir])
    assert Store.open(other).count_documents() == 4


def test_chunks_fit_the_model_with_title_header(tmp_path: Path, embedder) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    (folder / "long.txt").write_text(" ".join(f"token{i}" for i in range(3000)))
    index = tmp_path / "idx"
    syncer = Syncer(index, embedder, ChunkerConfig(200, 32))
    syncer.sync([folder])
    store = Store.open(index)
    for c in store.get_chunks(store.vectors()[0]):
        assert embedder.count_tokens(syncer.embed_text(c.title, c.text)) + 2 <= embedder.max_seq_length


def _assert_leads_of_style(store: Store, embedder, style: int, only: Path | None = None) -> int:
    """Every first chunk's lead vector (of ``only``'s document, or all) is its own vector averaged with its lead
    text's of ``style``; how many were checked."""
    ids, vectors = store.vectors()
    leads = store.lead_vectors(ids)
    checked = 0
    for record, vector in zip(store.get_chunks(ids), vectors):
        if only is not None and record.source != str(only.resolve()):
            continue
        if record.ordinal != 0:
            assert record.id not in leads
            continue
        text = lead_text(record.title, store.get_document(record.doc_id).text, style)
        np.testing.assert_allclose(leads[record.id], mix(vector[None], embedder.encode([text]))[0], atol=1e-4)
        checked += 1
    return checked


def test_lead_vector_is_the_first_chunk_averaged_with_its_definition(
    tmp_path: Path, embedder, corpus_dir: Path
) -> None:
    index = tmp_path / "idx"
    report = _sync(index, embedder, [corpus_dir])
    store = Store.open(index)
    assert report.leads_embedded == store.count_leads() == 4 and store.manifest.lead_vectors
    assert store.manifest.lead_style == store.manifest.leads == LEAD_STYLE == 2
    assert "and 4 leads embedded" in report.summary()
    assert _assert_leads_of_style(store, embedder, 2) == 4
    assert lead_text("cats", store.get_document(str((corpus_dir / "cats.md").resolve())).text) == (
        "are small carnivorous mammals."
    )
    assert _sync(index, embedder, [corpus_dir]).leads_embedded == 0, "unchanged documents keep their leads"


def test_an_index_written_before_lead_styles_keeps_style_1(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    """A manifest without ``lead_style`` reads as style 1, and the documents synced into it later get style 1
    leads too: one index never holds leads made two ways."""
    import json
    import sqlite3

    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    with sqlite3.connect(index / "meta.sqlite") as conn:
        manifest = json.loads(conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()[0])
        manifest.pop("lead_style")
        conn.execute("UPDATE state SET value=? WHERE key='manifest'", (json.dumps(manifest),))
    (index / "manifest.json").write_text(json.dumps(manifest))
    (corpus_dir / "owls.md").write_text("# Owls\n\nThe barn owl is a bird of prey that hunts voles at night.\n")
    assert _sync(index, embedder, [corpus_dir]).leads_embedded == 1
    store = Store.open(index)
    assert store.manifest.lead_style == 1
    assert _assert_leads_of_style(store, embedder, 1, only=corpus_dir / "owls.md") == 1


def test_leads_follow_changed_and_deleted_documents(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    (corpus_dir / "bread.txt").write_text("Sourdough bread uses a wild yeast starter instead of baker's yeast.\n")
    (corpus_dir / "cats.md").unlink()
    report = _sync(index, embedder, [corpus_dir])
    assert report.leads_embedded == 1
    store = Store.open(index)
    assert store.count_leads() == 3 == len(store.lead_vectors(store.vectors()[0]))


def test_an_index_without_leads_keeps_its_setting(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    index = tmp_path / "idx"
    Syncer(index, embedder, ChunkerConfig(64, 8), lead_vectors=False).sync([corpus_dir])
    (corpus_dir / "new.txt").write_text("Volcanoes erupt lava and ash from deep below.\n")
    report = _sync(index, embedder, [corpus_dir])
    store = Store.open(index)
    assert report.leads_embedded == 0 and store.count_leads() == 0 and not store.manifest.lead_vectors
    with pytest.raises(IndexMismatchError, match="without lead vectors but with"):
        Syncer(index, embedder, ChunkerConfig(64, 8), lead_vectors=True).sync([corpus_dir])
    assert store.count_documents() == 5


def test_an_unknown_lead_style_is_refused_before_anything_is_written(
    tmp_path: Path, embedder, corpus_dir: Path
) -> None:
    import json
    import sqlite3

    index = tmp_path / "idx"
    _sync(index, embedder, [corpus_dir])
    with sqlite3.connect(index / "meta.sqlite") as conn:
        manifest = json.loads(conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()[0])
        manifest["lead_style"] = 9
        conn.execute("UPDATE state SET value=? WHERE key='manifest'", (json.dumps(manifest),))
    (index / "manifest.json").write_text(json.dumps(manifest))
    (corpus_dir / "owls.md").write_text("# Owls\n\nThe barn owl is a bird of prey.\n")
    with pytest.raises(IndexMismatchError, match=r"lead style 9, which this sift does not know.*new --index"):
        _sync(index, embedder, [corpus_dir])
    assert Store.open(index).count_documents() == 4, "nothing was added"
