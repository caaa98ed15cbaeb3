"""The generated reference pages: ``docs/cli.md`` from the argparse parsers, ``docs/configuration.md`` from the
settings module and the ``SIFT_*`` variables the code reads.

Why generated: a hand-written synopsis drifts from the parsers (flags get added, the README's did not show
them). ``python -m app.reference`` rewrites both pages; ``python -m app.reference --check`` exits 1 when a page
differs from what the code gives now (``tests/test_docs.py`` runs the same comparison).

Example:
    >>> page = cli_page()
    >>> page.startswith("# Command-line reference") and "## sift index" in page and "`--vector-index KIND`" in page
    True
    >>> "`SIFT_INDEX`" in configuration_page()
    True
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from app.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
VARIABLE = re.compile(r"\bSIFT_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
USAGE_WIDTH = 100
SCANNED_PACKAGES = ("app", "indexing", "pipelines")
YES_NO = "yes/no word"
# Every variable sift reads: (values, default, what it does); ``{name}`` is filled from the code (:func:`_constants`).
# The variables in the code are found by scanning the source (:func:`variables_in_source`); one missing here, or
# described here and read nowhere, is an error (sorted by name when rendered).
DESCRIPTIONS: dict[str, tuple[str, str, str]] = {
    "HF_HUB_OFFLINE": (YES_NO, "yes", "sift contacts the Hugging Face hub only when this is a no word; every "
                       "default model ships in a package"),
    "SIFT_API_KEY": ("a secret", "none", "`sift serve`: every route but `/healthz` and the API docs needs "
                     "`Authorization: Bearer <key>`; required to bind beyond 127.0.0.1"),
    "SIFT_BATCH_SIZE": ("whole number, 1 or more", "{batch_size}", "texts per embedding forward pass"),
    "SIFT_CHUNK_OVERLAP": ("whole number, 0 or more", "{chunk_overlap}",
                           "tokens shared by consecutive chunks (new index)"),
    "SIFT_CHUNK_SIZE": ("whole number, 1 or more", "{chunk_size}", "most embedding-model tokens per chunk (new index)"),
    "SIFT_CONFIG": ("a TOML file path", "`sift.toml`", "the settings file; a missing file means no file"),
    "SIFT_DATA": ("a folder path", "the checkout's `data/`", "datasets, downloads, models, the ONNX cache and the "
                  "default index; created when missing; no TOML key"),
    "SIFT_DEVICE": ("a torch device", "CUDA when available", "device of the PyTorch embedding path"),
    "SIFT_EMBED_RUNTIME": ("{runtimes}", "`onnx`", "runtime of bulk encoding; `torch` runs "
                           "`SentenceTransformer.encode` (not with int8 weights)"),
    "SIFT_EMBED_WORKERS": ("whole number, 1 or more", "one per CPU, at most {max_bulk_workers}",
                           "ONNX Runtime sessions that encode side by side, one thread each"),
    "SIFT_FAULT": ("`POINT` or `POINT:N`", "unset", "fault tests only: SIGKILL the process the first (N-th) time it "
                   "reaches a named point of the write path (`indexing/faults.py`)"),
    "SIFT_GENERATOR": ("{presets}", "`{default_preset}`", "the generator preset used when none is named"),
    "SIFT_GENERATOR_PATH": ("a model file or folder", "unset", "local weights for the preset (a `.gguf` or a "
                            "transformers folder), looked for after `--model-path`"),
    "SIFT_GROUP_CHUNKS": ("whole number, 1 or more", "{group_chunks}", "chunks embedded per write group; progress is "
                          "durable per group"),
    "SIFT_INDEX": ("a folder path", "`<data dir>/index`", "the index directory when `--index` is not given"),
    "SIFT_LLAMA_EXTRA_BUFFERS": (YES_NO, "off on CPUs with AMX, else on", "llama.cpp's extra CPU buffer types "
                                 "(weight repacking, AMX)"),
    "SIFT_LLAMA_THREADS": ("whole number, 1 or more", "half the cores, at least 1", "llama.cpp threads"),
    "SIFT_MODEL": ("a model name or folder", "`{model}`", "embedding model of a new index (an "
                   "existing index keeps its own)"),
    "SIFT_OCR": (YES_NO, "on", "read scanned PDF pages and images with tesseract while indexing"),
    "SIFT_OCR_WORKERS": ("whole number, 1 or more", "one per CPU", "tesseract processes that read pages side by side"),
    "SIFT_OCR_LANG": ("tesseract languages, e.g. `eng+deu`", "`{ocr_lang}`", "OCR languages"),
    "SIFT_PREFIX_CACHE": (YES_NO, "on", "keep the KV cache of the prompt's system turn between questions "
                          "(llama.cpp)"),
    "SIFT_QUANTIZE": ("{quantize_choices}", "`{quantize}`",
                      "embedding weights of a new index (recorded in its manifest); `auto`: int8 on the CPU, "
                      "fp32 on a GPU"),
    "SIFT_QUERY_RUNTIME": ("{query_runtimes}", "`onnx`", "runtime of query embedding; `torch` turns the ONNX "
                           "query path off"),
    "SIFT_QUERY_THREADS": ("whole number, 0 or more", "0 (automatic: the CPUs, at most {max_query_threads})",
                           "threads of the query session"),
    "SIFT_RAY_FAULT": ("a marker file path", "unset", "fault tests only: the first Ray actor to get a batch exits, "
                       "once per marker file"),
    "SIFT_RAY_WORKERS": ("whole number, 1 or more", "one per GPU, else one per {cpus_per_worker} CPUs",
                         "embedder actors of `sift index --engine ray`"),
    "SIFT_SECOND_LOOK": (YES_NO, "on", "when the model refuses a question the evidence gate let through, ask once "
                         "more without the refusal rule and keep that answer only if it cites a passage and every "
                         "sentence is supported"),
    "SIFT_STRIP_INSTRUCTIONS": (YES_NO, "on", "leave orders aimed at the model reading a passage (spoofed turns, "
                                "ignore-the-instructions, Markdown images) out of prompts"),
}
GENERATED = "<!-- Generated by `python -m app.reference` from {source}: edit the code, then run it again. -->"


# ---- docs/cli.md --------------------------------------------------------------------------------------
def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser, str]]:
    """``(name, parser, one-line help)`` for ``parser`` and every sub-command under it, depth first."""
    found: list[tuple[str, argparse.ArgumentParser, str]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((f"{prefix} {name}", sub, helps.get(name, "")))
                found += _commands(sub, f"{prefix} {name}")
    return found


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, reStructuredText roles and ````literals```` as Markdown code."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", " ".join(text.split()))
    return text.replace("``", "`").replace("|", "\\|")


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._HelpAction):
            continue
        invocation = formatter._format_action_invocation(action)
        if not action.option_strings and action.nargs in ("+", "*"):
            invocation += " ..." if action.nargs == "+" else " [...]"
        help_text = formatter._expand_help(action) if action.help else ""
        rows.append(f"| `{_cell(invocation)}` | {_cell(help_text)} |")
    return rows


def cli_page() -> str:
    """The Markdown of ``docs/cli.md``: every command's usage and options, from :func:`app.cli.main.build_parser`."""
    parser = build_parser()
    commands = _commands(parser, "sift")
    lines = [
        "# Command-line reference",
        "",
        GENERATED.format(source="the argparse parsers (app/cli/)"),
        "",
        "`sift COMMAND ...` and `python -m app COMMAND ...` are the same program. Every command takes `-h` for",
        "its help. Exit codes: `0` success, `1` a user or data error (one line on stderr, no traceback), `2` a",
        "usage error. Options that take a default from the environment name the variable; all of them are in",
        "[configuration.md](configuration.md).",
        "",
        "```text",
        _usage(parser),
        "```",
        "",
        "| option | what it does |",
        "|---|---|",
        *_option_rows(parser),
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name, _, summary in commands:
        lines.append(f"| [`{name}`](#{name.replace(' ', '-')}) | {_cell(summary)} |")
    for name, sub, summary in commands:
        lines += ["", f"## {name}", "", _cell(sub.description or summary), "", "```text", _usage(sub), "```"]
        rows = _option_rows(sub)
        if rows:
            lines += ["", "| argument | what it does |", "|---|---|", *rows]
    return "\n".join(lines) + "\n"


def parser_flags() -> set[str]:
    """Every option string of every parser (``--vector-index``, ``-k`` …), ``-h``/``--help`` excluded."""
    parser = build_parser()
    flags = set()
    for _, sub, _ in [("sift", parser, ""), *_commands(parser, "sift")]:
        for action in sub._actions:
            flags |= {flag for flag in action.option_strings if flag not in ("-h", "--help")}
    return flags


# ---- docs/configuration.md ------------------------------------------------------------------------------
def variables_in_source() -> set[str]:
    """The ``SIFT_*`` names written anywhere in the packages' source (doctest placeholders left out)."""
    names: set[str] = set()
    for package in SCANNED_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            names |= set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return {name for name in names if "EXAMPLE" not in name}


def _settings_attributes() -> dict[str, str]:
    """``Settings`` field → its description, from the ``Attributes:`` section of its docstring."""
    from app.settings import Settings

    described: dict[str, str] = {}
    key = None
    for line in (Settings.__doc__ or "").split("Attributes:")[1].split("Raises:")[0].splitlines():
        match = re.match(r"\s{8}(\w+): (.*)", line)
        if match:
            key, text = match.groups()
            described[key] = text
        elif key and line.strip():
            described[key] += " " + line.strip()
    return described


def _default(name: str, value: object) -> str:
    if name == "index_dir":
        return "`<data dir>/index`"
    if name == "data_dir":
        return "the checkout's `data/` (installed: `~/.local/share/sift`)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return "none (CUDA when available)" if value is None else f"`{value!r}`".replace("'", '"')


def _constants() -> dict[str, str]:
    """The defaults and choices the variables' descriptions quote, read from the modules that own them."""
    from app.settings import Settings
    from indexing.embedder import RUNTIMES
    from indexing.engines.ray_engine import CPUS_PER_WORKER
    from indexing.manifest import QUANTIZE
    from indexing.onnx_encoder import MAX_BULK_WORKERS, MAX_QUERY_THREADS
    from indexing.query_runtime import QUERY_RUNTIMES
    from indexing.sync import GROUP_CHUNKS
    from pipelines.generation.presets import DEFAULT_PRESET, PRESETS

    def listed(choices: object) -> str:
        return ", ".join(f"`{c}`" for c in choices)  # type: ignore[attr-defined]

    settings = {f.name: f.default for f in fields(Settings) if f.default is not MISSING}
    return {**{k: str(v) for k, v in settings.items()}, "max_bulk_workers": str(MAX_BULK_WORKERS),
            "max_query_threads": str(MAX_QUERY_THREADS), "cpus_per_worker": str(CPUS_PER_WORKER),
            "group_chunks": str(GROUP_CHUNKS), "default_preset": DEFAULT_PRESET, "presets": listed(PRESETS),
            "quantize_choices": listed(QUANTIZE), "runtimes": listed(RUNTIMES),
            "query_runtimes": listed(QUERY_RUNTIMES)}


def configuration_page() -> str:
    """The Markdown of ``docs/configuration.md``: ``sift.toml`` keys and every environment variable sift reads.

    Raises:
        KeyError: a ``SIFT_*`` variable in the code has no description in :data:`DESCRIPTIONS` (or one
            described there is read nowhere), named.
    """
    from app.settings import ENV, Settings

    found = variables_in_source()
    missing, stale = found - DESCRIPTIONS.keys(), {n for n in DESCRIPTIONS if n.startswith("SIFT_")} - found
    if missing or stale:
        raise KeyError(f"describe {sorted(missing)} / drop {sorted(stale)} in DESCRIPTIONS of app/reference.py")
    attributes = _settings_attributes()
    lines = [
        "# Configuration",
        "",
        GENERATED.format(source="app/settings.py, indexing/env.py and the SIFT_* variables in the code"),
        "",
        "Settings are read in this order, each overriding the one before: the defaults, `sift.toml` in the",
        "working directory (or the file `SIFT_CONFIG` names), `SIFT_*` environment variables, then the",
        "command's own options. A bad value stops the command with one message naming the variable (or the",
        "TOML key) and the value; yes/no variables take `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off` in any",
        "case. sift reads the environment and never writes to it.",
        "",
        "## `sift.toml`",
        "",
        "| key | variable | default | what it sets |",
        "|---|---|---|---|",
    ]
    for f in fields(Settings):
        default = f.default if f.default is not MISSING else None
        variable = f"`{ENV[f.name]}`" if f.name in ENV else "`SIFT_DATA` only"
        lines.append(f"| `{f.name}` | {variable} | {_default(f.name, default)} | {_cell(attributes[f.name])} |")
    lines += [
        "",
        "```toml",
        'index_dir = "data/index"',
        'model = "all-MiniLM-L6-v2"',
        "chunk_size = 200",
        "chunk_overlap = 32",
        "ocr = true",
        'ocr_lang = "eng+deu"',
        "```",
        "",
        "## Environment variables",
        "",
        "| variable | values | default | what it does |",
        "|---|---|---|---|",
    ]
    constants = _constants()
    for name in sorted(DESCRIPTIONS):
        values, default, text = (part.format(**constants) for part in DESCRIPTIONS[name])
        lines.append(f"| `{name}` | {_cell(values)} | {_cell(default)} | {_cell(text)} |")
    return "\n".join(lines) + "\n"


PAGES = {"cli.md": cli_page, "configuration.md": configuration_page}


def main(argv: list[str] | None = None) -> int:
    """Write the generated pages (``--check``: only compare them, exit 1 naming the stale ones)."""
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for name, build in PAGES.items():
        path, text = DOCS / name, build()
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run `python -m app.reference`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
