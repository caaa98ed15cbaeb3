"""The pages under docs/ and the README say what the code does: every Python example runs, every `sift` command
line parses with the real parser, every link resolves, and the generated reference pages are what the code gives
now (regenerate with `python -m app.reference`)."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.main import build_parser
from app.reference import DOCS, PAGES, parser_flags, variables_in_source

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app"))  # the server test kit
PAGES_MD = sorted(DOCS.rglob("*.md"))
ALL_MD = [ROOT / "README.md", *PAGES_MD]
SERVER_URL = "http://127.0.0.1:8000"  # what the examples call; the test serves a tiny index and rewrites it
README_LIMIT = 12_000


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def blocks(path: Path, *languages: str) -> list[str]:
    """The fenced code blocks of ``path`` whose info string is one of ``languages``, in order."""
    pattern = r"^```(" + "|".join(map(re.escape, languages)) + r")\n(.*?)^```"
    return [body for _, body in re.findall(pattern, path.read_text(encoding="utf-8"), flags=re.S | re.M)]


def sift_commands(block: str) -> Iterator[list[str]]:
    """The argument lists of the ``sift ...`` (or ``python -m app ...``) command lines of a shell block.

    Example: ``SIFT_MODEL=mpnet .venv/bin/sift index docs/  # comment`` → ``["index", "docs/"]``.
    """
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line.strip().removeprefix("$ "), comments=True)
        commands: list[list[str]] = [[]]
        for word in words:  # `a && b`, `a; b`, `a | b`: each command on its own
            if word in ("&&", "||", "|", ";"):
                commands.append([])
            else:
                commands[-1].append(word)
        for command in commands:
            while command and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", command[0]):
                command = command[1:]
            if command[:1] and (command[0] == "sift" or command[0].endswith("/sift")):
                yield command[1:]
            elif command[:3] == ["python", "-m", "app"]:
                yield command[3:]


# ---- shell examples -----------------------------------------------------------------------------------------
SHELL = [(path, argv) for path in ALL_MD for block in blocks(path, "bash", "console", "sh")
         for argv in sift_commands(block)]


def test_the_pages_show_commands() -> None:
    assert len(SHELL) >= 40 and {argv[0] for _, argv in SHELL} >= {"index", "search", "ask", "classify", "serve"}


@pytest.mark.parametrize(("path", "argv"), SHELL, ids=[f"{_name(p)}: sift {' '.join(a)}"[:120] for p, a in SHELL])
def test_every_documented_command_parses(path: Path, argv: list[str], capsys) -> None:
    parser = build_parser(argv[0] if argv else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{_name(path)}: `sift {shlex.join(argv)}` does not parse: {capsys.readouterr().err.strip()}")
    assert callable(args.func)


# ---- generated reference pages ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PAGES))
def test_generated_pages_are_current(name: str) -> None:
    page = DOCS / name
    assert page.exists() and page.read_text(encoding="utf-8") == PAGES[name](), (
        f"docs/{name} differs from what the code gives now: run `python -m app.reference` and commit the result")


def test_every_cli_flag_is_in_the_cli_reference() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = sorted(f for f in parser_flags() if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text))
    assert not missing, f"flags missing from docs/cli.md: {missing}; run `python -m app.reference`"


def test_every_variable_is_in_the_configuration_page_and_no_other() -> None:
    documented = set(re.findall(r"`(SIFT_[A-Z0-9_]+)`", (DOCS / "configuration.md").read_text(encoding="utf-8")))
    in_code = variables_in_source()
    assert in_code - documented == set(), "variables the code reads but docs/configuration.md lacks: describe them " \
        "in DESCRIPTIONS of app/reference.py and run `python -m app.reference`"
    assert documented - in_code == set(), "docs/configuration.md names variables no code reads: run " \
        "`python -m app.reference`"


# ---- links and length -----------------------------------------------------------------------------------------
def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M),
                          flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


LINKS = [(path, target) for path in ALL_MD
         for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8"))
         if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize(("path", "target"), LINKS, ids=[f"{_name(p)} -> {t}" for p, t in LINKS])
def test_links_resolve(path: Path, target: str) -> None:
    file, _, anchor = target.partition("#")
    linked = (path.parent / file).resolve() if file else path
    assert linked.exists(), f"{_name(path)} links to {target}, which does not exist"
    if anchor and linked.suffix == ".md":
        assert anchor in _anchors(linked), f"{_name(path)} links to #{anchor}, not a heading of {linked.name}"


def test_every_image_is_used() -> None:
    used = " ".join(p.read_text(encoding="utf-8") for p in ALL_MD)
    unused = [p.name for p in sorted((DOCS / "images").glob("*.png")) if f"images/{p.name}" not in used]
    assert not unused, f"images no page shows: {unused}"


def test_the_readme_is_short() -> None:
    size = len((ROOT / "README.md").read_text(encoding="utf-8"))
    assert size <= README_LIMIT, f"README.md is {size:,} characters; move detail to a page under docs/"


# ---- Python examples ------------------------------------------------------------------------------------------
EXAMPLES = [path for path in PAGES_MD if blocks(path, "python")]


@pytest.fixture(scope="module")
def doc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``sift serve`` (REST, OpenAI routes, MCP) over the test corpus, for examples that call one."""
    from conftest import CORPUS
    from server_testkit import live_server

    from app.server import ServerState
    from app.workspace import Workspace

    root = tmp_path_factory.mktemp("doc-server").resolve()
    (root / "docs").mkdir()
    for name, text in CORPUS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    ws = Workspace(root / "index")
    ws.index([root / "docs"])
    with live_server(ServerState(ws, mcp=True, upload_dir=root / "uploads")) as server:
        yield server.url


def test_the_pages_carry_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"getting-started.md", "python-api.md", "search.md", "ask.md", "classify.md",
                                          "topics.md", "serve.md", "watch.md"}


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[_name(p) for p in EXAMPLES])
def test_python_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                             request: pytest.FixtureRequest) -> None:
    """Each page's examples run in order in one namespace, in a fresh directory, and each prints something."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for number, block in enumerate(blocks(path, "python"), start=1):
        if SERVER_URL in block:
            block = block.replace(SERVER_URL, request.getfixturevalue("doc_server"))
        exec(compile(block, f"{_name(path)} example {number}", "exec"), namespace)  # noqa: S102
        assert capsys.readouterr().out.strip(), f"{_name(path)} example {number} prints nothing"
