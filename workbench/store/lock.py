"""One writer per run: an exclusive `flock` on <run>/writer.lock, held for as long as a RunWriter lives.

The kernel releases the lock when its process dies (SIGKILL included), so a killed run is seen
as unlocked and can be resumed, while a live writer makes every second writer fail at once.
The file holds the writer's pid and host, for the refusal message only; the lock is the truth.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from workbench.errors import SpecError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer per run is then the user's job
    fcntl = None

LOCK = "writer.lock"


class RunLocked(SpecError):
    """Another live process writes this run."""

    def __init__(self, run_id: str, holder: dict):
        who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}" if holder else "another process"
        super().__init__(
            "run",
            run_id,
            f"a run no other process is writing ({who} is; stop it first, or use `workbench resume` to unpause it)",
        )


def holder(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / LOCK).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def acquire(run_dir: Path, wait_s: float = 1.0) -> int | None:
    """An fd holding the run's writer lock; RunLocked when a live process holds it.

    Waits briefly because `is_locked` probes take the lock shared for a moment."""
    if fcntl is None:
        return None
    fd = os.open(Path(run_dir) / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise RunLocked(Path(run_dir).name, holder(run_dir)) from None
            time.sleep(0.02)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock


def is_locked(run_dir: Path) -> bool:
    """Whether a live writer holds the run (False when there is no lock file, e.g. a read-only copy)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
