"""Pause, resume and stop through a small file in the run folder, so any process can steer any run
(the dashboard a CLI run, a notebook a dashboard run). Checked a few times a second, not every step."""

from __future__ import annotations

import os
import time
from pathlib import Path

COMMANDS = ("run", "pause", "stop")


def send(run_dir: Path, command: str) -> None:
    from workbench.errors import SpecError

    if command not in COMMANDS:
        raise SpecError("command", command, "one of " + ", ".join(COMMANDS))
    tmp = Path(run_dir) / "control.tmp"
    try:
        tmp.write_text(command)
        os.replace(tmp, Path(run_dir) / "control")
    except OSError as err:  # a read-only store: say so instead of a traceback
        raise SpecError("run", Path(run_dir).name, f"a run in a writable store ({err.strerror})") from None


class FileControl:
    def __init__(self, run_dir: Path, every_s: float = 0.2):
        self.path, self.every_s, self._last, self._cmd = Path(run_dir) / "control", every_s, 0.0, "run"

    def command(self) -> str:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            try:
                self._cmd = self.path.read_text().strip() or "run"
            except FileNotFoundError:
                self._cmd = "run"
        return self._cmd


class NoControl:
    def command(self) -> str:
        return "run"
