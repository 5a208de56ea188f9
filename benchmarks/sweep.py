"""Sweep scaling: the same 8-configuration sweep on 1 and on 2 LocalCluster workers
(1 thread each), wall time including cluster start. `python -m benchmarks.sweep`."""

from __future__ import annotations

import json
import tempfile
import time

from benchmarks.harness import RESULTS, machine
from workbench.specs import SweepSpec
from workbench.sweep import run_sweep

SWEEP = {
    "name": "bench",
    "base": {
        "model": {"layer": "s4d", "d_model": 32, "n_layers": 2},
        "ssm": {"d_state": 16},
        "task": {"kind": "adding", "seq_len": 100},
        "train": {"steps": 300, "batch": 16, "probe_every": 100, "eval_every": 100},
    },
    "grid": {"ssm.init": ["s4d-lin", "s4d-inv", "s4d-legs", "s4d-real"], "train.seed": [0, 1]},
}


def main() -> None:
    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            out = run_sweep(SweepSpec.from_dict(SWEEP), root, workers=workers, threads=1)
            rows.append(
                {
                    "workers": workers,
                    "wall_s": time.perf_counter() - t0,
                    "completed": sum(r["status"] == "completed" for r in out["runs"].values()),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    speedup = rows[0]["wall_s"] / rows[1]["wall_s"]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep.json").write_text(json.dumps({"machine": machine(), "rows": rows, "speedup": speedup}, indent=1))
    text = (
        "| workers | wall s | completed |\n|---:|---:|---:|\n"
        + "".join(f"| {r['workers']} | {r['wall_s']:.1f} | {r['completed']}/8 |\n" for r in rows)
        + f"\nspeed-up 2 vs 1: {speedup:.2f}×\n"
    )
    (RESULTS / "sweep.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
