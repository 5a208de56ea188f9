"""Learning on this machine: does each layer solve the task it should, and how fast?

Each configuration trains through the real runner path (worker + store) under a temporary runs
root; reported: the held-out metric at the end, and the step and wall time at which it first
reached the target. `python -m benchmarks.learning [--only NAME]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS, machine
from workbench.specs import RunSpec
from workbench.store import open_run
from workbench.train import runner
from workbench.train.worker import run_worker

MODEL = {"d_model": 64, "n_layers": 2}
CASES = {
    "mamba/selective-copying": (
        {
            "model": {"layer": "mamba", **MODEL},
            "task": {"kind": "selective-copying"},
            "train": {"steps": 3000, "lr": 3e-3},
        },
        ">=",
        0.95,
    ),
    "s4d/selective-copying": (
        {
            "model": {"layer": "s4d", **MODEL},
            "task": {"kind": "selective-copying"},
            "train": {"steps": 3000, "lr": 3e-3},
        },
        "<",
        0.95,
    ),
    "attention/mqar": (
        {"model": {"layer": "attention", **MODEL}, "task": {"kind": "mqar"}, "train": {"steps": 3000, "lr": 3e-3}},
        ">=",
        0.95,
    ),
    "s4d/mqar": (
        {"model": {"layer": "s4d", **MODEL}, "task": {"kind": "mqar"}, "train": {"steps": 1500, "lr": 3e-3}},
        "<",
        0.40,
    ),
    "s4d/digits": (
        {"model": {"layer": "s4d", **MODEL}, "task": {"kind": "digits"}, "train": {"steps": 1500, "lr": 3e-3}},
        ">=",
        0.97,
    ),
}


def run_case(name: str, root: Path) -> dict:
    spec, op, target = CASES[name]
    spec = json.loads(json.dumps(spec))
    # one thread: the per-step ops are small, and two threads lose to OpenMP hand-offs on 2 cores
    spec["train"].update(batch=32, eval_every=50, probe_every=500, checkpoint_every=500, threads=1)
    run = RunSpec.from_dict(spec, name=name.replace("/", " "))
    path = runner.create(run, root)
    t0 = time.perf_counter()
    out = run_worker(path)
    wall = time.perf_counter() - t0
    m = open_run(path.name, root).metrics
    key = next(k for k in m.data_vars if k.startswith("test/"))
    curve = m[key].dropna("step")
    hit = curve.where(curve >= target, drop=True) if op == ">=" else curve.where(curve < 0, drop=True)
    first = int(hit.step[0]) if op == ">=" and hit.sizes["step"] else None
    t_first = float(m.wall_time_s.sel(step=first)) if first else None
    final = float(curve[-1])
    best = float(curve.max())
    met = (best >= target) if op == ">=" else (best < target)
    return {
        "case": name,
        "metric": key.split("/")[-1],
        "final": final,
        "best": best,
        "target": f"{op} {target}",
        "met": met,
        "first_step_at_target": first,
        "seconds_to_target": t_first,
        "steps": out["step"],
        "wall_time_s": wall,
        "status": out["status"],
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="benchmarks.learning")
    p.add_argument("--only", choices=list(CASES), action="append")
    p.add_argument("--keep", default=None, help="runs root to keep the runs in (default: a temporary folder)")
    ns = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(ns.keep or tmp)
        for name in ns.only or CASES:
            rows.append(run_case(name, root))
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    tag = "learning" if not ns.only else "learning-" + "-".join(n.replace("/", "_") for n in ns.only)
    (RESULTS / f"{tag}.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    lines = [
        "| case | metric | final | best | target | met | first step at target | s to target | wall s |",
        "|---|---|---:|---:|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['metric']} | {r['final']:.3f} | {r['best']:.3f} | {r['target']} | "
            f"{'yes' if r['met'] else 'no'} | {r['first_step_at_target'] or ''} | "
            f"{'' if r['seconds_to_target'] is None else round(r['seconds_to_target'])} | {r['wall_time_s']:.0f} |"
        )
    delta = RESULTS / "learning-delta.md"  # the delta-rule section (benchmarks.learning_delta) stays
    extra = "\n" + delta.read_text() if tag == "learning" and delta.exists() else ""
    (RESULTS / f"{tag}.md").write_text("\n".join(lines) + "\n" + extra)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
