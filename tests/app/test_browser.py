"""End to end: `streamlit run streamlit_app.py` on a free port over a tiny index, driven in Debian's chromium.

Each step is one test function taking ``page`` (a Playwright page of the running app) and
``base_url``: open a page with :func:`open_page`, act, check, and save a screenshot with
:func:`shot` (under ``artifacts/screenshots/``). The server and browser start once per module.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from ui_testkit import build_index

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium")
WAIT_MS = 90_000  # the first query loads the embedding model

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer within {seconds} s:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server's whole process group (streamlit may start children)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a streamlit server over a tiny fresh index."""
    root = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "SIFT_INDEX": str(build_index(root)), "HF_HUB_OFFLINE": "1", "SIFT_CONFIG": str(root / "none")}
    port = _free_port()
    log = root / "streamlit.log"
    flags = "--server.headless true --browser.gatherUsageStats false --server.fileWatcherType none"
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", *flags.split()]
    command += ["--server.address", "localhost", "--server.port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://localhost:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Page]:
    """A chromium page (Debian's chromium driven by Playwright; no browser download)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
        )
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        try:
            yield tab
        finally:
            browser.close()


def open_page(page: Page, base_url: str, url_path: str, title: str) -> None:
    """Load one page of the app and wait for its title."""
    page.goto(f"{base_url}/{url_path}")
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``artifacts/screenshots/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()  # the script run has finished
    for chart in page.locator(".js-plotly-plot").all():
        expect(chart.locator(".main-svg").first).to_be_visible()
    time.sleep(0.5)  # let the last elements settle
    page.screenshot(path=str(path), full_page=True)
    return path


def test_search_shows_result_and_document(page: Page, base_url: str) -> None:
    open_page(page, base_url, "", "Search")
    page.get_by_label("Query").fill("how do cats hunt")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("1. Cats")).to_be_visible()
    expect(page.locator("mark", has_text="hunt").first).to_be_visible()
    shot(page, "search")
    page.get_by_role("button", name="Open the document at this passage").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("passage at 0–")).to_be_visible()
    expect(dialog.get_by_text("Show from the beginning")).to_be_visible()
    shot(page, "search-document")


def test_search_keeps_document_text_inert(page: Page, base_url: str) -> None:
    open_page(page, base_url, "", "Search")
    page.get_by_label("Query").fill("escaping check script alert")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("1. Unsafe <b>title")).to_be_visible()
    assert page.locator("img[src='x']").count() == 0


def test_library_shows_stats(page: Page, base_url: str) -> None:
    open_page(page, base_url, "library", "Library")
    expect(page.get_by_text("Chunks", exact=True)).to_be_visible()
    expect(page.get_by_text("Sync a folder")).to_be_visible()
    shot(page, "library")


def test_under_the_hood_pages(page: Page, base_url: str) -> None:
    open_page(page, base_url, "tokens", "Tokens")
    expect(page.get_by_text("tokens of 2,048")).to_be_visible()
    shot(page, "tokens")
    open_page(page, base_url, "next-token", "Next token")
    expect(page.get_by_text("tokens can be drawn")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_be_visible()
    shot(page, "next-token")
    page.locator(".js-plotly-plot").scroll_into_view_if_needed()
    shot(page, "next-token-chart")
    open_page(page, base_url, "similarity", "Similarity")
    expect(page.get_by_text("Closest pair: 1 and 2")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_be_visible()
    shot(page, "similarity")


def test_ask_streams_an_answer_with_figures(page: Page, base_url: str) -> None:
    open_page(page, base_url, "ask", "💬 Ask")
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("What do cats hunt?")
    box.press("Enter")
    expect(page.get_by_text("What do cats hunt?")).to_be_visible()
    # A real SmolLM2 answer streams in; under it the latency figures of the model's run.
    expect(page.get_by_text("TTFT")).to_be_visible()
    shot(page, "ask")


def test_classify_a_text_with_edited_labels(page: Page, base_url: str) -> None:
    open_page(page, base_url, "classify", "🏷️ Classify")
    labels = page.get_by_role("textbox", name="Labels")
    labels.fill("animals = a text about animals\nfood = a text about food, bread or baking")
    labels.press("Control+Enter")
    expect(page.get_by_text("2 labels: animals (1), food (1)")).to_be_visible()
    page.get_by_role("textbox", name="Text to classify").fill("Penguins hunt fish in cold seas.")
    page.get_by_role("button", name="Classify text").click()
    expect(page.get_by_test_id("stMetricValue")).to_have_text("animals")
    shot(page, "classify")


@pytest.mark.slow
def test_classify_a_table_with_auto_shows_the_generators_sample(page: Page, base_url: str,
                                                                      tmp_path: Path) -> None:
    from classify_testkit import LABELS, TEXTS

    open_page(page, base_url, "classify", "🏷️ Classify")
    labels = page.get_by_role("textbox", name="Labels")
    labels.fill("\n".join(f"{name} = {text}" for name, text in LABELS.items()))
    labels.press("Control+Enter")
    expect(page.get_by_text("2 labels: sports (1), cooking (1)")).to_be_visible()
    page.get_by_text("generator on a sample, embeddings for the rest (auto)").click()
    # Each step waits for the rerun the last one started: a click that lands mid-rerun can be lost.
    expect(page.get_by_label("Abstain below this probability (0 = never; answers 'unknown')")).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
    page.get_by_role("tab", name="Table file").click()
    expect(page.get_by_role("tab", selected=True)).to_have_text("Table file")
    table = tmp_path / "notes.csv"
    table.write_text("text\n" + "".join(f'"{t}"\n' for t in TEXTS), encoding="utf-8")
    page.locator("input[type=file]").first.set_input_files(str(table))
    expect(page.get_by_text("notes.csv").first).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
    expect(page.get_by_role("tab", selected=True)).to_have_text("Table file")
    page.get_by_role("button", name="Classify file").click()
    expect(page.get_by_text(re.compile(r"auto: the generator labelled 20 of 60 texts"))).to_be_visible()
    expect(page.get_by_text("60 rows labelled:")).to_be_visible()
    # The generator's sample is shown to be corrected (the corrections themselves: test_ui_classify.py).
    expect(page.get_by_text(re.compile(r"^The sample the generator labelled"))).to_be_visible()
    expect(page.get_by_role("button", name="Label again with my corrections")).to_be_visible()
    shot(page, "classify-auto")


def test_topic_map(page: Page, base_url: str) -> None:
    open_page(page, base_url, "topics", "🗺️ Topics")
    number = page.get_by_label("Number of topics (0 = automatic, HDBSCAN)")
    number.fill("2")
    number.press("Enter")
    page.get_by_role("button", name="Compute topics").click()
    expect(page.get_by_text("2 topics ·")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.locator(".js-plotly-plot .scatterlayer .point").first).to_be_attached()
    shot(page, "topics")


def test_library_stays_on_the_tab_in_use(page: Page, base_url: str, tmp_path: Path) -> None:
    """Syncing a folder, then removing what it added: after each rerun the user is still on the same tab."""
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "owls.md").write_text("# Owls\n\nOwls hunt voles at night.\n")
    open_page(page, base_url, "library", "Library")
    page.get_by_role("tab", name="Sync a folder").click()
    page.get_by_label("Folder or file path").fill(str(folder))
    page.get_by_role("button", name="Sync", exact=True).click()
    expect(page.get_by_text("added 1, updated 0, removed 0").first).to_be_visible()
    expect(page.get_by_role("tab", selected=True)).to_have_text("Sync a folder")
    # Each step waits for the script run it started to finish: on a loaded machine a click that lands while
    # the page is still being redrawn is lost, which no user on a quiet page would see.
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
    page.get_by_role("tab", name="Remove documents").click()
    expect(page.get_by_role("tab", selected=True)).to_have_text("Remove documents")
    page.get_by_test_id("stMultiSelect").click()
    page.get_by_role("option", name=re.compile(r"owls\.md$")).click()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
    expect(page.get_by_role("tab", selected=True)).to_have_text("Remove documents")
    page.get_by_role("button", name="Remove", exact=True).click()
    expect(page.get_by_text("Removed 1 document(s) from 1 file(s).")).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
    expect(page.get_by_role("tab", selected=True)).to_have_text("Remove documents")


# The docs' images are rewritten only on request (`make screenshots`); a test run writes them to a temporary
# folder, so `make test` never changes a tracked file.
DOC_IMAGES = ROOT / "docs" / "images" if os.environ.get("UPDATE_DOC_IMAGES") == "1" else None
DOC_VIEWPORT = {"width": 1200, "height": 800}
# The test's temporary folder (``.../e2e0/``) shown as ``~/`` in the images, as a user's own folder would be.
HIDE_TEMP_PATHS = r"""() => {
  const shorten = (text) => text.replace(/\/[^\s'"]*\/e2e\d*\//g, "~/");
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (shorten(node.nodeValue) !== node.nodeValue) node.nodeValue = shorten(node.nodeValue);
  }
  for (const field of document.querySelectorAll("input, textarea")) field.value = shorten(field.value);
}"""


def doc_images() -> Path:
    """Where :func:`doc_shot` saves: ``docs/images`` with ``UPDATE_DOC_IMAGES=1``, else one temporary folder."""
    global DOC_IMAGES
    if DOC_IMAGES is None:
        DOC_IMAGES = Path(tempfile.mkdtemp(prefix="sift-doc-images-"))
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    return DOC_IMAGES


def doc_shot(page: Page, name: str) -> Path:
    """Save what a 1200×800 window shows as ``<doc images>/<name>.png`` (the pages under docs/ show them)."""
    path = doc_images() / f"{name}.png"
    for chart in page.locator(".js-plotly-plot").all():
        expect(chart.locator(".main-svg").first).to_be_visible()
    time.sleep(0.5)  # let the last elements settle
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()  # no script run under way
    page.evaluate(HIDE_TEMP_PATHS)
    page.screenshot(path=str(path))
    return path


def _open_exactly(page: Page, base_url: str, url_path: str, title: str) -> None:
    """:func:`open_page`, matching the title exactly ("Next token" is also in a heading further down that page)."""
    page.goto(f"{base_url}/{url_path}")
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def test_screenshots_of_every_page_for_the_docs(page: Page, base_url: str) -> None:
    """Each page of the app in use, over the tiny index, as the images of README.md and docs/."""
    page.set_viewport_size(DOC_VIEWPORT)
    try:
        _open_exactly(page, base_url, "", "Search")
        page.get_by_label("Query").fill("how do cats hunt")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.get_by_text("1. Cats")).to_be_visible()
        doc_shot(page, "search")

        _open_exactly(page, base_url, "library", "Library")
        expect(page.get_by_text("Chunks", exact=True)).to_be_visible()
        doc_shot(page, "library")

        _open_exactly(page, base_url, "ask", "💬 Ask")
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("What do cats hunt?")
        box.press("Enter")
        expect(page.get_by_text("TTFT")).to_be_visible()
        doc_shot(page, "ask")

        _open_exactly(page, base_url, "classify", "🏷️ Classify")
        labels = page.get_by_role("textbox", name="Labels")
        labels.fill("animals = a text about animals\nfood = a text about food, bread or baking")
        labels.press("Control+Enter")
        expect(page.get_by_text("2 labels: animals (1), food (1)")).to_be_visible()
        page.get_by_role("textbox", name="Text to classify").fill("Penguins hunt fish in cold seas.")
        page.get_by_role("button", name="Classify text").click()
        expect(page.get_by_test_id("stMetricValue")).to_have_text("animals")
        doc_shot(page, "classify")

        _open_exactly(page, base_url, "topics", "🗺️ Topics")
        number = page.get_by_label("Number of topics (0 = automatic, HDBSCAN)")
        number.fill("2")
        number.press("Enter")
        page.get_by_role("button", name="Compute topics").click()
        expect(page.locator(".js-plotly-plot .scatterlayer .point").first).to_be_attached()
        doc_shot(page, "topics")

        for url_path, title, ready in [("tokens", "Tokens", "tokens of 2,048"),
                                       ("next-token", "Next token", "tokens can be drawn"),
                                       ("similarity", "Similarity", "Closest pair: 1 and 2")]:
            _open_exactly(page, base_url, url_path, title)
            expect(page.get_by_text(ready)).to_be_visible()
            doc_shot(page, url_path)
        assert sorted(p.stem for p in doc_images().glob("*.png")) >= sorted(
            ["ask", "classify", "library", "next-token", "search", "similarity", "tokens", "topics"])
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})
