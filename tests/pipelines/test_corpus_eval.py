"""`pipelines.corpus_eval`: the checks a generated question must pass (exact), stratified sampling, the set file
and its resumption, and the question writer with the real SmolLM2 (structure only: a 135M model writes poor
questions, so the tests of the pipeline assert what the checks guarantee, not what the model says)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from corpus_eval_testkit import TINY_DOCS, write_tiny_docs

from app.workspace import Workspace
from indexing.errors import ConfigError, DatasetError
from pipelines.corpus_eval.checks import (
    answer_span,
    answerable_rejection,
    copies_chunk,
    leaks_answer,
    longest_common_run,
    near_duplicate,
    parse_question_answer,
    refers_to_context,
    unanswerable_rejection,
    well_formed,
)
from pipelines.corpus_eval.generate import attempt_cap, build_set, candidates, quotas
from pipelines.corpus_eval.questions import (
    Candidate,
    answerable_row,
    append_row,
    check_save_path,
    kind_of,
    read_set,
    resume_position,
    unanswerable_row,
)
from pipelines.corpus_eval.report import badness, worst
from pipelines.corpus_eval.sample import round_robin
from pipelines.rag.datasets import EvalItem, eval_item, jsonl_rows, load_jsonl, local_doc_id
from pipelines.rag.eval import ItemResult
from pipelines.retrieval_data import questions_set

CHUNK = "Apollo 11 landed on the Moon on 20 July 1969. Neil Armstrong and Buzz Aldrin walked on the surface."


# ---- checks -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("reply", "expected"), [
    (" When did Apollo 11 land?\nAnswer: 20 July 1969", ("When did Apollo 11 land?", "20 July 1969")),
    (' When did Apollo 11 land?\n\nThe answer is: "20 July 1969".', ("When did Apollo 11 land?", "20 July 1969")),
    ("Question: Who walked on the Moon?\n**Answer:** Neil Armstrong", ("Who walked on the Moon?", "Neil Armstrong")),
    (" When did Apollo 11 land?\nAnswer:", None),             # no answer
    (" Apollo 11 landed in 1969.\nAnswer: 1969", None),        # not a question
    (" When did Apollo 11 land?", None),                       # one line
    ("", None),
])
def test_parse_question_answer(reply: str, expected: tuple[str, str] | None) -> None:
    assert parse_question_answer(reply) == expected


@pytest.mark.parametrize(("answer", "expected"), [
    ("20 july 1969", "20 July 1969"),
    ("  20   July 1969. ", "20 July 1969"),
    ('"Neil Armstrong"', "Neil Armstrong"),
    ("21 July 1969", None),
    ("1969 Neil", None),
    ("196", None),            # not inside a word
    ("", None),
])
def test_answer_span_is_the_chunks_own_text_or_none(answer: str, expected: str | None) -> None:
    assert answer_span(answer, CHUNK) == expected


def test_answer_span_crosses_line_breaks() -> None:
    assert answer_span("20 July 1969", "landed on 20 July\n1969.") == "20 July\n1969"


@pytest.mark.parametrize(("question", "run"), [
    ("When did Apollo 11 land on the Moon?", 3),                       # "on the moon"
    ("Which mission landed on the Moon on 20 July 1969?", 8),
    ("Who flew the command module?", 1),                               # "the"
    ("Why?", 0),
])
def test_longest_common_run(question: str, run: int) -> None:
    assert longest_common_run(question, CHUNK) == run


def test_copies_chunk_cap_is_six_words() -> None:
    assert not copies_chunk("Who says Apollo 11 landed on the Moon?", CHUNK)          # 6 words shared
    assert copies_chunk("Is it true that Apollo 11 landed on the Moon on 20 July?", CHUNK)  # 9 words shared


@pytest.mark.parametrize(("question", "leans"), [
    ("What does the passage say about Apollo 11?", True),
    ("According to this document, who landed?", True),
    ("What is described above?", True),
    ("Which year is given in the text?", True),
    ("What does the above mean?", True),
    ("According to the author, who walked on the Moon?", True),
    ("What happened in the following section?", True),
    ("When did Apollo 11 land on the Moon?", False),
    ("Which text editor did NASA use?", False),                 # "text" as a subject, not a pointer
    ("Who wrote the Apollo 11 flight plan?", False),
])
def test_refers_to_context(question: str, leans: bool) -> None:
    assert refers_to_context(question) is leans


def test_leaks_answer_and_well_formed() -> None:
    assert leaks_answer("Did Neil Armstrong walk on the Moon?", "Neil Armstrong")
    assert not leaks_answer("Who walked on the Moon first?", "Neil Armstrong")
    assert leaks_answer("What is Stevie Wonder's professional name?", "Stevie Wonder")   # kept on the wiki before
    assert not leaks_answer("Who is Wonder's producer?", "Stevie Wonder")
    assert well_formed("When did Apollo 11 land?", "20 July 1969")
    assert not well_formed("When did Apollo 11 land", "20 July 1969")                # no question mark
    assert not well_formed("Why?", "it did")                                            # too short
    assert not well_formed("When did Apollo 11 land?", " ".join(["word"] * 13))         # answer too long


def test_near_duplicate() -> None:
    assert near_duplicate("When did Apollo 11 land on the Moon?", ["when did the apollo 11 land on the moon"])
    assert near_duplicate("When did Apollo 11 land on the moon?", ["When was the landing of Apollo 11 on the Moon?"])
    assert not near_duplicate("Who walked on the Moon?", ["When did Apollo 11 land on the Moon?"])
    assert not near_duplicate("When did Apollo 11 land?", [])


@pytest.mark.parametrize(("question", "answer", "kept", "why"), [
    ("When did Apollo 11 land on the Moon?", "20 July 1969", [], None),
    ("When did Apollo 11 land", "20 July 1969", [], "form"),
    ("When did the landing in the passage happen?", "20 July 1969", [], "refers_to_context"),
    ("Which mission landed on the Moon on 20 July 1969?", "Apollo 11", [], "copies_chunk"),
    ("When did Apollo 11 land on the Moon?", "21 July 1969", [], "answer_not_in_chunk"),
    ("Did Neil Armstrong walk on the surface?", "Neil Armstrong", [], "leaks_answer"),
    ("When did Apollo 11 land on the Moon?", "20 July 1969", ["When did Apollo 11 land on the moon"], "duplicate"),
])
def test_answerable_rejection(question: str, answer: str, kept: list[str], why: str | None) -> None:
    assert answerable_rejection(question, answer, CHUNK, kept) == why


@pytest.mark.parametrize(("proposed", "refused", "passages", "why"), [
    ("Irving Morrow", True, ["The bridge opened in 1937."], None),             # the gate refuses: kept
    ("Irving Morrow", False, ["The bridge opened in 1937."], "gate_answers"),  # Ask would try: not kept
    ("Neil Armstrong", True, [], "answered_by_chunk"),
    ("Michael Collins", True, ["Michael Collins stayed in orbit."], "answered_by_index"),
])
def test_unanswerable_rejection(proposed: str, refused: bool, passages: list[str], why: str | None) -> None:
    question = "Who chose the name of the Apollo 11 command module?"
    assert unanswerable_rejection(question, proposed, CHUNK, [], refused, passages) == why


# ---- sampling ---------------------------------------------------------------------------------------------
DOCS = [("long", 100), ("a", 1), ("b", 2), ("c", 3), ("empty", 0)]


def test_round_robin_takes_every_document_once_before_any_twice() -> None:
    first = round_robin(DOCS, 4, seed=1)
    assert Counter(doc for doc, _ in first) == {"long": 1, "a": 1, "b": 1, "c": 1}
    seven = round_robin(DOCS, 7, seed=1)
    assert Counter(doc for doc, _ in seven) == {"long": 2, "a": 1, "b": 2, "c": 2}


def test_round_robin_never_repeats_a_chunk_and_stops_when_all_are_drawn() -> None:
    picks = round_robin([("a", 3), ("b", 2)], 50, seed=0)
    assert sorted(picks) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)]


def test_round_robin_is_seeded_and_prefix_stable() -> None:
    assert round_robin(DOCS, 6, seed=5) == round_robin(DOCS, 6, seed=5)
    assert round_robin(DOCS, 10, seed=5)[:6] == round_robin(DOCS, 6, seed=5)   # a rerun asking more goes on
    with pytest.raises(ConfigError, match="-1"):
        round_robin(DOCS, -1)


def test_quotas_and_attempt_cap() -> None:
    assert quotas(25) == {"answerable": 20, "unanswerable": 5}
    assert quotas(3) == {"answerable": 2, "unanswerable": 1}
    assert attempt_cap(25) == 50 and attempt_cap(3) == 11 and attempt_cap(0) == 0


# ---- the set file -----------------------------------------------------------------------------------------
def test_set_file_round_trip_is_read_by_the_rag_reader(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Hand-written?", "answers": ["yes"]}', encoding="utf-8")  # no final newline
    append_row(path, {"question": "Who?", "answers": [], "kind": "unanswerable", "chunk_id": 4})
    rows = read_set(path)
    assert [kind_of(r) for r in rows] == ["answerable", "unanswerable"]
    assert [i.answerable for i in load_jsonl(path)] == [True, False]


def test_read_set_refuses_what_the_readers_refuse(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "No answers list"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="q.jsonl:1"):
        read_set(path)
    assert read_set(tmp_path / "missing.jsonl") == []


def test_check_save_path_names_the_bad_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        check_save_path(tmp_path)
    with pytest.raises(ConfigError, match="nowhere"):
        check_save_path(tmp_path / "nowhere" / "q.jsonl")
    check_save_path(tmp_path / "q.jsonl")
    assert not (tmp_path / "q.jsonl").exists()          # only checked, not created


def test_resume_position_goes_on_after_the_last_used_chunk_of_each_kind() -> None:
    rows = [{"question": "a?", "answers": ["x"], "kind": "answerable", "chunk_id": 7},
            {"question": "b?", "answers": ["y"], "kind": "answerable", "chunk_id": 4},
            {"question": "c?", "answers": [], "kind": "unanswerable", "chunk_id": 2}]
    assert resume_position([4, 7, 9, 2], rows, "answerable") == 2
    assert resume_position([2, 9, 7, 4], rows, "unanswerable") == 1
    assert resume_position([1, 3], rows, "answerable") == 0          # another index: from the start


def test_questions_set_keys_by_source_when_every_question_has_one() -> None:
    items = [EvalItem("Who?", ("Ann",), ("/docs/a.md",), ("A",)), EvalItem("Not here?", ())]
    by_source = questions_set(items, "mine")
    assert (by_source.queries, by_source.qrels, by_source.doc_key) == ({"q0": "Who?"}, {"q0": {"/docs/a.md": 1}},
                                                                        "source")
    by_title = questions_set([*items, EvalItem("What?", ("b",), (), ("B",))], "mine")
    assert (by_title.qrels, by_title.doc_key) == ({"q0": {"A": 1}, "q2": {"B": 1}}, "title")
    with pytest.raises(DatasetError, match="mine"):
        questions_set([EvalItem("Not here?", ())], "mine")


def test_questions_set_keys_by_document_id_before_source() -> None:
    # Two documents of one JSON file: the source is shared, the id is not.
    wiki = "/c/wiki.json"
    items = [EvalItem("Who?", ("Ann",), (wiki,), ("Ann",), (f"{wiki}#Ann",)),
             EvalItem("Where?", ("Bonn",), (wiki,), ("Bonn",), (f"{wiki}#Bonn",))]
    by_id = questions_set(items, "generated")
    assert (by_id.qrels, by_id.doc_key) == ({"q0": {f"{wiki}#Ann": 1}, "q1": {f"{wiki}#Bonn": 1}}, "doc_id")
    hand_written = questions_set([*items, EvalItem("What?", ("b",), (), ("B",))], "mixed")
    assert hand_written.doc_key == "title", "ids only when every answerable question has one"


def test_a_generated_line_names_its_document_as_gold_only_when_answerable() -> None:
    answerable = {"question": "Who?", "answers": ["Ann"], "source": "/c/w.json", "doc_id": "/c/w.json#Ann"}
    unanswerable = {"question": "Who else?", "answers": [], "kind": "unanswerable", "doc_id": "/c/w.json#Ann"}
    assert eval_item(answerable).gold_doc_ids == ("/c/w.json#Ann",)
    assert eval_item(unanswerable).gold_doc_ids == (), "the chunk that suggested its subject is not gold"


def test_a_saved_set_names_files_relative_to_the_working_folder_and_reads_them_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    wiki, outside = tmp_path / "docs" / "w.json", tmp_path.parent / "elsewhere.md"
    wiki.write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    record = Candidate(3, f"{wiki}#C# (language)", "C#", str(wiki), "C# is a language.", 0, 17)
    row = answerable_row("What is C#?", "a language", record)
    assert (row["source"], row["doc_id"]) == ("docs/w.json", "docs/w.json#C# (language)"), "no machine's folder"
    item = eval_item(row)
    assert item is not None and item.gold_doc_ids == (f"{wiki.resolve()}#C# (language)",), "read as the index has it"
    assert unanswerable_row("Who?", "Ann", record)["doc_id"] == "docs/w.json#C# (language)"
    away = Candidate(4, str(outside), "x", str(outside), "x", 0, 1)
    assert answerable_row("Q?", "x", away)["doc_id"] == str(outside), "a file outside the folder keeps its path"


def test_local_doc_id_takes_the_longest_file_before_a_hash(tmp_path: Path) -> None:
    (tmp_path / "notes#2.md").write_text("x", encoding="utf-8")
    (tmp_path / "w.json").write_text("{}", encoding="utf-8")
    assert local_doc_id("notes#2.md", tmp_path) == str((tmp_path / "notes#2.md").resolve())
    assert local_doc_id("w.json#F# and C#", tmp_path) == f"{(tmp_path / 'w.json').resolve()}#F# and C#"
    assert local_doc_id("gone/w.json#Ann", tmp_path) == f"{tmp_path / 'gone' / 'w.json'}#Ann"
    assert local_doc_id("/abs/w.json#Ann", tmp_path) == "/abs/w.json#Ann"


def test_committed_question_sets_name_no_machine_paths() -> None:
    sets = sorted(Path("data/eval").glob("*.jsonl"))
    assert sets, "run from the repository root"
    for path in sets:
        for number, row in jsonl_rows(path, "question"):
            for key in ("source", "doc_id"):
                value = row.get(key) if isinstance(row, dict) else None
                assert not (isinstance(value, str) and Path(value).is_absolute()), f"{path}:{number} {key}={value}"


# ---- the report's pick of the worst -----------------------------------------------------------------------
GOOD = ItemResult("good?", True, 1, 0.7, False, False, None, True, 1.0, 1, 0, True, None, None, "a")


def test_badness_and_worst_order() -> None:
    missed = replace(GOOD, question="missed?", gold_rank=None, containment=False)
    second = replace(GOOD, question="second?", gold_rank=2)
    answered = replace(GOOD, question="answered?", answerable=False, refused=False)
    refused = replace(GOOD, question="refused?", answerable=False, refused=True)
    assert [badness(r) for r in (GOOD, missed, second, answered, refused)] == [0, 4, 1, 4, 0]
    assert [r.question for r in worst([GOOD, second, missed, refused, answered], n=5)] == [
        "missed?", "answered?", "second?"]


# ---- with the real index and SmolLM2 ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_tiny_docs(tmp_path_factory.mktemp("tiny-docs"))
    index = tmp_path_factory.mktemp("tiny-index") / "index"
    Workspace(index).index([folder])
    return index


@pytest.mark.slow
def test_sample_chunks_spreads_over_every_document(tiny_index: Path) -> None:
    chunks = Workspace(tiny_index).sample_chunks(4, seed=0)
    assert sorted(Path(c.source).name for c in chunks) == sorted(TINY_DOCS)


@pytest.mark.slow
def test_a_set_whose_gold_documents_are_not_in_the_index_is_refused_by_name(
    tiny_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.retrieval_data import questions_jsonl
    from pipelines.retrieval_eval import evaluate_retrieval

    ws = Workspace(tiny_index)
    docs = Path(ws.sample_chunks(1, seed=0)[0].source).parent
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "When did Apollo 11 land on the Moon?", "answers": ["20 July 1969"], '
                         '"doc_id": "apollo.md"}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the relative path now names a file of tmp_path: not in the index
    with pytest.raises(DatasetError, match=r"q\.jsonl: none of its 1 gold documents is in the index .*apollo\.md"):
        evaluate_retrieval(questions_jsonl(questions), ws.embedder, index_dir=tiny_index, modes=("bm25",))
    with pytest.raises(DatasetError, match="from the folder it was saved in"):
        ws.eval_compare(load_jsonl(questions), "q.jsonl", [])
    monkeypatch.chdir(docs)  # read from the folder it names its file in: scored
    report = evaluate_retrieval(questions_jsonl(questions), ws.embedder, index_dir=tiny_index, modes=("bm25",))
    assert report["results"]["bm25"]["hit@1"] == 1.0


@pytest.mark.slow
def test_build_set_keeps_only_checked_questions_and_resumes_without_generating(tiny_index: Path,
                                                                                tmp_path: Path) -> None:
    ws = Workspace(tiny_index)
    rag = ws.rag(preset="smollm2-135m")
    chunks = candidates(ws.sample_chunks(attempt_cap(3), seed=0))
    path = tmp_path / "q.jsonl"
    rows, tally = build_set(rag, chunks, 3, path)
    assert tally.calls == tally.kept + sum(tally.rejected.values()) and tally.kept == len(rows) >= 1
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == rows
    text_of = {c.chunk_id: c.text for c in chunks}
    for row in rows:  # whatever SmolLM2 wrote, what was kept passes the checks it was kept by
        if kind_of(row) == "answerable":
            assert answer_span(row["answers"][0], text_of[row["chunk_id"]]) is not None
            assert row["source"].endswith(".md") and row["title"]
        assert not refers_to_context(row["question"]) and not copies_chunk(row["question"], text_of[row["chunk_id"]])
    before = path.read_bytes()
    again, second = build_set(rag, chunks, len(rows), path)
    assert (again, second.calls, second.reused, path.read_bytes()) == (rows, 0, len(rows), before)


# ---- --compare: grammar and the best-variant rule ---------------------------------------------------------
def test_variants_change_one_setting_of_the_baseline_each_and_skip_repeats() -> None:
    from pipelines.corpus_eval.compare import Variant, parse_axis, variants

    base = Variant(200, 32, True, "all-MiniLM-L6-v2")
    plan = variants([parse_axis("chunk_size=120,200"), parse_axis("leads=off,on"), parse_axis("model=minilm,mpnet")],
                    base)
    assert [(label, v.index_key()) for label, v in plan] == [
        ("baseline", (200, 32, True, "all-MiniLM-L6-v2")),
        ("chunk_size=120", (120, 32, True, "all-MiniLM-L6-v2")),
        ("leads=off", (200, 32, False, "all-MiniLM-L6-v2")),
        ("model=all-mpnet-base-v2", (200, 32, True, "all-mpnet-base-v2")),
    ]


def test_best_is_the_highest_mrr_then_the_cheapest() -> None:
    from pipelines.corpus_eval.compare import best

    rows = [{"label": "a", "mrr@10": 0.8, "index_seconds": 1.0, "query_ms_p50": 1.0},
            {"label": "b", "mrr@10": 0.9001, "index_seconds": 5.0, "query_ms_p50": 9.0},
            {"label": "c", "mrr@10": 0.9004, "index_seconds": 5.0, "query_ms_p50": 2.0},
            {"label": "d", "skipped": "not installed"}]
    assert best(rows) == "c"  # b and c tie to 3 decimals and index time; c answers faster
    assert best([rows[3]]) is None
