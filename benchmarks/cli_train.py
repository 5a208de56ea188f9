"""`workbench train` on its default configuration, quiet and beside a competing CPU-bound process.

Each measurement is one CLI run in its own process (as a user starts it), shortened to STEPS steps
with the defaults' evaluation and probe cadence. Reported: the median and p90 of the per-step wall
time from the run's own clock (evaluation and probe steps included), and steps per second over
the whole run. The same runs with the thread policy off (WORKBENCH_THREADS=fixed) are the peer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from benchmarks.harness import row
from benchmarks.load import Busy, competing_load, stats

ROOT = Path(__file__).resolve().parents[1]
STEPS = 300
OURS, FIXED = "workbench train, threads 0 (automatic)", "workbench train, thread policy off"


def one_run(root: Path, policy: str, steps: int) -> dict:
    env = {**os.environ, "WORKBENCH_THREADS": policy, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "train",
            "--train.steps",
            str(steps),
            "--json",
            "--runs-dir",
            str(root),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1800,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"workbench train failed: {out.stderr[-2000:]}")
    from workbench.store import open_run

    rid = json.loads(out.stdout.strip().splitlines()[-1])["id"]
    wall = open_run(rid, root).metrics["wall_time_s"].values  # seconds since the loop started, per step
    per_step = np.diff(np.concatenate([[0.0], wall]))
    return {**stats(per_step.tolist()), "steps_per_s": len(wall) / float(wall[-1])}


def run(quick: bool = False) -> list[dict]:
    steps = 60 if quick else STEPS
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for loaded in (False, True):
            for policy, name in (("adaptive", OURS), ("fixed", FIXED)):
                ctx = competing_load() if loaded else nullcontext()
                with ctx, Busy() as busy:
                    r = one_run(Path(tmp), policy, steps)
                r["busy"] = busy.value
                print(
                    json.dumps(
                        {
                            "policy": policy,
                            "loaded": loaded,
                            "steps_per_s": r["steps_per_s"],
                            "median_s": r["median_s"],
                            "p90_s": r["p90_s"],
                            "busy": r["busy"],
                        }
                    ),
                    file=sys.stderr,
                    flush=True,
                )
                if loaded:
                    res[name]["loaded"] = r
                else:
                    res[name] = r
    case = f"CLI `workbench train` defaults, {steps} steps: time per step"
    ours, fixed = res[OURS], res[FIXED]
    note = lambda r: f"{r['steps_per_s']:.1f} steps/s quiet, {r['loaded']['steps_per_s']:.1f} loaded"
    return [
        row(case, OURS, ours, target=note(ours)),
        row(
            case,
            FIXED,
            fixed,
            vs="workbench",
            ratio=fixed["median_s"] / ours["median_s"],
            loaded_ratio=fixed["loaded"]["median_s"] / ours["loaded"]["median_s"],
            target=note(fixed),
        ),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(json.dumps(r))
