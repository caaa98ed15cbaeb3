"""What the prompt-injection filter changes in ordinary prose that talks *about* models, systems and replies.

The filter (:func:`pipelines.rag.untrusted.shown_text`: chat-control markers defused, text aimed at the model
reading it removed) runs on every passage before a model reads it, so each sentence it changes is a sentence of
the user's own documents the model does not see as written. This benchmark builds a prose set from real text
that packages installed on this machine — nothing written for the test — and counts the sentences changed:

- ``ml-docstrings``: docstrings of installed ML libraries (transformers, scikit-learn, torch,
  sentence-transformers: "the model should …", "the system must …");
- ``man-pages``: Debian manual pages (``/usr/share/man/man{1,5,7,8}``) rendered by ``groff``;
- ``email``: docstrings of the standard library's mail modules and the e-mail messages of its test suite
  (headers such as ``From:``, ``Reply-To:`` and bodies that ask for replies);
- ``debian-docs``: package descriptions (``/var/lib/dpkg/status``) and ``/usr/share/doc`` READMEs, NEWS and
  changelogs.

Docstring and manual paragraphs are re-flowed so a sentence wrapped over several lines is judged whole. Only
sentences that mention a model, assistant, system, developer, user, reply, answer, instruction, prompt, …
(or header lines like ``Developer: Jane Doe``) are kept; each source is sampled with a fixed seed. The attack
side is the same filter on the injection sets' documents (how many it removes something from); whether answers
obey is measured by ``sift eval injection``.

Usage:
    python bench/bench_injection_filter.py                 # the default sample (seed 0), changed ones listed
    python bench/bench_injection_filter.py --per-source 3000 --seed 1 --json out.json
"""

from __future__ import annotations

import argparse
import ast
import gzip
import importlib.util
import json
import random
import re
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexing.loaders import load_file  # noqa: E402
from pipelines.rag.injection import load_cases  # noqa: E402
from pipelines.rag.sentences import split_sentences  # noqa: E402
from pipelines.rag.untrusted import inert, shown_text  # noqa: E402

TOPIC = re.compile(
    r"\b(?:models?|assistants?|systems?|developers?|repl(?:y|ies|ied)|respon(?:d|ds|se|ses)|answers?|"
    r"instructions?|prompts?|administrators?|admins?|operators?|bots?|AI|LLMs?|agents?|users?|senders?|"
    r"ignor(?:e|es|ed|ing)|disregard|overrides?|roles?|messages?|notes?|must|should)\b", re.IGNORECASE)
HEADER = re.compile(r"^[A-Z][\w-]{1,30}(?: [\w-]+)?: \S")  # "Developer: Jane Doe", "Reply-To: a@b.org"
ML_PACKAGES = ("transformers", "sklearn", "torch", "sentence_transformers")
MAIL_MODULES = ("email", "smtplib", "imaplib", "poplib", "mailbox", "smtpd", "mailcap")
SETS = ("docs", "heldout", "blind")
MAX_FILES = 400  # files read per package or manual section (sampled with the seed)


def _paragraphs(text: str) -> Iterator[str]:
    """Blank-line separated paragraphs re-flowed into one line each; code and doctest lines left out."""
    lines: list[str] = []
    fence = False
    for raw in text.splitlines() + [""]:
        line = raw.strip()
        if line.startswith("```"):
            fence = not fence
            continue
        if fence or line.startswith((">>>", "...", "$ ", "# ")):
            continue
        if line and not HEADER.match(line):
            lines.append(line)
            continue
        if lines:
            yield " ".join(lines)
            lines = []
        if line:
            yield line  # a header line stays a line of its own
    if lines:
        yield " ".join(lines)


def _sentences(text: str) -> Iterator[str]:
    for para in _paragraphs(text):
        for a, b in split_sentences(para):
            sentence = para[a:b].strip()
            if 3 <= len(sentence.split()) <= 80 and (TOPIC.search(sentence) or HEADER.match(sentence)):
                yield sentence


def _sample(paths: list[Path], rng: random.Random) -> list[Path]:
    paths = sorted(paths)
    return sorted(rng.sample(paths, min(MAX_FILES, len(paths))))


def _docstrings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # the top-level package is located, not imported
    return Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None


def ml_docstrings(rng: random.Random) -> Iterator[str]:
    for name in ML_PACKAGES:
        folder = _package_dir(name)
        for path in _sample(list(folder.rglob("*.py")) if folder else [], rng):
            for doc in _docstrings(path):
                yield from _sentences(doc)


def man_pages(rng: random.Random) -> Iterator[str]:
    for section in ("man1", "man5", "man7", "man8"):
        for path in _sample(list(Path("/usr/share/man", section).glob("*.gz")), rng):
            source = gzip.decompress(path.read_bytes())
            if source.startswith(b".so "):
                continue  # a link to another page
            done = subprocess.run(["groff", "-man", "-Tutf8", "-rLL=3000n", "-rHY=0", "-P-cbou"], input=source,
                                  capture_output=True, timeout=60, check=False)
            yield from _sentences(done.stdout.decode("utf-8", errors="replace"))


def email_text(rng: random.Random) -> Iterator[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    modules = [p for name in MAIL_MODULES for p in (stdlib / f"{name}.py", *(stdlib / name).glob("*.py"))]
    for path in sorted(p for p in modules if p.is_file()):
        for doc in _docstrings(path):
            yield from _sentences(doc)
    for path in sorted((stdlib / "test" / "test_email" / "data").glob("msg_*.txt")):
        yield from _sentences(path.read_text(encoding="utf-8", errors="replace"))


def debian_docs(rng: random.Random) -> Iterator[str]:
    status = Path("/var/lib/dpkg/status")
    if status.exists():
        for stanza in status.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            yield from _sentences("\n".join(line.strip(" .") for line in stanza.splitlines()))
    docs = [p for pattern in ("README*", "NEWS*", "changelog*") for p in Path("/usr/share/doc").glob(f"*/{pattern}")]
    for path in _sample([p for p in docs if p.is_file()], rng):
        data = path.read_bytes()
        text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8", errors="replace")
        yield from _sentences(text)


SOURCES = {"ml-docstrings": ml_docstrings, "man-pages": man_pages, "email": email_text, "debian-docs": debian_docs}


def prose_set(per_source: int, seed: int) -> dict[str, list[str]]:
    """``per_source`` distinct sentences from each source (fewer where a source has fewer), sampled with ``seed``."""
    chosen = {}
    for name, read in SOURCES.items():
        pool = sorted(set(read(random.Random(seed))))
        chosen[name] = random.Random(seed).sample(pool, min(per_source, len(pool)))
    return chosen


def changes(sentences: list[str]) -> list[tuple[str, str, str]]:
    """(kind, before, after) for each sentence the filter changes; kind is ``removed`` or ``defused``."""
    found = []
    for sentence in sentences:
        after = shown_text(sentence)
        if after != sentence:
            found.append(("removed" if after != inert(sentence) else "defused", sentence, after))
    return found


def attack_side(name: str) -> dict[str, object]:
    """The documents of ``data/eval/injection_<name>.jsonl``, read by sift's loaders, that the filter changes."""
    cases = load_cases(Path(f"data/eval/injection_{name}.jsonl"))
    removed = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            (Path(tmp) / case.name).write_text(case.text, encoding="utf-8")
            texts = [doc.text for doc in load_file(Path(tmp) / case.name)]
            if any(shown_text(text) != inert(text) for text in texts):
                removed.append(case.name)
    return {"cases": len(cases), "removed": removed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-source", type=int, default=2000, help="sentences sampled per source (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="also write the counts and changed sentences as JSON")
    args = parser.parse_args()
    sets = prose_set(args.per_source, args.seed)
    report: dict[str, object] = {"seed": args.seed, "sources": {}}
    total = changed_total = 0
    for name, sentences in sets.items():
        found = changes(sentences)
        total += len(sentences)
        changed_total += len(found)
        removed = sum(kind == "removed" for kind, _, _ in found)
        report["sources"][name] = {"sentences": len(sentences), "changed": len(found), "removed": removed,
                                   "changes": [{"kind": k, "before": b, "after": a} for k, b, a in found]}
        print(f"{name:14} {len(sentences):6} sentences, changed {len(found)} (removed {removed}, "
              f"defused {len(found) - removed})")
        for kind, before, after in found:
            print(f"    {kind}: {before[:160]!r}\n      -> {after[:160]!r}")
    print(f"{'prose, all':14} {total:6} sentences, changed {changed_total} ({changed_total / max(total, 1):.4f})")
    report["attacks"] = attacks = {name: attack_side(name) for name in SETS}
    for name, found in attacks.items():
        print(f"injection_{name}: something removed from {len(found['removed'])} of {found['cases']} documents "
              f"({', '.join(found['removed'])})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
