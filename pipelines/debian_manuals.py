"""A folder of real manuals that Debian packages ship, for ``data/eval/debian_manuals.jsonl``.

Three documents hold the answers, each in another format: the bzip2 manual as a PDF (package ``bzip2-doc``),
the Ninja manual as HTML (``ninja-build``) and the ``xargs(1)`` manual page rendered to text (``findutils``,
rendered by groff as ``man`` would). Beside them go look-alike distractors from other packages: manual pages of
other compressors and build tools (gzip, xz, tar, find, make), the bc and time manuals, Valgrind's quick start
and FAQ, and the fontconfig and shared-mime-info PDFs. Missing distractors are skipped; a missing answer
document is an error naming the package to install.

Example::

    python -m pipelines.debian_manuals /tmp/manuals      # writes the folder, prints what it holds
    sift index /tmp/manuals --index /tmp/manuals-index
    sift eval rag --jsonl data/eval/debian_manuals.jsonl --index /tmp/manuals-index
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from indexing.errors import DatasetError

DOC = Path("/usr/share/doc")
MAN1 = Path("/usr/share/man/man1")


@dataclass(frozen=True)
class Source:
    """One file of the folder.

    Attributes:
        name: the file name in the folder (its extension picks sift's loader).
        path: where the package installs it (``.gz`` is decompressed; a ``man1`` page is rendered to text).
        package: the Debian package that ships it.
        gold: True for the documents the questions are written over.
    """

    name: str
    path: Path
    package: str
    gold: bool = False


SOURCES: tuple[Source, ...] = (
    Source("bzip2-manual.pdf", DOC / "bzip2/manual.pdf.gz", "bzip2-doc", gold=True),
    Source("ninja-manual.html", DOC / "ninja-build/manual.html", "ninja-build", gold=True),
    Source("xargs.txt", MAN1 / "xargs.1.gz", "findutils", gold=True),
    Source("gzip.txt", MAN1 / "gzip.1.gz", "gzip"),
    Source("xz.txt", MAN1 / "xz.1.gz", "xz-utils"),
    Source("tar.txt", MAN1 / "tar.1.gz", "tar"),
    Source("find.txt", MAN1 / "find.1.gz", "findutils"),
    Source("make.txt", MAN1 / "make.1.gz", "make"),
    Source("bc.html", DOC / "bc/bc.html", "bc"),
    Source("time.html", DOC / "time/time.html", "time"),
    Source("valgrind-quick-start.html", DOC / "valgrind/html/quick-start.html", "valgrind"),
    Source("valgrind-faq.html", DOC / "valgrind/html/faq.html", "valgrind"),
    Source("fontconfig-user.pdf", DOC / "fontconfig/fontconfig-user.pdf.gz", "fontconfig"),
    Source("shared-mime-info-spec.pdf", DOC / "shared-mime-info/shared-mime-info-spec.pdf", "shared-mime-info"),
)


def render_man(page: Path) -> str:
    """A manual page as plain text, the way ``man`` shows it (groff, no bold or underline).

    Raises:
        DatasetError: groff is missing or fails on the page.
    """
    source = gzip.decompress(page.read_bytes()) if page.suffix == ".gz" else page.read_bytes()
    try:
        done = subprocess.run(
            ["groff", "-man", "-Tutf8", "-P-cbou"], input=source, capture_output=True, check=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DatasetError(f"could not render {page} with groff ({exc}); install groff-base") from exc
    return done.stdout.decode("utf-8", "replace")


def write_source(source: Source, folder: Path) -> None:
    """Copy, decompress or render one source into ``folder``."""
    target = folder / source.name
    if source.path.parent == MAN1:
        target.write_text(render_man(source.path), encoding="utf-8")
    elif source.path.suffix == ".gz":
        target.write_bytes(gzip.decompress(source.path.read_bytes()))
    else:
        shutil.copyfile(source.path, target)


def build_folder(folder: Path) -> list[Source]:
    """Write the manuals into ``folder`` (created); return the sources written.

    Raises:
        DatasetError: an answer document is not installed (names its package).
    """
    missing = [s for s in SOURCES if s.gold and not s.path.is_file()]
    if missing:
        names = ", ".join(f"{s.path} (apt-get install {s.package})" for s in missing)
        raise DatasetError(f"the manuals the questions are about are not installed: {names}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in SOURCES:
        if source.path.is_file():
            write_source(source, folder)
            written.append(source)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.debian_manuals DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to write the manuals")
    args = parser.parse_args(argv)
    for source in build_folder(args.folder):
        print(f"{'answers   ' if source.gold else 'distractor'}  {source.name:28}  {source.package}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
