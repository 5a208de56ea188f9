"""One run on disk: a writer for the training process and a reader for everyone else.

<root>/<id>/spec.json      the run's specs (written once, atomically)
<root>/<id>/run.sqlite     status, scalar metrics, probe step index, checkpoints, events (WAL)
<root>/<id>/probes/*.zarr  probe arrays over step (see probes.py)
<root>/<id>/checkpoints/   step_<n>.pt, loaded with torch.load(weights_only=True)
<root>/<id>/writer.lock    flock held by the one live writer (see lock.py)

Readers never write: a read-only store (or a copy on a read-only medium) lists and shows.
A run whose files are damaged raises RunDamaged (a SpecError: one line, names the run).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

from workbench.errors import SpecError
from workbench.store import index, lock, probes
from workbench.store.ids import check_name, new_run_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS metrics (step INTEGER, name TEXT, value REAL, time REAL, PRIMARY KEY (step, name));
CREATE TABLE IF NOT EXISTS probe_steps (name TEXT, idx INTEGER, step INTEGER, PRIMARY KEY (name, idx));
CREATE TABLE IF NOT EXISTS checkpoints (step INTEGER PRIMARY KEY, file TEXT, time REAL);
CREATE TABLE IF NOT EXISTS events (time REAL, step INTEGER, kind TEXT, message TEXT);
"""
FLUSH_EVERY_S = 0.25  # watchers must see new steps within a second
LIVE = ("created", "queued", "running", "paused")  # statuses that need a live writer to move on
CREATED_GRACE_S = 60.0  # a created run's worker may take this long to start and lock it


class RunDamaged(SpecError):
    """A run folder whose files cannot be read (truncated database, bad JSON or Zarr metadata)."""

    def __init__(self, run_id: str, why: str):
        self.field, self.value, self.allowed, self.why = "run", run_id, "an intact run folder", why
        ValueError.__init__(self, f"run {run_id!r} is damaged: {why}")


def _why(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]


def default_root() -> Path:
    return Path(os.environ.get("WORKBENCH_RUNS_DIR", "runs"))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunWriter:
    """Appends a run's metrics, probes and checkpoints; used by exactly one process at a time."""

    def __init__(self, path: Path):
        self.path, self.root, self.id = Path(path), Path(path).parent, Path(path).name
        self._lock = lock.acquire(self.path)  # RunLocked while another process writes this run
        try:
            self.con = index.connect(self.path / "run.sqlite")
            self.con.executescript(SCHEMA)
        except index.sqlite3.DatabaseError as err:
            lock.release(self._lock)
            raise RunDamaged(self.id, "run.sqlite: " + _why(err)) from None
        except BaseException:
            lock.release(self._lock)
            raise
        self._pending: list[tuple] = []
        self._last_flush = time.monotonic()
        self._probe_next = {n: c for n, c in self.con.execute("SELECT name, COUNT(*) FROM probe_steps GROUP BY name")}

    @classmethod
    def create(cls, spec: dict, name: str, root: Path | None = None) -> "RunWriter":
        root = Path(root or default_root())
        check_name(name)
        run_id = new_run_id(name)
        path = root / run_id
        (path / "probes").mkdir(parents=True)
        (path / "checkpoints").mkdir()
        _atomic_write(path / "spec.json", json.dumps(spec, indent=1, sort_keys=True).encode())
        w = cls(path)
        now = time.time()
        w._meta(name=name, status="created", created=now)
        index.upsert(root, run_id, name=name, status="created", created=now, step=0, spec=spec)
        return w

    def _meta(self, **kv) -> None:
        self.con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in kv.items()])

    def log_metrics(self, step: int, values: dict) -> None:
        now = time.time()
        self._pending += [(int(step), k, float(v), now) for k, v in values.items()]
        if time.monotonic() - self._last_flush > FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            with self.con:
                self.con.execute("BEGIN")
                self.con.executemany("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)", self._pending)
                self.con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('last_step', ?)",
                    (json.dumps(max(p[0] for p in self._pending)),),
                )
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('updated', ?)", (json.dumps(time.time()),))
            self._pending = []
        self._last_flush = time.monotonic()

    def log_probe(self, step: int, name: str, ds: xr.Dataset, capacity: int) -> None:
        """Write one probe step; it becomes visible only once its row commits."""
        self.flush()
        zpath = self.path / "probes" / f"{name}.zarr"
        idx = self._probe_next.get(name, 0)
        if idx == 0 or not zpath.exists():
            probes.create(zpath, ds, capacity)
        if idx >= probes.capacity(zpath):
            return  # beyond the planned number of probes (a resumed run asked for more steps)
        probes.write(zpath, idx, ds)
        self.con.execute("INSERT OR REPLACE INTO probe_steps VALUES (?, ?, ?)", (name, idx, int(step)))
        self._probe_next[name] = idx + 1

    def save_checkpoint(self, step: int, state: dict) -> Path:
        import io

        import torch

        self.flush()
        buf = io.BytesIO()
        torch.save(state, buf)
        f = self.path / "checkpoints" / f"step_{int(step):08d}.pt"
        _atomic_write(f, buf.getvalue())
        self.con.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (int(step), f.name, time.time()))
        return f

    def event(self, step: int, kind: str, message: str = "") -> None:
        self.con.execute("INSERT INTO events VALUES (?, ?, ?, ?)", (time.time(), int(step), kind, message))

    def truncate_after(self, step: int) -> None:
        """Resume: forget metrics, probes and checkpoints recorded after the checkpoint we restart from."""
        self.flush()
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute("DELETE FROM metrics WHERE step > ?", (step,))
            self.con.execute("DELETE FROM probe_steps WHERE step > ?", (step,))
            self.con.execute("DELETE FROM checkpoints WHERE step > ?", (step,))
        self._probe_next = {n: c for n, c in self.con.execute("SELECT name, COUNT(*) FROM probe_steps GROUP BY name")}

    def set_status(self, status: str, step: int | None = None, final: dict | None = None, error: str = "") -> None:
        self.flush()
        kv = {"status": status, "updated": time.time()}
        if error:
            kv["error"] = error
        if final is not None:
            kv["final_metrics"] = final
        self._meta(**kv)
        self.event(step or 0, "status", status + (f": {error}" if error else ""))
        fields = {"status": status}
        if step is not None:
            fields["step"] = step
        index.upsert(self.root, self.id, final=final, **fields)

    def close(self) -> None:
        try:
            self.flush()
            self.con.close()
        finally:
            lock.release(self._lock)
            self._lock = None


class Run:
    """Read-only view of a run folder, safe while its writer runs."""

    def __init__(self, path: Path):
        self.path, self.id = Path(path), Path(path).name
        if not (self.path / "spec.json").exists():
            raise SpecError("run", str(path), "a run folder (one that holds spec.json)")
        try:
            self.spec = json.loads((self.path / "spec.json").read_text())
        except (OSError, ValueError) as err:
            raise RunDamaged(self.id, "spec.json: " + _why(err)) from None
        if not isinstance(self.spec, dict):
            raise RunDamaged(self.id, "spec.json does not hold a JSON object")

    def _query(self, sql: str, args=()):
        try:
            return index.read_only(self.path / "run.sqlite", sql, args)
        except index.sqlite3.Error as err:
            raise RunDamaged(self.id, "run.sqlite: " + _why(err)) from None

    @property
    def live(self) -> bool:
        """Whether a live process holds this run's writer lock."""
        return lock.is_locked(self.path)

    @property
    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self._query("SELECT key, value FROM meta")}

    @property
    def status(self) -> str:
        """The recorded status, or `killed` when it says live but no process holds the writer lock."""
        m = self.meta
        return live_status(m.get("status", "unknown"), self.path, float(m.get("updated", m.get("created", 0)) or 0))

    @property
    def name(self) -> str:
        return self.meta.get("name", self.id)

    @property
    def last_step(self) -> int:
        r = self._query("SELECT MAX(step) FROM metrics")[0][0]
        return -1 if r is None else int(r)

    @property
    def metrics(self) -> xr.Dataset:
        """Every scalar metric as a variable over `step` (NaN where a metric was not logged)."""
        return self.metrics_after(-1)

    def metrics_after(self, step: int) -> xr.Dataset:
        """The metrics of the steps after `step`: what a watcher that has read up to `step` lacks."""
        rows = self._query("SELECT step, name, value FROM metrics WHERE step > ? ORDER BY step", (int(step),))
        steps = sorted({r[0] for r in rows})
        names = sorted({r[1] for r in rows})
        pos = {s: i for i, s in enumerate(steps)}
        data = {n: np.full(len(steps), np.nan) for n in names}
        for s, n, v in rows:
            data[n][pos[s]] = v
        return xr.Dataset(
            {n: ("step", v) for n, v in data.items()},
            coords={"step": np.asarray(steps, dtype=np.int64)},
            attrs={"run": self.id},
        )

    @property
    def probe_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT name FROM probe_steps ORDER BY name")]

    def probe_steps(self, name: str) -> list[int]:
        """Steps probe `name` was recorded at, from the index alone (no array read)."""
        return [r[0] for r in self._query("SELECT step FROM probe_steps WHERE name = ? ORDER BY idx", (name,))]

    def probe(self, name: str) -> xr.Dataset:
        rows = self._query("SELECT idx, step FROM probe_steps WHERE name = ? ORDER BY idx", (name,))
        if not rows:
            raise SpecError("probe", name, "one of " + (", ".join(self.probe_names) or "(none recorded yet)"))
        # committed indices are contiguous from 0: read exactly those
        try:
            ds = probes.read(self.path / "probes" / f"{name}.zarr", [s for _, s in rows])
        except Exception as err:  # zarr/numcodecs/JSON raise many types on bad metadata or chunks
            raise RunDamaged(self.id, f"probes/{name}.zarr: " + _why(err)) from None
        ds.attrs["run"] = self.id
        return ds

    @property
    def checkpoints(self) -> list[int]:
        return [
            r[0]
            for r in self._query("SELECT step FROM checkpoints ORDER BY step")
            if (self.path / "checkpoints" / f"step_{r[0]:08d}.pt").exists()
        ]

    def checkpoint(self, step: int | None = None) -> dict:
        import torch

        steps = self.checkpoints
        if not steps:
            raise SpecError("checkpoint", step, f"a saved step of run {self.id} (none saved yet)")
        step = steps[-1] if step is None else step
        if step not in steps:
            raise SpecError("checkpoint", step, "one of " + ", ".join(map(str, steps)))
        try:
            return torch.load(self.path / "checkpoints" / f"step_{step:08d}.pt", weights_only=True, map_location="cpu")
        except Exception as err:  # truncated zip, bad pickle opcode (weights_only refuses), I/O error
            raise RunDamaged(self.id, f"checkpoints/step_{step:08d}.pt: " + _why(err)) from None

    def latest_loadable_checkpoint(self) -> tuple[dict | None, list[str]]:
        """The newest checkpoint that loads, and one line per newer one that did not."""
        skipped = []
        for step in reversed(self.checkpoints):
            try:
                return self.checkpoint(step), skipped
            except RunDamaged as err:
                skipped.append(f"checkpoint {step} unreadable ({err.why})")
        return None, skipped

    @property
    def evals(self) -> list[str]:
        """Names of the evaluations stored with this run (see store/evals.py)."""
        from workbench.store.evals import eval_names

        return eval_names(self.path)

    def eval(self, name: str = "lengths"):
        from workbench.store.evals import load_eval

        return load_eval(self.path, name)

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r}, last_step={self.last_step})"


def live_status(status: str, path: Path, updated: float) -> str:
    """`killed` for a run recorded as live whose writer is gone (the OS dropped its lock)."""
    if status not in LIVE or lock.is_locked(path):
        return status
    if status == "created" and time.time() - updated < CREATED_GRACE_S:
        return status  # its worker may still be starting
    return "killed"
