"""Identifier lookups over look-alike documents: the development set for hybrid fusion.

Ticket ids, error codes, function names, host names, part numbers and code words are the queries
where BM25 is certain and dense retrieval is not: the documents differ from each other mainly in the
identifier, so their vectors nearly coincide, while the identifier's term occurs in one document
only. Each family here is a set of near-identical notes built from one template; each note gets one
identifier of its own, and queries name it bare, lower-cased, inside a sentence, or with
punctuation attached ("(E2071)", "OPS-4821's"). The relevant document is the one note that holds it.

The set is generated, so it can be rebuilt and resized: ``python -m pipelines.identifiers`` writes the
committed ``data/eval/identifiers.jsonl`` (queries) and ``data/eval/identifiers_corpus.jsonl``
(documents), and :func:`generate` gives a small one for tests. ``sift eval retrieval --dataset
identifiers`` indexes the notes into a temporary index and scores the queries (MiniLM, 240 notes, 840
queries): hit@1 dense 0.677, BM25 1.000, hybrid 0.936 with z-score fusion alone and 1.000 with the lift
of :mod:`pipelines.search`.

Example:
    >>> docs, queries = generate(per_family=2, seed=0)
    >>> len(docs), queries[0].form, queries[0].doc == docs[0].id
    (12, 'bare', True)
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from indexing.errors import DatasetError
from pipelines.retrieval_data import RetrievalSet

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "eval"
QUERIES_FILE = EVAL_DIR / "identifiers.jsonl"
CORPUS_FILE = EVAL_DIR / "identifiers_corpus.jsonl"
PER_FAMILY = 40
SEED = 0
FORMS = ("bare", "lower", "sentence", "attached")


@dataclass(frozen=True)
class IdDocument:
    """One note: ``id`` is its key in the qrels, ``key`` the identifier it alone holds."""

    id: str
    family: str
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class IdQuery:
    """A query naming one document's identifier, in one of :data:`FORMS`."""

    id: str
    doc: str
    family: str
    form: str
    query: str


@dataclass(frozen=True)
class _Family:
    title: str
    make_key: Callable[[random.Random, int], str]
    template: str  # the note; {key} and fields drawn from ``fields``
    fields: dict[str, tuple[str, ...]]
    sentences: tuple[str, ...]  # questions around the key
    attached: tuple[str, ...]  # the key with punctuation or a suffix stuck to it


_SUMMARIES = ("the login page times out after the nightly deploy", "exports to CSV drop the last row",
              "the invoice total is rounded twice", "search results load slowly for large folders",
              "password reset emails arrive late")
_TEAMS = ("platform", "payments", "web", "data", "support")
_SERVICES = ("billing", "storage", "gateway", "scheduler", "mailer")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_VERBS = ("parse", "load", "save", "render", "merge", "validate", "fetch", "update")
_NOUNS = ("invoice", "user", "order", "report", "session", "profile", "ledger", "payload", "cache", "token")
_ROLES = ("db", "cache", "web", "queue", "api", "worker")
_SITES = ("fra", "ams", "lon", "nyc", "sfo")


def _ticket(rng: random.Random, i: int) -> str:
    return f"{rng.choice(('OPS', 'PAY', 'WEB'))}-{rng.randrange(1000, 10000)}"


def _error(rng: random.Random, i: int) -> str:
    return f"E{rng.randrange(1000, 10000)}"


def _function(rng: random.Random, i: int) -> str:
    verb, a, b = rng.choice(_VERBS), rng.choice(_NOUNS), rng.choice(_NOUNS)
    return f"{verb}_{a}_{b}" if a != b else f"{verb}_{a}_v{rng.randrange(2, 10)}"


def _host(rng: random.Random, i: int) -> str:
    return f"{rng.choice(_ROLES)}{rng.randrange(10, 100)}-{rng.choice(_SITES)}"


def _part(rng: random.Random, i: int) -> str:
    return f"{rng.choice(('KX', 'TR', 'ZM'))}-{rng.randrange(1000, 10000)}{rng.choice('ABCDEF')}"


def _code_word(rng: random.Random, i: int) -> str:
    return f"plum{rng.randrange(100, 1000)}"


FAMILIES: dict[str, _Family] = {
    "ticket": _Family(
        "Ticket", _ticket,
        "Ticket {key}: {summary}. Reported by the {team} team on {day}; status: open, priority normal.",
        {"summary": _SUMMARIES, "team": _TEAMS, "day": _DAYS},
        ("what is the status of {key}?", "who reported ticket {key}", "is {key} fixed yet?"),
        ("{key}'s priority?", "status ({key})", "see {key}: still open?"),
    ),
    "error": _Family(
        "Error code", _error,
        "Error {key} is raised when the {service} service cannot reach its database. Restart {service} and "
        "retry; if the error persists, contact the {team} team.",
        {"service": _SERVICES, "team": _TEAMS},
        ("what does error {key} mean?", "I keep getting {key} when saving a file", "how do I fix {key}"),
        ("error {key}: what now?", "got ({key}) again", "{key}, how to fix?"),
    ),
    "function": _Family(
        "Function reference", _function,
        "The function {key}() in the {service} module reads its input, checks it and returns a dict; "
        "it returns None on failure and logs a warning for the {team} team.",
        {"service": _SERVICES, "team": _TEAMS},
        ("what does {key} return?", "where is {key} defined", "how do I call {key} on a file"),
        ("{key}() returns what?", "calling {key}(path) fails", "docs for {key}."),
    ),
    "host": _Family(
        "Host", _host,
        "Host {key}.internal runs the {service} service; it sits in rack {rack} and is patched on {day} nights "
        "by the {team} team.",
        {"service": _SERVICES, "rack": ("A1", "B2", "C3"), "day": _DAYS, "team": _TEAMS},
        ("which rack is {key} in?", "when is {key} patched", "what runs on {key}.internal"),
        ("ssh {key}.internal fails", "is {key}'s disk full?", "reboot {key}, ok?"),
    ),
    "part": _Family(
        "Part", _part,
        "Part {key} is a {material} bracket for the {service} cabinet; reorder it when fewer than ten remain "
        "in stock. Supplier contact: the {team} team.",
        {"material": ("steel", "aluminium", "nylon"), "service": _SERVICES, "team": _TEAMS},
        ("how many {key} are left in stock?", "what is part {key} made of", "reorder part {key}"),
        ("qty:{key}?", "part no. {key}, material?", "need ({key}) x4"),
    ),
    "note": _Family(
        "Note", _code_word,
        "Meeting note: the {team} team reviewed the plan for the {service} rollout on {day}. Code word {key}.",
        {"team": _TEAMS, "service": _SERVICES, "day": _DAYS},
        ("which note has the code word {key}?", "meeting with code word {key}", "the {key} rollout plan"),
        ("code word: {key}!", "'{key}' meeting?", "{key}'s rollout"),
    ),
}


def generate(per_family: int = PER_FAMILY, seed: int = SEED) -> tuple[list[IdDocument], list[IdQuery]]:
    """Documents (``per_family`` of each family) and their queries, the same for the same arguments.

    Each note's :func:`distinctive` word occurs in that note only.

    Raises:
        ValueError: ``per_family`` below 1.
    """
    if per_family < 1:
        raise ValueError(f"per_family must be at least 1, got {per_family}")
    rng = random.Random(seed)
    docs: list[IdDocument] = []
    queries: list[IdQuery] = []
    used: set[str] = set()
    for name, family in FAMILIES.items():
        for i in range(per_family):
            key = family.make_key(rng, i)
            while distinctive(key) in used:
                key = family.make_key(rng, i)
            used.add(distinctive(key))
            fields = {field: rng.choice(values) for field, values in family.fields.items()}
            doc = IdDocument(f"{name}-{i:03d}", name, key, family.title, family.template.format(key=key, **fields))
            docs.append(doc)
            queries.extend(_queries(doc, family, i, len(queries)))
    return docs, queries


def distinctive(key: str) -> str:
    """The word of an identifier that no other note may hold: the longest one with a digit, else the longest.

    Words are BM25's (runs of two or more word characters, lower-cased).

    Example:
        >>> distinctive("OPS-4821"), distinctive("db12-fra"), distinctive("parse_user_order")
        ('4821', 'db12', 'parse_user_order')
    """
    words = re.findall(r"\w\w+", key.lower())
    with_digit = [w for w in words if any(ch.isdigit() for ch in w)]
    return max(with_digit or words, key=len)


def _queries(doc: IdDocument, family: _Family, i: int, start: int) -> list[IdQuery]:
    texts = {
        "bare": doc.key,
        "lower": doc.key.lower(),
        "sentence": family.sentences[i % len(family.sentences)].format(key=doc.key),
        "attached": family.attached[i % len(family.attached)].format(key=doc.key),
    }
    out: list[IdQuery] = []
    seen: set[str] = set()
    for form in FORMS:
        if texts[form] not in seen:  # a key already in lower case gives no separate "lower" query
            seen.add(texts[form])
            out.append(IdQuery(f"q{start + len(out)}", doc.id, doc.family, form, texts[form]))
    return out


def write(folder: Path = EVAL_DIR, per_family: int = PER_FAMILY, seed: int = SEED) -> tuple[Path, Path]:
    """Write the queries and the documents as JSONL under ``folder``; returns both paths."""
    docs, queries = generate(per_family, seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / QUERIES_FILE.name, folder / CORPUS_FILE.name
    for path, rows in zip(paths, (queries, docs)):
        path.write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows), encoding="utf-8")
    return paths


def identifier_set(queries: Path = QUERIES_FILE, corpus: Path | None = None) -> RetrievalSet:
    """The committed set (or another pair of files) as a :class:`RetrievalSet` with its own corpus.

    Args:
        queries: the queries file; its corpus is ``identifiers_corpus.jsonl`` beside it unless ``corpus`` is given.
        corpus: the documents file.

    Raises:
        DatasetError: a file is missing or a query names a document the corpus lacks.
    """
    corpus = corpus or queries.with_name(CORPUS_FILE.name)
    rows = {path: _read(path) for path in (queries, corpus)}
    docs = {r["id"]: (r["title"], r["text"]) for r in rows[corpus]}
    missing = sorted({r["doc"] for r in rows[queries]} - set(docs))
    if missing:
        raise DatasetError(f"{queries}: queries name documents that {corpus} lacks: {', '.join(missing[:5])}")
    return RetrievalSet(
        "identifiers", {r["id"]: r["query"] for r in rows[queries]}, {r["id"]: {r["doc"]: 1} for r in rows[queries]},
        docs,
    )


def generated_set(per_family: int = PER_FAMILY, seed: int = SEED) -> RetrievalSet:
    """:func:`generate` as a :class:`RetrievalSet`, without files (for tests)."""
    docs, queries = generate(per_family, seed)
    return RetrievalSet("identifiers", {q.id: q.query for q in queries}, {q.id: {q.doc: 1} for q in queries},
                        {d.id: (d.title, d.text) for d in docs})


def _read(path: Path) -> list[dict]:
    if not path.exists():
        raise DatasetError(f"{path} is missing: write it with `python -m pipelines.identifiers`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


if __name__ == "__main__":
    for written in write():
        print(written)
