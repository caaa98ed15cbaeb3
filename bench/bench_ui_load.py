"""Load on the Streamlit app: one chromium, 5 browser contexts driven at once for a fixed time; no exception anywhere.

Starts ``streamlit run streamlit_app.py`` (``$SIFT_GENERATOR``, default ``smollm2-135m``) over a fresh tiny index in
a temp folder, warms it (one search, one question), then drives 5 contexts (Playwright's async API, one page each)
until ``--seconds`` have passed, each finishing its action in flight: (1) searches until "N results for 'query'"
shows; (2) asks on a freshly loaded Ask page until the TTFT line (or the refusal) shows; (3) rewrites
``sync/changing.md``, adds or deletes ``sync/extra.md`` and syncs ``sync/`` on the Library page until the report
reads ``added 1, updated 1, removed 0`` (or ``added 0, updated 1, removed 1``); (4) removes ``removable/owls.md``
("Removed 1 document(s)…") and syncs ``removable/`` to add it back, with ``removable/bats.md`` added on odd
rounds and deleted on even ones (``added 2, updated 0, removed 0`` / ``added 1, updated 0, removed 1``); (5) opens
Search, Topics, Classify, Tokens, Next token, Similarity in turn.

Counted as an exception, checked after every action: a ``stException`` element, "Traceback" in the page, an
``st.error`` box (every input here is valid), a warning not in :data:`EXPECTED_WARNINGS`, an uncaught browser-side
error, the connection-lost notice; at the end, every traceback in the server log. An action whose expected text never
shows is a failure, reported apart (a screenshot stays in the kept work folder).

Usage: ``python bench/bench_ui_load.py [--seconds 60] [--wait 240] [--keep]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Browser, Locator, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "app")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from test_browser import _free_port, _stop, _wait_healthy  # noqa: E402  (the suite's server helpers)
from ui_testkit import write_corpus  # noqa: E402

from app.workspace import Workspace  # noqa: E402

QUERIES = ["how do cats hunt", "eiffel tower paris", "sourdough bread yeast"]
QUESTIONS = ["What do cats do at night?", "When was the Eiffel Tower finished?", "How does sourdough rise?"]
PAGES = [("", "Search"), ("topics", "🗺️ Topics"), ("classify", "🏷️ Classify"), ("tokens", "Tokens"),
         ("next-token", "Next token"), ("similarity", "Similarity")]
EXPECTED_WARNINGS = ("No answer: the documents do not seem to cover this",
                     "The index changed since these topics were computed")
PROBLEMS_JS = """() => {
  const texts = (sel) => [...document.querySelectorAll(sel)]
    .filter((e) => sel.includes('stException') || !e.closest('[data-testid="stException"]'))
    .map((e) => e.innerText.trim());
  const body = document.body.innerText;
  return {exception: texts('[data-testid="stException"]'), error: texts('[data-testid="stAlertContentError"]'),
          warning: texts('[data-testid="stAlertContentWarning"]'), traceback: body.includes('Traceback'),
          disconnected: body.includes('Is Streamlit still running?')};
}"""
Action = Callable[[Page, int], Awaitable[None]]
Plan = tuple[tuple[str, str] | None, list[tuple[str, Action]]]  # (url path, title) opened first; (kind, action)s


class Bench:
    """The shared state of one run: base URL, work folder, timings, exceptions and failures."""

    def __init__(self, base_url: str, work: Path, wait_s: float) -> None:
        self.base_url, self.work, self.wait_ms = base_url, work, wait_s * 1000
        self.times: dict[str, list[float]] = defaultdict(list)
        self.per_context: dict[str, int] = defaultdict(int)
        self.exceptions: list[str] = []
        self.failures: list[str] = []

    async def settle(self, page: Page) -> None:
        """Wait for the session's script run to end. Between a run that calls ``st.rerun`` and the next one the
        state reads ``notRunning`` too, so every action first waits for text that only its final run shows."""
        await page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached", timeout=self.wait_ms)

    async def shows(self, page: Page, locator: Locator) -> None:
        """Wait for ``locator``, or for an exception or error box (then :meth:`check` reports it), and the run's end."""
        problem = page.get_by_test_id("stException").or_(page.get_by_test_id("stAlertContentError"))
        await expect(locator.or_(problem).first).to_be_visible()
        await self.settle(page)

    async def open(self, page: Page, url_path: str, title: str) -> None:
        await page.goto(f"{self.base_url}/{url_path}")
        await self.shows(page, page.get_by_role("heading", name=title))

    # ---- the actions: each raises (PlaywrightError, AssertionError) when its expected outcome does not show
    async def search(self, page: Page, n: int) -> None:
        query = QUERIES[n % len(QUERIES)]
        await page.get_by_label("Query").fill(query)
        await page.get_by_role("button", name="Search", exact=True).click()
        await self.shows(page, page.get_by_text(f"results for '{query}'"))

    async def ask(self, page: Page, n: int) -> None:
        await self.open(page, "ask", "💬 Ask")  # a fresh session: the thread (and the prompt) stays one turn long
        box = page.get_by_test_id("stChatInputTextArea")
        await box.fill(QUESTIONS[n % len(QUESTIONS)])
        await box.press("Enter")
        await self.shows(page, page.get_by_text("TTFT").or_(page.get_by_text("No answer:")))

    async def sync(self, page: Page, n: int) -> None:
        folder = self.work / "sync"
        (folder / "changing.md").write_text(f"# Changing note\n\nRound {n} of the sync loop, at {time.time()}.\n")
        extra, add = folder / "extra.md", n % 2 == 0
        extra.write_text("# Extra\n\nHedgehogs roll into a ball.\n") if add else extra.unlink()
        await self._sync_folder(page, folder, f"added {int(add)}, updated 1, removed {int(not add)}")

    async def remove(self, page: Page, n: int) -> None:
        await page.get_by_role("tab", name="Remove documents").click()
        await page.get_by_test_id("stMultiSelect").click()
        await page.get_by_role("option", name=re.compile(r"owls\.md$")).click()
        await page.keyboard.press("Escape")
        await page.get_by_role("button", name="Remove", exact=True).click()
        await self.shows(page, page.get_by_text("Removed 1 document(s) from 1 file(s)."))

    async def readd(self, page: Page, n: int) -> None:
        bats = self.work / "removable" / "bats.md"  # added on odd rounds, deleted on even: each report differs
        bats.write_text("# Bats\n\nBats find moths by echolocation.\n") if n % 2 else bats.unlink(missing_ok=True)
        summary = "added 2, updated 0, removed 0" if n % 2 else f"added 1, updated 0, removed {int(n > 0)}"
        await self._sync_folder(page, bats.parent, summary)

    async def _sync_folder(self, page: Page, folder: Path, summary: str) -> None:
        await page.get_by_role("tab", name="Sync a folder").click()
        await page.get_by_label("Folder or file path").fill(str(folder))
        await page.get_by_role("button", name="Sync", exact=True).click()
        await self.shows(page, page.get_by_text(re.compile("^" + re.escape(summary))))

    async def pages(self, page: Page, n: int) -> None:
        await self.open(page, *PAGES[n % len(PAGES)])

    # ---- the loop of one context
    async def drive(self, browser: Browser, name: str, plan: Plan, until: float, rounds: int = 1 << 30) -> None:
        """Open the plan's first page (timed as ``open``), then run its actions round after round until ``until``."""
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(self.wait_ms)
        page.on("pageerror", lambda exc: self.exceptions.append(f"[{name}] browser error: {exc}"))
        start, actions = plan
        if start is not None:
            kind = "warmup-open" if name == "warmup" else "open"
            await self.timed(page, name, kind, lambda page, n: self.open(page, *start), 0)
        n = 0
        while n < rounds and (n == 0 or time.monotonic() < until):
            for kind, action in actions:
                await self.timed(page, name, kind, action, n)
            n += 1
        await context.close()

    async def timed(self, page: Page, name: str, kind: str, action: Action, n: int) -> None:
        start = time.perf_counter()
        try:
            await action(page, n)
        except (PlaywrightError, AssertionError) as exc:
            shot = self.work / f"failure-{name}-{kind}-{n}.png"
            with contextlib.suppress(PlaywrightError):
                await page.screenshot(path=str(shot), full_page=True)
            self.failures.append(f"[{name}] {kind} #{n} on {page.url}: {str(exc).splitlines()[0]} (screenshot {shot})")
        self.times[kind].append(time.perf_counter() - start)
        self.per_context[name] += 1
        try:
            self.check(name, kind, page.url, await page.evaluate(PROBLEMS_JS))
        except PlaywrightError as exc:  # the page itself is gone
            self.exceptions.append(f"[{name}] {kind} on {page.url}: page unreadable: {exc}")

    def check(self, name: str, kind: str, url: str, found: dict[str, Any]) -> None:
        where = f"[{name}] {kind} on {url}"
        unexpected = [w for w in found["warning"] if not w.startswith(EXPECTED_WARNINGS)]
        for key, texts in [("exception", found["exception"]), ("error", found["error"]), ("warning", unexpected)]:
            self.exceptions += [f"{where}: {key}: {text}" for text in texts]
        if found["traceback"] and not found["exception"]:
            self.exceptions.append(f"{where}: 'Traceback' in the page text")
        if found["disconnected"]:
            self.exceptions.append(f"{where}: the page lost its connection to the server")


def _start(work: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Build the tiny index and start streamlit on it as the browser suite does; returns the process and its URL."""
    docs = write_corpus(work / "docs")
    (work / "sync").mkdir()
    (work / "sync" / "changing.md").write_text("# Changing note\n\nThe first version.\n")
    (work / "removable").mkdir()
    (work / "removable" / "owls.md").write_text("# Owls\n\nOwls hunt voles at night and swallow them whole.\n")
    Workspace(work / "index").index([docs, work / "sync", work / "removable"])
    env = {**os.environ, "SIFT_INDEX": str(work / "index"), "SIFT_CONFIG": str(work / "none"), "HF_HUB_OFFLINE": "1"}
    env.setdefault("SIFT_GENERATOR", "smollm2-135m")
    port = _free_port()
    flags = "--server.headless true --browser.gatherUsageStats false --server.fileWatcherType none"
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", *flags.split()]
    command += ["--server.address", "localhost", "--server.port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        _wait_healthy(url, proc, log, seconds=120)
    except RuntimeError:
        _stop(proc)
        raise
    return proc, url


def log_tracebacks(text: str) -> list[str]:
    """The tracebacks in a server log, plain or drawn by rich (ANSI colours stripped): each from its ``Traceback``
    line through the indented or boxed lines under it to the exception line that ends it."""
    blocks: list[list[str]] = []
    inside = False
    for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():
        if "Traceback" in line:
            blocks.append([line])
            inside = True
        elif inside:
            blocks[-1].append(line)
            inside = not line.strip() or line[0].isspace() or line[0] in "─│╭╰┃━"
    return ["\n".join(block).strip() for block in blocks]


async def _run(bench: Bench, seconds: float) -> None:
    async with async_playwright() as p:
        args = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=args)
        expect.set_options(timeout=bench.wait_ms)
        warm = time.monotonic()  # one search, one question: the models load before the clock starts
        await bench.drive(browser, "warmup", (PAGES[0], [("warmup-search", bench.search), ("warmup-ask", bench.ask)]),
                          warm, rounds=1)
        print(f"warm-up {time.monotonic() - warm:.1f} s", flush=True)
        until = time.monotonic() + seconds
        library = ("library", "Library")
        plans: dict[str, Plan] = {
            "1-search": (PAGES[0], [("search", bench.search)]), "2-ask": (None, [("ask", bench.ask)]),
            "3-sync": (library, [("sync", bench.sync)]),
            "4-remove": (library, [("remove", bench.remove), ("readd", bench.readd)]),
            "5-pages": (None, [("pages", bench.pages)])}
        start = time.monotonic()
        await asyncio.gather(*(bench.drive(browser, name, plan, until) for name, plan in plans.items()))
        print(f"load phase {time.monotonic() - start:.1f} s (the last actions finish after --seconds)")
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--wait", type=float, default=240.0, help="seconds one action may take before it fails")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (kept anyway on a problem)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sift-ui-load-"))
    log = work / "streamlit.log"
    proc, url = _start(work, log)
    bench = Bench(url, work, args.wait)
    try:
        asyncio.run(_run(bench, args.seconds))
    finally:
        _stop(proc)
    tracebacks = log_tracebacks(log.read_text(errors="replace"))
    print("command:", " ".join(sys.orig_argv))
    print("actions per context:", ", ".join(f"{k} {v}" for k, v in sorted(bench.per_context.items()) if k != "warmup"))
    print("total actions:", sum(v for k, v in sorted(bench.per_context.items()) if k != "warmup"))
    for kind, samples in bench.times.items():
        arr = np.array(samples)
        print(f"  {kind:14s} n={len(arr):3d}  p50 {np.percentile(arr, 50):6.2f} s  p99 {np.percentile(arr, 99):6.2f} s")
    for title, found in [("exceptions found in pages", bench.exceptions), ("tracebacks in the server log", tracebacks),
                         ("failed actions (expected text never showed)", bench.failures)]:
        print(f"{title}: {len(found)}", *found, sep="\n  ")
    if bench.exceptions or tracebacks or bench.failures or args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
