"""OCR of scanned pages: sift's side-by-side single-threaded tesseracts against the tesseract CLI, and the dpi.

Real pages: PDF manuals shipped by Debian packages (``/usr/share/doc/**/*.pdf``, or ``--pdf``) whose pages have
a text layer. In one run:

1. **Throughput.** The pages are rasterised by poppler's ``pdftoppm`` at :data:`~indexing.loaders.ocr.OCR_DPI`
   into an image-only PDF (a scan, JPEG pages, no text layer). sift reads it with ``load_file`` (pages/s);
   the ceiling is the raw CLI run the best way on the same page images: one single-threaded ``tesseract``
   per CPU side by side (``OMP_THREAD_LIMIT=1 xargs -P N``); goal: sift ÷ CLI ≥ 0.9. Also the old layout
   (one ``tesseract`` at a time with its default OpenMP threads) and sift with other worker counts.
2. **Resolution.** The pages rendered at each ``--dpis`` value are read by sift's OCR and scored against
   their text layer (``pdftotext``): word accuracy (words of the text layer found in order, difflib) and
   words per CPU-second of tesseract (CPU time, so other load on the machine matters less than for wall
   time); then the same for scans resampled to OCR_DPI by sift (``300>200`` rows), and the pick the rule in
   :data:`~indexing.loaders.ocr.OCR_DPI`'s comment makes from these figures.

Usage: ``python bench/bench_ocr.py [--pages 8] [--dpis 100,112,150,200,300,600] [--old-pages 2] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexing.loaders import load_file  # noqa: E402
from indexing.loaders.ocr import OCR_DPI, OCR_WORKERS_ENV, at_ocr_dpi, ocr_workers, pnm_bytes, read_pages  # noqa: E402
from indexing.loaders.pdf import page_images  # noqa: E402

Page = tuple[Path, int, str]  # (manual, page number, its text layer)


def manuals(extra: list[str]) -> list[Path]:
    """The PDFs to take pages from: ``--pdf`` ones, then those Debian packages ship under /usr/share/doc."""
    found = [Path(p) for p in extra] + sorted(Path("/usr/share/doc").rglob("*.pdf"))
    if not found:
        raise SystemExit("no PDF manual found: pass --pdf FILE, or install a doc package that ships one")
    return found


def text_pages(pdfs: list[Path], n: int, min_words: int = 150) -> list[Page]:
    """Up to ``n`` pages with at least ``min_words`` words of text layer, taken in turn from each PDF."""
    per_pdf: list[list[Page]] = []
    for pdf in pdfs:
        count = int(re.search(r"Pages:\s+(\d+)", _run(["pdfinfo", str(pdf)]).decode()).group(1))  # type: ignore[union-attr]
        pages = [(pdf, p, _run(["pdftotext", "-f", str(p), "-l", str(p), str(pdf), "-"]).decode()) for p in
                 range(2, count + 1)]  # page 1 is a title page
        per_pdf.append([page for page in pages if len(page[2].split()) >= min_words])
    chosen = [page for row in zip(*per_pdf, strict=False) for page in row][:n] if len(per_pdf) > 1 else per_pdf[0][:n]
    if len(chosen) < n:
        chosen += [p for pages in per_pdf for p in pages if p not in chosen][: n - len(chosen)]
    return chosen


def render(page: Page, dpi: int) -> Image.Image:
    """The page as a greyscale picture at ``dpi``, as a scanner would see it."""
    pdf, number, _ = page
    png = _run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(number), "-l", str(number), str(pdf)])
    return Image.open(io.BytesIO(png)).convert("L")  # pdftoppm writes -gray pages as RGB PNGs


def words(text: str) -> list[str]:
    """Lowercased words without punctuation: ``"Hello, World!" → ["hello", "world"]``."""
    return [w for w in (re.sub(r"\W", "", token).lower() for token in text.split()) if w]


def accuracy(reference: str, ocr: str) -> tuple[int, int]:
    """(words of ``reference`` found in ``ocr`` in order, words of ``reference``)."""
    ref = words(reference)
    matcher = difflib.SequenceMatcher(None, ref, words(ocr), autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()), len(ref)


def _run(cmd: list[str], env: dict[str, str] | None = None) -> bytes:
    return subprocess.run(cmd, capture_output=True, check=True, env=env).stdout


def _cpu() -> float:
    """CPU seconds of this process and of its waited-for children (the tesseracts), user and system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def sift_load(scan: Path, workers: int) -> tuple[float, float, str]:
    """(wall s, CPU s, text) of sift's ``load_file`` on the scan with ``workers`` tesseracts."""
    os.environ[OCR_WORKERS_ENV] = str(workers)
    cpu, started = _cpu(), time.perf_counter()
    text = load_file(scan)[0].text
    return time.perf_counter() - started, _cpu() - cpu, text


def cli(files: list[Path], parallel: int, single_thread: bool) -> tuple[float, float]:
    """(wall s, CPU s) of ``xargs -P parallel tesseract`` on the files (each writes FILE.txt)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    if single_thread:
        env["OMP_THREAD_LIMIT"] = "1"
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run(["xargs", "-P", str(parallel), "-I{}", "tesseract", "{}", "{}", "quiet"],
                   input="\n".join(map(str, files)).encode(), check=True, env=env, capture_output=True)
    return time.perf_counter() - started, _cpu() - cpu


def scan_of(pages: list[Page], folder: Path) -> tuple[Path, list[Path]]:
    """An image-only PDF of the pages at OCR_DPI, and its page pictures as PNM files for the CLI."""
    scan = folder / "scan.pdf"
    images = [render(page, OCR_DPI) for page in pages]
    images[0].save(scan, "PDF", resolution=float(OCR_DPI), save_all=True, append_images=images[1:])
    from pypdf import PdfReader

    files = []
    for n, page in enumerate(PdfReader(scan).pages, start=1):  # the pixels sift reads, JPEG artefacts and all
        files.append(folder / f"page-{n:03}.pnm")
        files[-1].write_bytes(pnm_bytes(page_images(page, scan, n)[0]))
    return scan, files


def throughput(pages: list[Page], args: argparse.Namespace, folder: Path) -> None:
    cpus, n = ocr_workers(), len(pages)
    scan, files = scan_of(pages, folder)
    best = {"sift": (float("inf"), 0.0), "cli": (float("inf"), 0.0)}
    sift_text = ""
    for r in range(args.rounds):  # ABBA order, best of each: other load on the machine hits both alike
        for who in ("sift", "cli") if r % 2 == 0 else ("cli", "sift"):
            if who == "sift":
                wall, cpu, sift_text = sift_load(scan, cpus)
            else:
                wall, cpu = cli(files, cpus, single_thread=True)
            best[who] = min(best[who], (wall, cpu))
    (sift_s, sift_cpu), (cli_s, cli_cpu) = best["sift"], best["cli"]
    cli_text = "\n\n".join(f.with_name(f.name + ".txt").read_text().strip() for f in files)
    print(f"{n} pages of {len({p[0] for p in pages})} manuals at {OCR_DPI} dpi, {cpus} CPUs, best of {args.rounds}:")
    print(f"  sift load_file, {cpus} workers:           {n / sift_s:5.2f} pages/s, {sift_cpu / n:.2f} CPU-s/page")
    print(f"  CLI OMP_THREAD_LIMIT=1 xargs -P {cpus}:        {n / cli_s:5.2f} pages/s, {cli_cpu / n:.2f} CPU-s/page")
    print(f"  sift / CLI best: {cli_s / sift_s:.2f} in pages/s (goal >= 0.9), {cli_cpu / sift_cpu:.2f} in CPU per "
          f"page; same words as the CLI: {words(sift_text) == words(cli_text)}")
    for workers in sorted({1, cpus + 1, 2 * cpus} - {cpus}):
        wall, cpu, _ = sift_load(scan, workers)
        print(f"  sift, {workers} worker(s):                  {n / wall:5.2f} pages/s, {cpu / n:.2f} CPU-s/page "
              f"({cli_s / wall:.2f} of the CLI best)")
    if args.old_pages:
        old = files[: args.old_pages]
        wall, cpu = cli(old, 1, single_thread=False)
        print(f"  old layout, one tesseract at a time on its own threads ({len(old)} pages): {len(old) / wall:5.2f} "
              f"pages/s, {cpu / len(old):.2f} CPU-s/page; sift is {(wall / len(old)) / (sift_s / n):.1f}x faster")


def resolution(pages: list[Page], dpis: list[int]) -> None:
    print(f"word accuracy against the text layer, {len(pages)} pages, by the resolution tesseract reads:")
    rows = [(f"{d}", d, False) for d in dpis] + [(f"{d}>{OCR_DPI}", d, True) for d in (100, 300, 600)]
    scores: dict[int, tuple[float, float]] = {}  # dpi -> (accuracy, correct words per CPU-s)
    for label, dpi, resample in rows:
        images = [render(page, dpi) for page in pages]
        if resample:
            images = [at_ocr_dpi(image, dpi) for image in images]
        cpu, started = _cpu(), time.perf_counter()
        texts = [t for _, t in read_pages(((n, [im]) for n, im in enumerate(images, 1)), Path("bench.pdf"), "eng",
                                          total=len(images))]
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
        found, total = map(sum, zip(*(accuracy(p[2], t) for p, t in zip(pages, texts, strict=True)), strict=True))
        print(f"  {label:>8} dpi: accuracy {found / total:.3f}; {total / cpu:5.0f} words/CPU-s, "
              f"{found / cpu:5.0f} correct words/CPU-s; {total / wall:5.0f} words/s wall")
        if not resample:
            scores[dpi] = (found / total, found / cpu)
    print(f"  pick: {pick(scores)} dpi (OCR_DPI is {OCR_DPI}): the most correct words per CPU-second among the "
          "resolutions within 1 point of the best accuracy, also at 3/4 of the resolution (smaller print)")


def pick(scores: dict[int, tuple[float, float]]) -> int | None:
    """The dpi with the most correct words per CPU-second among those whose accuracy, and that of the listed dpi
    nearest at or below 3/4 of it, are within 1 point of the best.

    Example: ``{112: (.91, 300), 150: (.97, 265), 200: (.98, 235)}`` → 200 (150's smaller print, 112, drops 7 points).
    """
    best = max(accuracy for accuracy, _ in scores.values())

    def holds(dpi: int) -> bool:
        return scores[dpi][0] >= best - 0.01

    def smaller(dpi: int) -> int | None:
        return max((s for s in scores if s <= 0.75 * dpi), default=None)

    fine = [d for d in scores if holds(d) and (s := smaller(d)) is not None and holds(s)]
    return max(fine, key=lambda d: scores[d][1], default=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", action="append", default=[], help="a PDF with a text layer to take pages from")
    parser.add_argument("--pages", type=int, default=8, help="pages to read (default 8)")
    parser.add_argument("--dpis", default="100,112,150,200,300,600", help="resolutions to score")
    parser.add_argument("--old-pages", type=int, default=2, help="pages for the old threaded layout (0: skip)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of sift and the CLI (best kept)")
    parser.add_argument("--skip", choices=("throughput", "resolution"), help="leave one part out")
    args = parser.parse_args()
    for tool in ("tesseract", "pdftoppm", "pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install Debian's tesseract-ocr and poppler-utils")
    pages = text_pages(manuals(args.pdf), args.pages)
    print("pages: " + ", ".join(f"{p[0].name} p{p[1]}" for p in pages))
    with tempfile.TemporaryDirectory(prefix="sift-bench-ocr-") as folder:
        if args.skip != "throughput":
            throughput(pages, args, Path(folder))
        if args.skip != "resolution":
            resolution(pages, [int(d) for d in args.dpis.split(",")])


if __name__ == "__main__":
    main()
