"""sift runs offline, provably: ``sift index``, ``sift search``, ``sift ask``, ``sift serve`` answering a request
and the UI's first page each run in their own Python process under an audit hook (:mod:`offline_audit`,
installed at interpreter start) that refuses and logs any network call to another machine. A control
process shows the hook stops a connection to 192.0.2.1 (TEST-NET-1, never routed) before it is made.

The processes run without ``HF_HUB_OFFLINE``: offline is sift's default, not the test's setting. They start
in an empty directory, which must stay empty (data and caches go to the data directory).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from offline_audit import LOG_ENV, sitecustomize_dir

ROOT = Path(__file__).resolve().parents[1]
DOCS = {
    "cats.md": "# Cats\n\nCats are small carnivorous mammals. They purr when content and hunt mice at night.\n",
    "paris.txt": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France, finished in 1889.\n",
}
CONTROL = """
import errno, json, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setblocking(False)  # unhooked, connect(2) would return at once: EINPROGRESS (a SYN sent) or ENETUNREACH
try:
    s.connect(("192.0.2.1", 9))
    outcome = "connect returned"
except OSError as exc:
    outcome = f"{type(exc).__name__}: {exc}"
try:
    s.getpeername()
    peer = "connected"
except OSError as exc:
    peer = errno.errorcode.get(exc.errno, str(exc.errno))
try:
    socket.getaddrinfo("example.invalid", 80)
    lookup = "resolved"
except OSError as exc:
    lookup = type(exc).__name__
try:  # a library that swallows the failure: the log still has it
    import urllib.request
    urllib.request.urlopen("https://pypi.org/simple/", timeout=5)
except Exception:
    pass
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname(), timeout=10)
conn, _ = server.accept()
client.sendall(b"ping")
print(json.dumps({"outcome": outcome, "peer": peer, "lookup": lookup, "loopback": conn.recv(4).decode()}))
"""
UI = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=240).run()
at.text_input(key="query").input("what do cats hunt")
next(b for b in at.button if b.label == "Search").click()
at.run()
print(json.dumps({"exception": [str(e.value) for e in at.exception], "error": [e.value for e in at.error],
                  "title": [t.value for t in at.title], "html": [str(h.proto.body) for h in at.get("html")]}))
"""


@dataclass
class Audit:
    """The hook's folder, its log and an empty working directory for the processes."""

    hook: Path
    log: Path
    cwd: Path

    def env(self, **extra: str) -> dict[str, str]:
        drop = {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "SIFT_INDEX"}
        env = {k: v for k, v in os.environ.items() if k not in drop}
        return env | {"PYTHONPATH": os.pathsep.join([str(self.hook), str(ROOT)]), LOG_ENV: str(self.log),
                      "SIFT_CONFIG": str(self.hook / "no-sift.toml"), "SIFT_GENERATOR": "smollm2-135m"} | extra

    def attempts(self) -> list[dict]:
        """Every network call the hook refused so far, in any process."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def run(self, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=self.env(), cwd=self.cwd,
                              timeout=timeout)

    def sift(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "app", *args, timeout=timeout)

    def clean(self) -> None:
        """Fail on any refused call (with the stack that made it) or on anything written to the working dir."""
        assert self.attempts() == [], "network calls were attempted:\n" + "\n".join(
            f"{a['event']} {a['host']} pid {a['pid']} {a['argv']}\n{a['stack']}" for a in self.attempts())
        assert sorted(p.name for p in self.cwd.iterdir()) == [], "written into the working directory"


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Audit:
    root = tmp_path_factory.mktemp("offline")
    (root / "cwd").mkdir()
    return Audit(sitecustomize_dir(root / "hook"), root / "network.jsonl", root / "cwd")


@pytest.fixture(scope="module")
def indexed(audit: Audit, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``sift index`` of a tiny folder, run under the hook: (the index, the finished process)."""
    root = tmp_path_factory.mktemp("offline-index")
    (root / "docs").mkdir()
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    index = root / "index"
    return index, audit.sift("index", str(root / "docs"), "--index", str(index), "--json")


def test_the_hook_stops_a_connection_to_another_machine_before_it_is_made(audit: Audit, tmp_path: Path) -> None:
    log = tmp_path / "control.jsonl"
    env = audit.env(**{LOG_ENV: str(log)})
    done = subprocess.run([sys.executable, "-c", CONTROL], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    # The hook's exception, not the kernel's answer: connect(2) never ran, so no SYN left this machine.
    assert seen["outcome"].startswith("NetworkRefused: offline audit: socket.connect to '192.0.2.1' refused")
    assert seen["peer"] == "ENOTCONN" and seen["lookup"] == "NetworkRefused", "and no DNS query was sent"
    assert seen["loopback"] == "ping", "loopback connections pass"
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(e["event"], e["host"]) for e in logged] == [
        ("socket.connect", "'192.0.2.1'"), ("socket.getaddrinfo", "'example.invalid'"),
        ("socket.getaddrinfo", "'pypi.org'"),
    ]


def test_index_offline(audit: Audit, indexed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    index, done = indexed
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["added"] == len(DOCS)
    audit.clean()


def test_search_offline(audit: Audit, indexed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    index, _ = indexed
    done = audit.sift("search", "what do cats hunt", "--index", str(index), "-k", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hits"][0]["title"] == "Cats"
    audit.clean()


@pytest.mark.slow  # loads the generator (SmolLM2, packaged)
def test_ask_offline(audit: Audit, indexed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    index, _ = indexed
    done = audit.sift("ask", "What do cats hunt at night?", "--index", str(index), "--json", "--no-stream")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"].strip(), "an answer was generated"
    audit.clean()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_a_request_offline(audit: Audit, indexed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    index, _ = indexed
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--index", str(index), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=audit.env(),
                              cwd=audit.cwd)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # a guard only: the loop ends when the server answers or exits
        while True:
            assert server.poll() is None, f"sift serve exited: {server.communicate()[0]}"
            assert time.monotonic() < deadline, "sift serve did not answer /healthz"
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        request = urllib.request.Request(f"{url}/v1/search", data=json.dumps({"query": "cats", "k": 1}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            body = json.loads(response.read())
        assert response.status == 200 and body["hits"][0]["title"] == "Cats"
    finally:
        server.terminate()
        server.communicate(timeout=60)
    audit.clean()


def test_ui_first_page_offline(audit: Audit, indexed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    index, _ = indexed
    done = subprocess.run([sys.executable, "-c", UI, str(ROOT / "streamlit_app.py")], capture_output=True,
                          text=True, env=audit.env(SIFT_INDEX=str(index)), cwd=audit.cwd, timeout=600)
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout.strip().splitlines()[-1])
    assert page["exception"] == [] and page["error"] == [] and page["title"] == ["Search"]
    assert any("Cats" in h for h in page["html"]), "the search ran and showed its hit"
    audit.clean()
