"""Sweeps on a real Dask LocalCluster: results stream into the store while running; a dead worker
costs one retry (or a failed run), never the sweep."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from workbench.errors import SpecError
from workbench.specs import SweepSpec
from workbench.store import list_runs, open_run
from workbench.sweep import run_sweep

BASE = {
    "model": {"layer": "s4d", "d_model": 8, "n_layers": 1},
    "ssm": {"d_state": 4},
    "task": {"name": "adding", "seq_len": 16},
    "train": {"steps": 300, "batch": 4, "probe_every": 100, "eval_every": 50, "checkpoint_every": 100},
}


@pytest.mark.slow
def test_four_configurations_on_two_workers_stream_while_running(tmp_path):
    sweep = SweepSpec.from_dict(
        {"name": "grid", "base": BASE, "grid": {"ssm.init": ["s4d-lin", "s4d-inv"], "train.seed": [0, 1]}}
    )
    out = run_sweep(sweep, tmp_path, workers=2, threads=1)
    runs = out["runs"]
    assert len(runs) == 4 and all(r["status"] == "completed" for r in runs.values())
    df = list_runs(tmp_path, sweep=out["sweep"])
    assert sorted(zip(df["ssm.init"], df["train.seed"])) == [
        ("s4d-inv", 0),
        ("s4d-inv", 1),
        ("s4d-lin", 0),
        ("s4d-lin", 1),
    ]
    for rid, r in runs.items():
        run = open_run(rid, tmp_path)
        assert run.last_step == 300 and "kernels" in run.probe_names and run.checkpoints[-1] == 300
        assert r["first_metrics_at"] < r["done_at"] - 0.2  # metrics arrived while it was still training
    from workbench.plots.sweep import sweep_plot
    from workbench.sweep.summary import sweep_summary

    table, fields, metrics = sweep_summary(out["sweep"], tmp_path)
    assert fields == ["ssm.init", "train.seed"] and "final.test/mse" in metrics and len(table) == 4
    plot = sweep_plot(table, fields, "final.test/mse")
    assert len(plot) == 2 and sorted(plot[0].data["ssm.init"].unique()) == ["s4d-inv", "s4d-lin"]
    with pytest.raises(SpecError, match="sweep"):
        sweep_summary("no-such-sweep", tmp_path)


@pytest.mark.slow
def test_a_configuration_that_raises_fails_alone(tmp_path):
    sweep = SweepSpec.from_dict(
        {"name": "bad", "base": {**BASE, "train": {**BASE["train"], "steps": 40}}, "grid": {"train.lr": [1e-3, 1e9]}}
    )
    out = run_sweep(sweep, tmp_path, workers=2, threads=1)
    statuses = sorted(r["status"] for r in out["runs"].values())
    assert statuses == ["completed", "diverged"]
    for rid in out["runs"]:
        assert open_run(rid, tmp_path).status in ("completed", "diverged")


@pytest.mark.slow
def test_killed_worker_is_retried_or_failed_and_the_rest_complete(tmp_path):
    sweep = SweepSpec.from_dict(
        {"name": "kill", "base": {**BASE, "train": {**BASE["train"], "steps": 600}}, "grid": {"train.seed": [0, 1, 2]}}
    )
    killed = []

    def killer():
        # wait until some run is training, then SIGKILL the worker process that hosts it
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            df = list_runs(tmp_path)
            if len(df) and (df["status"] == "running").any():
                for p in _worker_pids():
                    os.kill(p, signal.SIGKILL)
                    killed.append(p)
                    break
            time.sleep(0.3)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    out = run_sweep(sweep, tmp_path, workers=2, threads=1)
    t.join(timeout=5)
    assert killed, "no worker was killed"
    statuses = [r["status"] for r in out["runs"].values()]
    assert all(s in ("completed", "failed") for s in statuses) and statuses.count("completed") >= 2
    for rid, r in out["runs"].items():
        run = open_run(rid, tmp_path)
        if r["status"] == "completed":
            assert run.last_step == 600 and run.metrics.step.values.tolist() == list(range(1, 601))
        else:
            assert run.status == "failed"


def _worker_pids():
    """Dask worker processes: LocalCluster's nannies live in this process and spawn the workers."""
    import psutil

    return [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if any("spawn_main" in part or "multiprocessing-fork" in part for part in p.cmdline())
    ]


def test_sweep_yaml_errors_and_dry_run(tmp_path):
    with pytest.raises(SpecError, match="sweep field"):
        SweepSpec.from_dict({"grid": {"ssm.nope": [1]}})
    with pytest.raises(SpecError, match="grid.ssm.init"):
        SweepSpec.from_dict({"grid": {"ssm.init": []}})
    f = tmp_path / "s.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "name": "dry",
                "base": BASE,
                "grid": {"ssm.init": ["s4d-lin", "s4d-real"]},
                "random": {"n": 2, "seed": 1, "space": {"ssm.dt_min": {"log_uniform": [1e-4, 1e-3]}}},
            }
        )
    )
    r = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "sweep", str(f), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 4 and not (tmp_path / "runs").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"base": BASE, "grid": {"ssm.init": ["nope"]}}))
    r = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "sweep", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "ssm.init='nope'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
