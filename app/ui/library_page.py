"""Library page: index statistics and manifest, adding documents (upload or folder), sync reports, every
file's status (with a filter for the problem files), removal.

An upload never overwrites a file of the same name unasked: the same bytes are left as they are (and
said so), other bytes are refused unless "Replace files with the same name" is ticked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from app.ui.resources import workspace
from app.ui.uploads import MAX_UPLOAD_MB, UPLOAD_TYPES, check_upload, default_upload_dir, save_upload
from app.workspace import Workspace
from indexing.errors import SiftError, UploadConflictError
from indexing.report import SyncReport
from indexing.store.records import FILE_STATUSES

REPORT_KEY = "library_report"
NOTICE_KEY = "library_notice"
REJECTED_KEY = "library_rejected"
KEPT_KEY = "library_kept"  # uploads whose bytes were already saved under their name
TABLE_ROWS = 2000  # documents (and files) listed at most; the counts above are exact


def render() -> None:
    """Draw the page."""
    st.title("Library")
    ws = workspace()
    _notice()
    _stats(ws)
    # The server tracks the open tab (on_change="rerun", keyed): a rerun after a sync or a removal draws the tab
    # the user was on. Left to the browser, a busy machine's slower rerun re-mounted the tabs on the first one.
    upload_tab, folder_tab, remove_tab = st.tabs(
        ["Upload files", "Sync a folder", "Remove documents"], key="library_tabs", on_change="rerun"
    )
    with upload_tab:
        _upload_form(ws)
    with folder_tab:
        _folder_form()
    with remove_tab:
        _remove_form(ws)
    _last_report()
    _files_table(ws)
    _documents_table(ws)


def _notice() -> None:
    message = st.session_state.pop(NOTICE_KEY, None)
    if message:
        st.success(message)


def _stats(ws: Workspace) -> None:
    info = ws.info()
    if not info["exists"]:
        st.info(f"No index at {ws.index_dir} yet: upload files or sync a folder below to build it.")
        return
    cols = st.columns(4)
    cols[0].metric("Documents", f"{info['documents']:,}")
    cols[1].metric("Chunks", f"{info['chunks']:,}")
    cols[2].metric("Files", f"{info['files']:,}")
    cols[3].metric("Generation", info["generation"])
    leads = f"{info['lead_vectors']:,} lead vectors" if info["manifest"].get("lead_vectors") else "no lead vectors"
    st.caption(f"Index: {info['index_dir']} · {leads}")
    with st.expander("Manifest (embedding model, chunker, versions)"):
        st.json(info["manifest"])


def _upload_form(ws: Workspace) -> None:
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            "Documents to add",
            type=UPLOAD_TYPES,
            accept_multiple_files=True,
            max_upload_size=MAX_UPLOAD_MB,
            key="upload_files",
        )
        folder = st.text_input("Save uploads in", value=str(default_upload_dir(ws.index_dir)), key="upload_dir")
        replace = st.checkbox("Replace files with the same name", key="upload_replace",
                              help="Without it, a file whose name is already in the folder with other content is "
                              "not added.")
        submitted = st.form_submit_button("Add and index", type="primary")
    if submitted:
        _add_uploads(files or [], Path(folder), replace)


def _add_uploads(files: Sequence[UploadedFile], folder: Path, replace: bool = False) -> None:
    """Save the acceptable files, index them, and report the rest as rejected (or already there)."""
    if not files:
        st.warning("Choose one or more files first.")
        return
    saved: list[Path] = []
    rejected: list[str] = []
    kept: list[str] = []
    for upload in files:
        reason = check_upload(upload.name, upload.size, MAX_UPLOAD_MB)
        if reason is None:
            try:
                result = save_upload(upload.name, upload.getvalue(), folder, max_mb=MAX_UPLOAD_MB, replace=replace,
                                     how_to_replace="tick 'Replace files with the same name'")
                saved.append(result.path)  # unchanged ones too: the sync re-adds one removed from the index
                if result.status == "unchanged":
                    kept.append(result.summary())
            except UploadConflictError as exc:
                reason = str(exc)
            except OSError as exc:
                reason = f"{upload.name}: could not be saved in {folder} ({exc.strerror or exc})"
        if reason is not None:
            rejected.append(reason)
    st.session_state[REJECTED_KEY] = rejected
    st.session_state[KEPT_KEY] = kept
    if saved:
        _run_sync(saved, dry_run=False)
    else:
        _rejected()


def _folder_form() -> None:
    with st.form("folder"):
        path = st.text_input("Folder or file path", key="folder_path", placeholder="e.g. ~/Documents/notes")
        dry_run = st.checkbox("Dry run (report what would change, write nothing)", key="folder_dry_run")
        submitted = st.form_submit_button("Sync", type="primary")
    if not submitted:
        return
    if not path.strip():
        st.warning("Type the path of a folder or file to index.")
        return
    _run_sync([Path(path.strip()).expanduser()], dry_run=dry_run)


def _run_sync(paths: Sequence[Path], dry_run: bool) -> None:
    """Index ``paths`` with a progress bar; keep the report for the next run and rerun so the stats refresh."""
    bar = st.progress(0.0, text="Scanning files…")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"{stage.capitalize()}: {done:,} / {total:,}")

    try:
        report = workspace().index(list(paths), dry_run=dry_run, progress=progress)
    except SiftError as exc:
        bar.empty()
        st.error(str(exc))
        return
    st.session_state[REPORT_KEY] = report
    st.rerun()


def _rejected() -> None:
    for summary in st.session_state.pop(KEPT_KEY, []):
        st.info(summary)
    for reason in st.session_state.pop(REJECTED_KEY, []):
        st.error(f"Not added: {reason}")


def _last_report() -> None:
    _rejected()
    report: SyncReport | None = st.session_state.get(REPORT_KEY)
    if report is None:
        return
    st.subheader("Last sync")
    (st.info if report.dry_run else st.success)(report.summary())
    counts = report.to_dict()["counts"]
    st.dataframe(pd.DataFrame([counts]), hide_index=True)
    problems = [e for e in report.files if e.problem]
    if problems:
        st.warning(f"{len(problems)} file(s) not read:")
        rows = [{"path": e.path, "status": e.status, "reason": e.reason} for e in problems]
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def _remove_form(ws: Workspace) -> None:
    files = sorted(ws.files())
    if not files:
        st.caption("Nothing indexed yet.")
        return
    with st.form("remove"):
        chosen = st.multiselect("Files to remove from the index (the files themselves stay)", files, key="remove")
        submitted = st.form_submit_button("Remove")
    if submitted and chosen:
        removed = ws.remove(chosen)
        st.session_state[NOTICE_KEY] = f"Removed {removed} document(s) from {len(chosen)} file(s)."
        st.rerun()
    elif submitted:
        st.warning("Choose at least one file.")


def _files_table(ws: Workspace) -> None:
    """Every file the syncs considered, with its latest status and reason; optionally only the problem ones."""
    statuses = ws.file_statuses()
    if not statuses:
        return
    st.subheader("Files")
    problems = [s for s in statuses if s.problem]
    counts = {name: sum(s.status == name for s in statuses) for name in FILE_STATUSES}
    st.caption(" · ".join(f"{n:,} {name}" for name, n in counts.items() if n))
    only = st.checkbox(f"Only problem files ({len(problems):,}: not parsed, not OCR'd)", key="files_problems_only")
    shown = problems if only else statuses
    if not shown:
        st.success("Every file was read.")
        return
    rows = [{"status": s.status, "path": s.path, "reason": s.reason, "documents": s.documents} for s in shown]
    st.dataframe(pd.DataFrame(rows[:TABLE_ROWS]), hide_index=True, width="stretch")
    if len(rows) > TABLE_ROWS:
        st.caption(f"The first {TABLE_ROWS:,} of {len(rows):,} files by path are listed.")


def _documents_table(ws: Workspace) -> None:
    docs = ws.documents(limit=TABLE_ROWS)
    if not docs:
        return
    st.subheader("Documents")
    rows = [
        {
            "title": d.title,
            "chunks": d.n_chunks,
            "meta": ", ".join(f"{k}={v}" for k, v in sorted(d.meta.items())),
            "source": d.source,
        }
        for d in docs
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if len(docs) == TABLE_ROWS:
        st.caption(f"The first {TABLE_ROWS:,} documents by source are listed.")
