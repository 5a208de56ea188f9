"""CPU threads: torch's intra-op pool in this process, and how many of its threads a call should use.

OpenMP splits each parallel op statically over its team and waits at the end for the slowest
member. When another process holds one of the cores, the member on that core runs only when the
scheduler gives it a slice, so every parallel region can stall for a time slice; a scan issues
hundreds of them per call. Measured on 2 cores with one competing CPU-bound process: the fused scan
at b8 D128 N16 L1024 took 0.6–5.4 s per call on 2 threads and ~0.3–0.5 s on 1. So a call that
sees the other cores busy runs on the cores that are free (usually one thread), and a call whose
ops are too small to split runs on one thread whatever the load.

Load is read, not guessed: the CPU time the usable cores spent busy (/proc/stat) minus this
process's own (/proc/self/stat), over the last window of at least WINDOW_S. Without /proc (macOS,
Windows) every core counts as free, which is torch's own default. `WORKBENCH_THREADS=fixed` turns
the policy off (every call uses torch's current thread count), for comparisons.

apps/ set the count through `use_threads` without importing torch themselves.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager

WINDOW_S = 0.2  # load is re-read at most this often (a clock tick is 10 ms: ≥ 20 ticks per core)
FIRST_WINDOW_S = 0.03  # the first reading waits at least this long after the module's first sample
TAKEN = 0.25  # a core counts as taken once other processes use more than this fraction of it
SMALL_WORK = 1 << 16  # elements per op below which one thread is used (torch's grain size is 32768)
# A training step below this many activation entries (batch·L·d_model) runs on one thread: its ops
# are small, and on 2 cores two threads lose to the hand-offs (d 64, b 32, L ≤ 100: the learning
# benchmark's models), while a Mamba step at d 128, b 8, L 1024 (2^20) gains from the second core.
STEP_SMALL_WORK = 1 << 19
POLICIES = ("adaptive", "fixed")


def use_threads(n: int) -> None:
    """torch.set_num_threads(n), with a clear error for a count below one."""
    if not isinstance(n, int) or n < 1:
        from workbench.errors import SpecError

        raise SpecError("threads", n, "an integer >= 1")
    import torch

    torch.set_num_threads(n)


def policy() -> str:
    p = os.environ.get("WORKBENCH_THREADS", "adaptive")
    if p not in POLICIES:
        from workbench.errors import SpecError

        raise SpecError("WORKBENCH_THREADS", p, "one of " + ", ".join(POLICIES))
    return p


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


class LoadMeter:
    """CPU use of other processes on this process's cores, in cores, over the last window."""

    def __init__(self, stat: str = "/proc/stat", self_stat: str = "/proc/self/stat", children: bool = False):
        self.stat, self.self_stat, self.children = stat, self_stat, children  # children: count reaped ones as own
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.others, self.read = 0.0, False
        self.last = self._sample()

    def _sample(self):
        """(time, busy ticks of the usable cores, this process's ticks), or None without /proc."""
        try:
            cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
            busy = 0
            with open(self.stat) as f:
                for line in f:
                    fields = line.split()
                    if fields and fields[0] in cpus:  # user nice system idle iowait irq softirq steal
                        v = [int(x) for x in fields[1:9]]
                        busy += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
            with open(self.self_stat) as f:
                own = f.read().rsplit(")", 1)[1].split()  # comm may hold spaces
            mine = int(own[11]) + int(own[12]) + (int(own[13]) + int(own[14]) if self.children else 0)
            return time.monotonic(), busy, mine  # utime + stime (+ cutime + cstime)
        except (OSError, AttributeError, ValueError, IndexError):
            return None

    def others_busy(self) -> float:
        if self.last is None:
            return 0.0
        if not self.read:  # the first reading waits for a window of FIRST_WINDOW_S; later ones never wait
            time.sleep(max(0.0, FIRST_WINDOW_S - (time.monotonic() - self.last[0])))
        now = self._sample()
        if now is None:
            return 0.0
        dt = now[0] - self.last[0]
        if not self.read or dt >= WINDOW_S:
            d_busy, d_own = now[1] - self.last[1], now[2] - self.last[2]
            self.others = max(0.0, (d_busy - d_own) / (self.tick * dt))
            self.last, self.read = now, True
        return self.others


_METER: LoadMeter | None = None


def free_cores() -> float:
    """Usable cores minus what other processes used of them over the last window."""
    global _METER
    if _METER is None:
        _METER = LoadMeter()
    return usable_cores() - _METER.others_busy()


def threads_for(work: int, limit: int, small: int = SMALL_WORK) -> int:
    """Threads for a sequence of ops of `work` elements each, at most `limit` (the process's count);
    one below `small` elements."""
    if limit <= 1 or policy() == "fixed":
        return max(1, limit)
    if work < small:
        return 1
    return max(1, min(limit, math.floor(free_cores() + TAKEN)))


@contextmanager
def adaptive(work: int):
    """Run the block on `threads_for(work)` of torch's threads, restoring the count after."""
    import torch

    n = torch.get_num_threads()
    k = threads_for(work, n)
    if k != n:
        torch.set_num_threads(k)
    try:
        yield k
    finally:
        if k != n:
            torch.set_num_threads(n)


def prime() -> None:
    """Take the first load sample now, so the first decision needs no wait (cheap; call early)."""
    global _METER
    if _METER is None:
        _METER = LoadMeter()
