"""Keep an index a live, exact mirror of folders: file events in, Workspace verbs out (``sift watch``).

A :class:`Watcher` first runs a full hash sync (``Workspace.index``: unchanged files are skipped, so a
restart resumes where the last run stopped), then applies each debounced batch of file events:
files that exist are re-synced with ``Workspace.index``, paths deleted or moved away lose every indexed
file equal to or under them with ``Workspace.remove``. Hidden entries and unsupported (editor temp)
files are ignored exactly as ``sift index`` ignores them. Events come from ``watchfiles`` (inotify on
Linux, FSEvents on macOS, polling elsewhere).

A watched root that disappears is mirrored too (its files leave the index) and the watcher keeps
waiting for it: a folder moved away and back, an unmounted drive or a ``git checkout`` that recreates
the folder picks up with a fresh hash sync instead of silently ending the watch.

A watcher thread that fails (an index it can no longer read, one rebuilt with another model) logs the
error, keeps it in :attr:`Watcher.failure` for its owner (``sift serve``'s ``/healthz``) and restarts
after a growing delay, at most ``max_restarts`` times in its life; a restart that reaches its start sync
clears the failure, and after the last one the failure stays.

Example:
    >>> ws = Workspace("idx")                                                  # doctest: +SKIP
    >>> watcher = Watcher(ws, [Path("notes")], on_sync=lambda b: print(b.summary()))  # doctest: +SKIP
    >>> watcher.start(); watcher.ready.wait(60)                                 # doctest: +SKIP
    start sync: added 12, updated 0, removed 0, unchanged 0, skipped 0 (...)
    >>> Path("notes/new.md").write_text("# New"); time.sleep(2)                # doctest: +SKIP
    2 changes: added 1, updated 0, removed 0, unchanged 0, skipped 0 (...)
    >>> watcher.stop()                                                          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import watchfiles

from app.watch_plan import WatchBatch, indexed_under, merge_reports, outermost, plan_changes, visible
from app.workspace import Workspace
from indexing.errors import ConfigError, IndexMismatchError, SiftError
from indexing.loaders import is_supported
from indexing.report import SyncReport

__all__ = ["Watcher", "WatchBatch"]

log = logging.getLogger(__name__)
WAKE_MS = 1000  # the watch wakes this often without events, to notice a root that went away or came back
OnSync = Callable[[WatchBatch], None]


class Watcher:
    """Mirrors ``paths`` into ``workspace``'s index until stopped.

    The watcher writes through its own :class:`Workspace` (same settings and model as the one given),
    so it can run in a thread next to readers; they pick up each new generation themselves.

    Args:
        workspace: the index to keep in sync (only its settings and model are used).
        paths: folders (or files) to mirror; they must exist when the watcher is made.
        debounce_ms: the longest one batch keeps gathering events (``watchfiles``' ``debounce``); a
            batch also closes after 50 ms without events, and events arriving while a batch is applied
            wait for the next one, so a burst of writes becomes a few syncs.
        on_sync: called with each applied :class:`WatchBatch` (the start sync included), from the
            watching thread.
        max_restarts: how often a thread begun by :meth:`start` that fails is begun again, in all.
        restart_delay_s: the wait before the first restart; each next one waits twice as long.

    Raises:
        SiftError: a path does not exist.
        ConfigError: no path, ``debounce_ms`` < 1, ``max_restarts`` < 0, ``restart_delay_s`` <= 0, or the
            index lies inside a watched folder (its own files would be indexed, each write triggering the
            next); a hidden index folder is fine.
    """

    def __init__(
        self, workspace: Workspace, paths: Sequence[str | Path], *, debounce_ms: int = 500,
        on_sync: OnSync | None = None, max_restarts: int = 0, restart_delay_s: float = 1.0,
    ) -> None:
        if debounce_ms < 1:
            raise ConfigError(f"debounce {debounce_ms} ms is not positive: give at least 1 ms (default 500)")
        if max_restarts < 0 or restart_delay_s <= 0:
            raise ConfigError(f"max_restarts {max_restarts} / restart_delay_s {restart_delay_s}: give a count >= 0 "
                              "and a positive delay")
        if not paths:
            raise ConfigError("no folder to watch: name at least one PATH")
        self.roots = outermost([Path(p).expanduser().resolve() for p in paths])
        for root in self.roots:
            if not root.exists():
                raise SiftError(f"path {root} does not exist: check the spelling, nothing is watched")
        _check_index_outside(workspace.index_dir.expanduser().resolve(), self.roots)
        self.debounce_ms = debounce_ms
        self.on_sync = on_sync
        self.ready = threading.Event()  # set once the first start sync is done and events are being watched
        self.failure: BaseException | None = None  # what ended a start()ed thread's run, until a restart recovers
        self.max_restarts = max_restarts
        self.restart_delay_s = restart_delay_s
        self.restarts = 0
        self._template = workspace
        self._ws = self._fresh_workspace()
        self._stop = threading.Event()
        self._active: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._missing: set[Path] = set()

    # ---- lifecycle -----------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Sync, then apply file events until ``stop`` (or :meth:`stop`) is set. Blocking.

        Raises:
            IndexMismatchError: the index was rebuilt with another model or chunker meanwhile.
            KeyboardInterrupt: Ctrl-C in the main thread (every write is atomic, so stopping is safe).
        """
        stop = stop or self._stop
        self._active = stop
        first = True
        while not stop.is_set():
            present = self._present()
            if not present:  # every root is gone: mirror that, then wait for one to come back
                self._notify(self._start_sync([]), force=first)
                first = False
                self._live()
                stop.wait(WAKE_MS / 1000)
                continue
            try:
                self._watch(present, stop, first)
            except FileNotFoundError:  # a root vanished as the watch started: look again
                stop.wait(0.1)
                continue
            first = False

    def start(self) -> threading.Thread:
        """Run in a daemon thread; returns it. Wait on :attr:`ready` before relying on live updates."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this watcher is already running: stop() it before starting it again")
        self._stop.clear()
        self.failure = None
        self.restarts = 0
        self._thread = threading.Thread(target=self._run_thread, name="sift-watch", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 60.0) -> None:
        """Ask the watcher to stop (after the batch in progress) and wait up to ``timeout`` s for it."""
        self._stop.set()
        if self._active is not None:
            self._active.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def health(self) -> dict[str, Any]:
        """Whether the watching thread runs, how often it restarted, and the failure it is in (None: none).

        Example: ``{"running": False, "restarts": 3, "failure": "DatabaseError: file is not a database"}``
        once a watcher gave up.
        """
        failure = self.failure
        running = self._thread is not None and self._thread.is_alive()
        return {"running": running, "restarts": self.restarts,
                "failure": None if failure is None else f"{type(failure).__name__}: {failure}"}

    def _run_thread(self) -> None:
        while True:
            try:
                self.run(self._stop)
                return
            except BaseException as exc:  # recorded for the owner (e.g. the server), logged, then retried
                self.failure = exc
                self.ready.clear()
                if self._stop.is_set() or self.restarts >= self.max_restarts:
                    log.error("sift watch stopped after %d restart(s): %s: %s; the index no longer follows %s",
                              self.restarts, type(exc).__name__, exc, ", ".join(map(str, self.roots)),
                              exc_info=exc)
                    return
                delay = self.restart_delay_s * 2**self.restarts
                self.restarts += 1
                log.error("sift watch failed: %s: %s; restarting in %.1f s (restart %d of %d)",
                          type(exc).__name__, exc, delay, self.restarts, self.max_restarts, exc_info=exc)
                if self._stop.wait(delay):
                    return
                self._ws = self._fresh_workspace()  # nothing cached from before the failure is trusted

    def _fresh_workspace(self) -> Workspace:
        return Workspace(settings=self._template.settings, model=self._template.explicit_model)

    def _live(self) -> None:
        """The start sync is done and events are watched: ready, and any earlier failure is over."""
        self.failure = None
        self.ready.set()

    # ---- watching ------------------------------------------------------------------------
    def _watch(self, present: dict[Path, tuple[int, int]], stop: threading.Event, first: bool) -> None:
        events = watchfiles.watch(
            *present, watch_filter=self._keep, debounce=self.debounce_ms, stop_event=stop,
            rust_timeout=WAKE_MS, yield_on_timeout=True,
        )
        try:
            synced = False
            for changes in events:
                if not synced:  # the watch is live now, so a full sync from here on misses nothing
                    self._notify(self._start_sync(list(present)), force=first)
                    self._live()
                    synced = True  # what this first yield held happened before that sync, which covered it
                elif changes:
                    self._notify(self.apply(changes))
                if self._present() != present:  # a root went away, came back or was replaced: start over
                    return
        finally:
            events.close()

    def _keep(self, change: watchfiles.Change, path: str) -> bool:
        """The event filter: visible paths under a root; added/modified ones only if indexable or folders."""
        if not visible(path, self.roots):
            return False
        return change == watchfiles.Change.deleted or is_supported(path) or os.path.isdir(path)

    def _present(self) -> dict[Path, tuple[int, int]]:
        """Roots that exist now → (device, inode), so a root replaced by another folder is noticed too."""
        found: dict[Path, tuple[int, int]] = {}
        for root in self.roots:
            try:
                st = root.stat()
            except OSError:
                continue
            found[root] = (st.st_dev, st.st_ino)
        return found

    def _notify(self, batch: WatchBatch | None, force: bool = False) -> None:
        if batch is not None and self.on_sync is not None and (force or batch.changed or batch.errors):
            self.on_sync(batch)

    # ---- syncing -------------------------------------------------------------------------
    def _start_sync(self, present: list[Path]) -> WatchBatch:
        """The full hash sync of the roots that exist; the files of roots that vanished leave the index."""
        missing = [r for r in self.roots if r not in present]
        for root in sorted(set(missing) - self._missing):
            log.warning("watched path %s is gone: its files leave the index; waiting for it to come back", root)
        for root in sorted(self._missing - set(missing)):
            log.warning("watched path %s is back: syncing it", root)
        self._missing = set(missing)
        removals = indexed_under(sorted(self._ws.files()), [str(r) for r in missing])
        return self._sync(present, removals, changes=0, initial=True)

    def apply(self, changes: Iterable[tuple[watchfiles.Change, str]]) -> WatchBatch | None:
        """Apply one batch of (change, path) events; None when it changes nothing in the index.

        Example:
            ``apply({(Change.deleted, "/docs/old")})`` removes ``/docs/old/a.md`` and ``/docs/old/b.txt``
            (a folder moved away gives one event, for the folder only) →
            ``WatchBatch(changes=1, report=None, removed=2, ...)``.
        """
        changes = set(changes)
        plan = plan_changes(changes, self.roots)
        removals = [f for f in indexed_under(sorted(self._ws.files()), plan.check) if not os.path.isfile(f)]
        if not plan.index and not removals:
            return None
        return self._sync(plan.index, removals, changes=len(changes), initial=False)

    def _sync(self, targets: list[Path], removals: list[str], changes: int, initial: bool) -> WatchBatch:
        errors: list[str] = []
        removed = 0
        if removals:
            try:
                removed = self._ws.remove(removals)
            except (SiftError, OSError) as exc:
                errors.append(f"removing {len(removals)} files: {exc}")
        report = self._index(targets, errors) if targets else None
        for error in errors:
            log.warning("sift watch: %s", error)
        return WatchBatch(changes=changes, report=report, removed=removed, errors=errors, initial=initial)

    def _index(self, targets: list[Path], errors: list[str]) -> SyncReport | None:
        """One sync for the whole batch; if it fails, path by path, so one bad path costs only itself."""
        try:
            return self._ws.index(targets)
        except IndexMismatchError:
            raise  # the index itself changed under us: no retry can fix that
        except (SiftError, OSError) as exc:
            log.warning("sift watch: a batch of %d paths failed (%s); syncing them one by one", len(targets), exc)
        reports = []
        for target in targets:
            if not target.exists():  # deleted since its event: that deletion is the next batch
                continue
            try:
                reports.append(self._ws.index([target]))
            except IndexMismatchError:
                raise
            except (SiftError, OSError) as exc:
                errors.append(f"{target}: {exc}")
        return merge_reports(reports)


def _check_index_outside(index_dir: Path, roots: Sequence[Path]) -> None:
    for root in roots:
        if (index_dir == root or root in index_dir.parents) and visible(str(index_dir), [root]):
            raise ConfigError(
                f"index {index_dir} is inside watched folder {root}: its own files would be indexed; "
                f"put it elsewhere or in a hidden folder (e.g. --index {root / '.sift-index'})"
            )
