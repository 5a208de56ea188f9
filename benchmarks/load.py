"""Measuring under load: a competing CPU-bound process pinned to one core, started and stopped here.

The workbench shares its cores with a training worker, the dashboard server and a browser; a
benchmark that only runs on an idle machine hides how a scan made of many short parallel regions
behaves there. `competing_load()` reproduces the simplest such state (one other busy core), and
`others_busy()` records how busy the machine already was, since a shared machine is never idle.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

# A pure-Python spin: one core at 100 %, no memory traffic, no threads of its own.
BURN = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"
SETTLE_S = 0.5  # after starting the competitor: it runs, and the thread policy's load window sees it


@contextmanager
def competing_load():
    """A CPU-bound process pinned to the last core this process may use, for the block's duration."""
    core = max(os.sched_getaffinity(0))
    proc = subprocess.Popen([sys.executable, "-c", BURN, str(core)])
    try:
        time.sleep(SETTLE_S)
        if proc.poll() is not None:
            raise RuntimeError(f"the competing process exited with {proc.returncode}")
        yield core
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Busy:
    """CPU time other processes used (in cores) between enter and exit, from /proc/stat (None without it);
    children reaped within the block (a measured CLI run) count as this process."""

    def __enter__(self):
        from workbench.threads import LoadMeter

        self.meter, self.value = LoadMeter(children=True), None
        return self

    def __exit__(self, *exc):
        a, b = self.meter.last, self.meter._sample()
        if a is not None and b is not None and b[0] - a[0] >= 0.05:
            self.value = max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / (self.meter.tick * (b[0] - a[0])))


def stats(times: list[float]) -> dict:
    """median, p90 (inclusive interpolation) and spread = p90 / median of a list of seconds."""
    t = sorted(times)
    med = statistics.median(t)
    p90 = statistics.quantiles(t, n=10, method="inclusive")[8] if len(t) > 1 else t[0]
    return {"median_s": med, "p90_s": p90, "spread": p90 / med, "times_s": times}
