"""The runs root: open a run by id or path (always inside the root), list, delete, rebuild the index.

Each listed run's status is checked cheaply against its folder: `missing` (folder or spec.json
gone), `damaged` (run.sqlite fails a header check), `killed` (recorded live, no writer lock).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from workbench.errors import SpecError
from workbench.store import index, lock
from workbench.store.ids import resolve_run
from workbench.store.run import LIVE, Run, RunDamaged, _why, default_root, live_status


def open_run(id_or_path, root=None) -> Run:
    """A run by id under `root` (default ./runs or $WORKBENCH_RUNS_DIR), or by its folder inside `root`.

    With no root, a folder path is its own root (a notebook reading a run it names); commands that
    act on runs always pass the root, so nothing outside it is opened or touched."""
    if root is None and (isinstance(id_or_path, Path) or isinstance(id_or_path, str) and os.sep in id_or_path):
        root = Path(os.path.abspath(id_or_path)).parent
    return Run(resolve_run(id_or_path, Path(root or default_root())))


def list_runs(root=None, **filters):
    """The run index as a DataFrame, filtered by column = value ('model.layer', or a bare 'layer').

    `status` is as recorded, except: `killed` (recorded live, no writer), `missing` (the folder or
    its spec.json is gone), `damaged` (run.sqlite unreadable). Works on a read-only store."""
    import pandas as pd

    root = Path(root or default_root())
    try:
        rows = index.query(root, filters) if (root / index.INDEX).exists() else []
    except index.sqlite3.Error as err:
        raise SpecError(
            "index",
            str(root / index.INDEX),
            f"a readable run index ({_why(err)}; rebuild it: workbench runs --rebuild)",
        ) from None
    for r in rows:
        r["status"] = _health(root, r)
    df = pd.DataFrame(rows)
    return df.drop(columns=["spec_json"]) if "spec_json" in df else df


def _health(root: Path, row: dict) -> str:
    path = root / str(row["id"])
    if path.is_symlink() or not (path / "spec.json").is_file():
        return "missing"
    status = row.get("status") or "unknown"
    if status in LIVE and lock.is_locked(path):
        return status  # its writer's checkpoint may be extending the file right now: no header check
    if not index.looks_intact(path / "run.sqlite"):
        return "damaged"
    return live_status(status, path, float(row.get("updated") or 0))


def delete_run(run_id: str, root=None) -> None:
    """Delete a run folder inside the root (never a live one, never through a symlink) and its row."""
    root = Path(root or default_root())
    path = resolve_run(run_id, root)
    # refuse a run another live process writes (a writer of this very process is the caller's own)
    own = lock.holder(path).get("pid") == os.getpid()
    held = lock.acquire(path, wait_s=0.2) if os.access(path, os.W_OK) and not own else None
    try:
        shutil.rmtree(path)
    finally:
        lock.release(held)
    index.delete(root, path.name)


def rebuild_index(root=None, skipped: list | None = None) -> int:
    """Recreate index rows from the run folders (after copying runs between machines).

    A damaged run does not stop the scan: it is indexed with status `damaged`, warned about, and
    appended to `skipped` as (id, why); returns the number of intact runs indexed."""
    import warnings

    root = Path(root or default_root())
    n = 0
    for p in sorted(root.iterdir()) if root.exists() else []:
        if p.is_symlink() or not (p / "spec.json").is_file():
            continue
        try:
            r = Run(p)
            m = r.meta
            fields = dict(
                name=m.get("name", r.id),
                status=m.get("status", "unknown"),
                created=m.get("created", 0.0),
                step=max(r.last_step, 0),
                spec=r.spec,
                final=m.get("final_metrics"),
            )
        except RunDamaged as err:
            warnings.warn(f"run {p.name} is damaged and indexed as such: {err.why}", stacklevel=2)
            if skipped is not None:
                skipped.append((p.name, err.why))
            index.upsert(root, p.name, name=p.name, status="damaged", created=p.stat().st_mtime, step=0)
            continue
        index.upsert(root, r.id, **fields)
        n += 1
    return n


def live_steps(df, root):
    """The index records a run's step when its status changes; a live run's own store has the latest."""
    if df.empty:
        return df
    df = df.copy()
    for i, row in df.iterrows():
        if row["status"] in ("running", "paused"):
            try:
                df.at[i, "step"] = open_run(row["id"], root).last_step
            except Exception:  # a run folder removed under us keeps its index step
                pass
    return df
