"""Entry point of the `sift` console script (and `python -m app`).

Exit codes: 0 ok, 1 user or data error (one-line message, no traceback), 2 usage error.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import io
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence

from indexing.errors import SiftError

# Write failures the user can fix: disk full, file too large, read-only file system, permission denied.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT})

# Each module has register(sub, eval_sub) adding its commands.
COMMAND_MODULES: tuple[str, ...] = (
    "app.cli.core",
    "app.cli.evaluate",
    "app.cli.classify",
    "app.cli.topics",
    "app.cli.ask",
    "app.cli.chat",
    "app.cli.serve",
    "app.cli.mcp",
    "app.cli.injection",
    "app.cli.corpus_eval",
    "app.cli.watch",
    "app.cli.doctor",
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command's, or with ``command`` only the modules up to the one that adds it.

    Start-up: each command module imports what its commands need (``classify`` pulls in
    scikit-learn, ~1 s); a run of ``sift index`` should not pay for them. ``eval``, ``--help`` and
    an unknown name get every module, so their help and errors list every command.
    """
    parser = argparse.ArgumentParser(prog="sift", description="Search, ask, label and map a folder of documents.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ev = sub.add_parser("eval", help="evaluate retrieval, classification, topics or RAG")
    eval_sub = ev.add_subparsers(dest="eval_command", required=True, metavar="TASK")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, eval_sub)
        if command not in (None, "eval") and command in sub.choices:
            break
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (the first argument that is not an option), e.g. ``"index"``."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except SiftError as exc:
        print(f"sift: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `sift search ... | head`: the reader left, no error (caught before OSError, its base)
        _silence_stdout()
        return 0
    except OSError as exc:  # the disk is full, the index folder read-only, ...: the write was rolled back
        if exc.errno not in _WRITE_ERRNOS:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"sift: error: could not write{where}: {exc.strerror}; nothing stored was changed — "
              "free space or fix the folder's permissions and run the command again", file=sys.stderr)
        return 1
    except sqlite3.OperationalError as exc:  # SQLite's words for the same failures
        if not any(word in str(exc) for word in ("disk is full", "readonly", "unable to open", "disk I/O")):
            raise
        print(f"sift: error: the index database could not be written ({exc}); nothing stored was changed — "
              "free space or fix the folder's permissions and run the command again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sift: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit does not raise a second BrokenPipeError."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
