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
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.train.worker", str(run_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


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
        raise SpecError(
            "run",
            r.id,
            f"a run that has not completed (it has: its metrics are final; nothing to {verb}; train a new run instead)",
        )


def _alive(r) -> bool:
    """A run that updated recently is taken as live (its process may be on another machine)."""
    import time

    return r.status in ("running", "paused") and time.time() - float(r.meta.get("updated", 0)) < 30


FINISHED = ("completed", "diverged")  # a run that cannot continue (stopped/failed/killed ones can resume)


def act(verb: str, run_id: str, root=None) -> tuple[str, subprocess.Popen | None]:
    """Pause, resume or stop a run; (what happened, in words; the process a resume started).
    A finished run is left alone and the answer says so, instead of a command no process will read."""
    r = _open(run_id, root)  # inside the runs root, or refused
    status, step = r.status, r.last_step
    total = (r.spec.get("train") or {}).get("steps")
    where = f"step {step}/{total}" if total else f"step {step}"
    if status in FINISHED:
        if verb == "resume":  # refused (exit 2 in the CLI): a finished run's metrics are final
            raise SpecError(
                "run",
                r.id,
                f"a run that has not completed (it is already {status} at {where}: its "
                f"metrics are final; nothing to resume; train a new run instead)",
            )
        return f"{verb}: {r.id} is already {status} at {where}; nothing to {verb}", None
    if verb == "pause":
        if status != "running" or not _alive(r):
            return f"pause: {r.id} is {status} at {where} and no process is training it; nothing to pause", None
        pause(run_id, root)
        return f"pause: asked {r.id} to pause at {where} (it checks a few times a second)", None
    if verb == "stop":
        if status not in ("running", "paused") or not _alive(r):
            return f"stop: {r.id} is {status} at {where} and no process is training it; nothing to stop", None
        stop(run_id, root)
        return f"stop: asked {r.id} to save a checkpoint and stop (at {where})", None
    proc = resume(run_id, root)
    if proc is None:
        return f"resume: asked {r.id} to continue from {where}", None
    return f"resume: started a process (pid {proc.pid}) continuing {r.id} from its last checkpoint ({where})", proc
