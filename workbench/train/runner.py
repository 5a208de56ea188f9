"""Start runs in their own process and steer them: a crash or a busy GPU never freezes the caller,
and a run outlives the dashboard session (or notebook) that started it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workbench.errors import SpecError
from workbench.specs import RunSpec
from workbench.store import RunWriter, open_run
from workbench.store.run import default_root
from workbench.train import control


def create(run: RunSpec, root=None) -> Path:
    """Write the run's folder and index row; nothing trains yet."""
    from workbench.train.build import check_before_start
    run.validate()
    check_before_start(run)  # device and memory: refused before the folder exists
    w = RunWriter.create(run.to_dict(), run.name, root)
    w.close()
    return w.path


def launch(run_dir: Path) -> subprocess.Popen:
    """Start (or continue) a run in a new process; its output goes to the run folder's worker.log."""
    run_dir = Path(run_dir)
    log = open(run_dir / "worker.log", "ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "workbench.train.worker", str(run_dir)], stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)


def start(run: RunSpec, root=None) -> tuple[str, subprocess.Popen]:
    path = create(run, root)
    return path.name, launch(path)


def _open(run_id, root):
    """The run, resolved inside the runs root (never a folder outside it, never through a symlink)."""
    return open_run(run_id, Path(root or default_root()))


def pause(run_id: str, root=None) -> None:
    r = _open(run_id, root)
    _refuse_finished(r, "pause")
    control.send(r.path, "pause")


def resume(run_id: str, root=None) -> subprocess.Popen | None:
    """Unpause a live run, or continue a stopped/failed/killed one from its last checkpoint.
    A completed run is final: refused, so its metrics are never overwritten."""
    r = _open(run_id, root)
    _refuse_finished(r, "resume")
    control.send(r.path, "run")  # also clears a stop left behind by the last `stop`
    return None if r.live else launch(r.path)


def stop(run_id: str, root=None) -> None:
    r = _open(run_id, root)
    _refuse_finished(r, "stop")
    control.send(r.path, "stop")


def _refuse_finished(r, verb: str) -> None:
    if r.status == "completed":
        raise SpecError("run", r.id, f"a run that has not completed (it has: its metrics are final; "
                                     f"nothing to {verb}; train a new run instead)")
