"""The runs root's index: one SQLite row per run, spec fields as columns, for listing and filtering.

Each run folder is self-contained (spec.json, run.sqlite, probes, checkpoints); the index is a
cache of their summaries and can be rebuilt by scanning the folders (`rebuild_index`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

INDEX = "index.sqlite"
BASE_COLUMNS = ["id", "name", "status", "created", "updated", "step", "spec_json"]


def connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=30, isolation_level=None)  # autocommit; explicit BEGIN where needed
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    return con


def flatten(spec: dict, prefix: str = "") -> dict:
    """{'model': {'layer': 'mamba'}} -> {'model.layer': 'mamba'} (lists and dicts as JSON)."""
    out = {}
    for k, v in spec.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, list) else v
    return out


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def open_index(root: Path) -> sqlite3.Connection:
    root.mkdir(parents=True, exist_ok=True)
    con = connect(root / INDEX)
    con.execute(
        "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, name TEXT, status TEXT, created REAL, "
        "updated REAL, step INTEGER, spec_json TEXT)"
    )
    return con


def _ensure_columns(con: sqlite3.Connection, cols: list[str]) -> None:
    have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    for c in cols:
        if c not in have:
            try:
                con.execute(f"ALTER TABLE runs ADD COLUMN {_q(c)}")
            except sqlite3.OperationalError as err:  # another process added it first
                if "duplicate column" not in str(err):
                    raise


def upsert(root: Path, run_id: str, **fields) -> None:
    """Insert or update the run's row; `spec` is flattened into columns, `final` into final.* columns."""
    row = {k: v for k, v in fields.items() if k not in ("spec", "final")}
    if "spec" in fields:
        row["spec_json"] = json.dumps(fields["spec"], sort_keys=True)
        row.update(flatten(fields["spec"]))
    for k, v in (fields.get("final") or {}).items():
        row[f"final.{k}"] = v
    row["updated"] = time.time()
    con = open_index(root)
    try:
        _ensure_columns(con, list(row))
        cols = ["id"] + list(row)
        con.execute(
            f"INSERT INTO runs ({', '.join(map(_q, cols))}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{_q(c)}=excluded.{_q(c)}' for c in row)}",
            [run_id] + list(row.values()),
        )
    finally:
        con.close()


def delete(root: Path, run_id: str) -> None:
    con = open_index(root)
    try:
        con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    finally:
        con.close()


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A reader's connection that never writes: mode=ro, or immutable=1 where a WAL database cannot be
    opened read-only (a read-only folder without its -shm file)."""
    uri = Path(os.path.abspath(path)).as_uri()
    try:
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30)
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return con
    except sqlite3.OperationalError:
        if not Path(path).is_file() or os.access(Path(path).parent, os.W_OK):
            raise
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=30)


def read_only(path: Path, sql: str, args=()) -> list:
    con = connect_read_only(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def looks_intact(path: Path) -> bool:
    """A cheap check of an SQLite file (no open): the header's magic, and a file at least as long as
    the page count it records; catches truncation without reading the database."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return False
    if len(head) < 100 or not head.startswith(b"SQLite format 3\0"):
        return False
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    return size >= page * int.from_bytes(head[28:32], "big")


def query(root: Path, filters: dict) -> list[dict]:
    """Rows matching column = value for every filter (a column may be 'model.layer' or 'layer')."""
    con = connect_read_only(root / INDEX)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
        where, args = [], []
        for k, v in filters.items():
            matches = [c for c in cols if c == k or c.endswith("." + k)]
            if not matches:
                from workbench.errors import SpecError

                raise SpecError(k, v, "a run field: " + ", ".join(c for c in cols if c != "spec_json"))
            where.append("(" + " OR ".join(f"{_q(c)} = ?" for c in matches) + ")")
            args += [v] * len(matches)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created"
        cur = con.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()
