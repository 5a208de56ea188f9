"""The learning benchmark's Mamba run with the dashboard following it, against the same run headless.

The product's normal use: a run started from the dashboard's Train button, its session on the
Training tab redrawing the curves and probes as they arrive, the server and the browser on the
same cores as the run. The dashboard's spec is set through its widgets to the learning
benchmark's `mamba/selective-copying` case; the headless run reuses the spec the dashboard wrote,
so both train the same thing. Runs alternate (dashboard, headless, headless, dashboard, ...) against
drift of a shared machine; reported: each run's wall time on its own clock and the ratio of medians.
`python -m benchmarks.following [--steps 3000] [--pairs 1]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.dashboard import SET_WIDGET, open_page, wait_done
from benchmarks.harness import RESULTS, machine
from benchmarks.learning import CASES
from benchmarks.serving import served

CASE = "mamba/selective-copying"
# widget title -> value, as benchmarks.learning.run_case trains the case (its spec and its train overrides)
WIDGETS = {
    "Layer": "mamba",
    "D model": 64,
    "N layers": 2,
    "Noise len": 64,
    "N data": 8,
    "Batch": 32,
    "Lr": 3e-3,
    "Warmup": 100,
    "Eval every": 50,
    "Probe every": 500,
    "Checkpoint every": 500,
    "Threads": 1,
}


def wall_s(runs: Path, run_id: str) -> float:
    from workbench.store import open_run

    return float(open_run(run_id, runs).metrics["wall_time_s"].values[-1])


def dashboard_run(p, url, runs: Path, steps: int) -> str:
    browser, page = open_page(p, url)
    try:
        for title, value in {**WIDGETS, "Steps": steps}.items():
            assert page.evaluate(SET_WIDGET, [title, value]) >= 1, f"no widget titled {title!r}"
            page.wait_for_timeout(300)  # each change's preview settles before the next
        page.wait_for_timeout(3000)
        before = {d.name for d in runs.iterdir()} if runs.exists() else set()
        page.get_by_role("button", name="Train this spec").click()
        page.locator(".bk-tab", has_text="Training").first.click()
        new = set()
        for _ in range(300):
            new = ({d.name for d in runs.iterdir() if d.is_dir()} - before) if runs.exists() else set()
            if new:
                break
            time.sleep(0.1)
        run_id = new.pop()
        wait_done(runs, run_id, timeout=7200)
        return run_id
    finally:
        browser.close()


def run(steps: int, pairs: int) -> dict:
    from playwright.sync_api import sync_playwright

    from workbench.specs import RunSpec
    from workbench.store import open_run
    from workbench.train import runner

    out = {"dashboard": [], "headless": []}
    spec = None
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        runs = Path(tmp) / "runs"
        with served(runs) as srv:
            for mode in (["dashboard", "headless", "headless", "dashboard"] * pairs)[: 2 * pairs]:
                if mode == "dashboard":
                    rid = dashboard_run(p, srv.url, runs, steps)
                    spec = spec or open_run(rid, runs).spec
                else:
                    rid, worker = runner.start(RunSpec.from_dict(spec, name="headless"), runs)
                    worker.wait()
                    wait_done(runs, rid)
                out[mode].append(wall_s(runs, rid))
                print(json.dumps({"mode": mode, "wall_s": out[mode][-1]}), flush=True)
        time.sleep(1)  # the last worker releases its files before the folder goes
    ratio = statistics.median(out["dashboard"]) / statistics.median(out["headless"])
    return {
        "case": CASE,
        "steps": steps,
        "spec": spec,
        "headless_wall_s": out["headless"],
        "dashboard_wall_s": out["dashboard"],
        "ratio": ratio,
        "met": ratio <= 1.25,
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="benchmarks.following")
    ap.add_argument("--steps", type=int, default=CASES[CASE][0]["train"]["steps"])
    ap.add_argument("--pairs", type=int, default=1, help="dashboard/headless run pairs")
    ns = ap.parse_args()
    r = run(ns.steps, ns.pairs)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "following.json").write_text(json.dumps({"machine": machine(), **r}, indent=1))
    m = machine()
    text = (
        f"Machine: {m['cpu']}, {m['cores']} cores. {CASE}, {r['steps']} steps, the learning benchmark's spec.\n\n"
        "| measure | value | target | met |\n|---|---:|---|---|\n"
        f"| wall time, headless (median of {len(r['headless_wall_s'])}) | "
        f"{statistics.median(r['headless_wall_s']):.1f} s | | |\n"
        f"| wall time, started from the dashboard, one session following (median of "
        f"{len(r['dashboard_wall_s'])}) | {statistics.median(r['dashboard_wall_s']):.1f} s | | |\n"
        f"| with the dashboard / headless | {r['ratio']:.2f}× | ≤ 1.25× | {'yes' if r['met'] else 'no'} |\n"
    )
    (RESULTS / "following.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
