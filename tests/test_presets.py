"""Presets: every shipped preset loads and validates; `quick` is the one default of the CLI and the
dashboard; `train --preset` trains each run and judges the order; progress reaches stderr with --json;
actions on finished runs say so; the stability check against closed forms."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import SpecError
from workbench.presets import DEFAULT, PRESETS_DIR, default_run, load_preset, merge, preset_names

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, cwd, timeout=300):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def test_every_preset_loads_and_names_its_paper():
    names = preset_names()
    assert names[0] == DEFAULT
    assert {"selective-copying", "mqar", "induction-heads", "lf-memory"} <= set(names)
    for name in names:
        p = load_preset(name)
        assert p.title and p.paper and p.metric.startswith("test/")
        assert name == DEFAULT or len(p.expect) >= 2, name
        for label, run in p.run_specs():
            assert run.name == f"{name}: {label}"


def test_selective_copying_preset_differs_only_in_the_layer():
    runs = dict(load_preset("selective-copying").run_specs())
    a, b = runs["mamba"].to_dict(), runs["s4d"].to_dict()
    assert a["task"] == b["task"] and a["train"] == b["train"]
    assert {k for k in a["model"] if a["model"][k] != b["model"][k]} == {"layer"}


def test_bad_preset_names_the_choices(tmp_path):
    with pytest.raises(SpecError, match="--preset.*quick"):
        load_preset("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nmetric: test/mse\nruns: {a: {model: {layer: nope}}}\n")
    with pytest.raises(SpecError, match="model.layer='nope'"):
        load_preset(str(bad))
    bad.write_text("title: x\nexpect: [b]\nruns: {a: {}}\n")
    with pytest.raises(SpecError, match="expect"):
        load_preset(str(bad))


def test_merge_is_nested_and_pure():
    a = {"task": {"kind": "mqar", "seq_len": 32}, "train": {"steps": 5}}
    out = merge(a, {"task": {"seq_len": 64}})
    assert out == {"task": {"kind": "mqar", "seq_len": 64}, "train": {"steps": 5}} and a["task"]["seq_len"] == 32


def test_separates_respects_the_direction():
    p = load_preset("lf-memory")
    assert p.separates({"exponential": {"test/mse": 0.01}, "polynomial": {"test/mse": 0.2}}) is True
    assert p.separates({"exponential": {"test/mse": 0.3}, "polynomial": {"test/mse": 0.2}}) is False
    assert p.separates({"exponential": {"test/mse": 0.3}}) is None


def test_cli_and_dashboard_share_the_quick_defaults():
    import sys as _sys

    if str(ROOT) not in _sys.path:
        _sys.path.insert(0, str(ROOT))
    from apps.views.state import Workbench

    quick = default_run()
    state = Workbench()
    assert state.run_spec().to_dict() == quick.to_dict()
    from workbench.cli import build_parser

    helptext = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]
    text = " ".join(helptext.format_help().split())
    assert f"'{DEFAULT}' preset" in text and "train.steps=600" in text
    assert "default 600" in text  # the flag's help states the preset's value, not the spec class's 2000


@pytest.mark.slow
def test_train_json_progress_on_stderr_one_object_on_stdout(tmp_path):
    # 3 s between progress lines keeps this short; the CLI's own cadence is 5 s
    r = cli(
        "train",
        "--task.kind",
        "adding",
        "--task.seq_len",
        "16",
        "--model.layer",
        "s4d",
        "--model.d_model",
        "8",
        "--ssm.d_state",
        "4",
        "--train.steps",
        "40",
        "--train.batch",
        "4",
        "--json",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)  # exactly one JSON object: json.loads fails on anything more
    assert summary["steps"] == 40 and r.stdout.count("\n") == 1
    lines = [ln for ln in r.stderr.splitlines() if "steps/s" in ln]
    assert lines and "step 40/40" in lines[-1] and "ETA" in lines[-1]


@pytest.mark.slow
def test_train_preset_trains_each_run_and_judges_the_order(tmp_path):
    r = cli("train", "--preset", "lf-memory", "--train.steps", "3", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["preset"] == "lf-memory" and set(out["runs"]) == {"exponential", "polynomial"}
    assert out["separates"] in (True, False) and all(np.isfinite(v) for v in out["scores"].values())
    # the scores are mse / E[y²]: predicting zero scores 1
    assert all(0 < v < 10 for v in out["scores"].values())
    listing = cli("runs", cwd=tmp_path).stdout
    assert "3/3" in listing and "lf-memory" in listing
    run_id = out["runs"]["exponential"]["id"]
    for verb in ("stop", "pause"):  # nothing to do, and said so
        said = cli(verb, run_id, cwd=tmp_path)
        assert said.returncode == 0 and "already completed" in said.stdout and f"nothing to {verb}" in said.stdout
    said = cli("resume", run_id, cwd=tmp_path)  # refused: a finished run's metrics are final
    assert said.returncode == 2 and "already completed" in said.stderr and "nothing to resume" in said.stderr


@pytest.mark.slow  # a CLI subprocess
def test_train_preset_bad_run_label(tmp_path):
    r = cli("train", "--preset", "mqar", "--preset-run", "rnn", cwd=tmp_path)
    assert r.returncode == 2 and "attention, mamba, s4d" in r.stderr and not (tmp_path / "runs").exists()


def test_euler_critical_dt_is_the_edge_of_the_stability_disc():
    from workbench.analysis.stability import euler_critical_dt

    A = np.array([-0.5 + 3j, -2.0 + 0j, -0.1 + 0.5j])
    dt = euler_critical_dt(A.real, A.imag)
    assert dt == pytest.approx(min(-2 * a.real / abs(a) ** 2 for a in A))
    assert np.abs(1 + 0.999 * dt * A).max() < 1 < np.abs(1 + 1.001 * dt * A).max()


def test_stability_flags_euler_on_fast_modes_and_passes_zoh():
    from workbench.analysis.stability import stability
    from workbench.specs import RunSpec
    from workbench.train.probes import preview_run

    for disc, level in (("euler", "unstable"), ("zoh", "ok"), ("bilinear", "ok")):
        run = RunSpec.from_dict(
            {
                "model": {"layer": "s4d", "d_model": 4, "n_layers": 1},
                "ssm": {"d_state": 8, "discretization": disc, "dt_min": 0.1, "dt_max": 1.0},
                "task": {"kind": "adding", "seq_len": 64},
            }
        )
        d = preview_run(run, fast_only=True)
        s = stability(d["spectrum"], d["kernels"], disc, 1.0)
        assert s["level"] == level, (disc, s)
        # realized max |z| against the closed forms of each discretization
        A, dt = d["spectrum"]["A_real"] + 1j * d["spectrum"]["A_imag"], d["spectrum"]["dt"]
        z = {"euler": 1 + dt * A, "zoh": np.exp(dt * A), "bilinear": (1 + dt * A / 2) / (1 - dt * A / 2)}[disc]
        assert s["max_abs_pole"] == pytest.approx(float(np.abs(z).max()), rel=1e-5)
        if level == "unstable":
            assert s["field"] == "ssm.discretization" and "zoh" in s["fix"] and s["max_abs_pole"] > 1


def test_half_life_histogram_moves_with_the_discretization():
    import holoviews as hv

    from workbench.plots.views_memory import half_life_histogram
    from workbench.specs import RunSpec
    from workbench.train.probes import preview_run

    out = {}
    for disc in ("zoh", "bilinear"):
        run = RunSpec.from_dict(
            {
                "model": {"layer": "s4d", "d_model": 4, "n_layers": 1},
                "ssm": {"d_state": 8, "discretization": disc, "dt_min": 0.3, "dt_max": 1.0},
                "task": {"kind": "adding", "seq_len": 64},
            }
        )
        fig = half_life_histogram(preview_run(run, fast_only=True)["spectrum"])
        out[disc] = [h.dimension_values(0) for h in fig.traverse(lambda e: e, [hv.Histogram])]
    assert not all(np.allclose(a, b) for a, b in zip(out["zoh"], out["bilinear"]))


def test_presets_live_in_data():
    assert PRESETS_DIR == ROOT / "data" / "presets" and (PRESETS_DIR / f"{DEFAULT}.yaml").is_file()


def test_pole_trajectories_are_coloured_by_step_with_start_and_end_markers():
    import holoviews as hv
    import xarray as xr

    from workbench.plots.views_spectrum import pole_trajectory_view

    steps = np.array([0, 10, 20])
    z = np.array([0.9, 0.8, 0.7])[:, None, None] * np.exp(1j * np.array([0.1, 0.5]))[None, None, :]  # (3, 1, 2)
    ds = xr.Dataset(
        {"pole_real": (("step", "channel", "mode"), z.real), "pole_imag": (("step", "channel", "mode"), z.imag)},
        coords={"step": steps, "channel": [0], "mode": [0, 1]},
    )
    fig = pole_trajectory_view(ds)
    seg = next(iter(fig.traverse(lambda e: e, [hv.Segments])))
    assert sorted(set(seg.dimension_values("step"))) == [10, 20]  # each segment carries the step it ends at
    pts = {p.label: p for p in fig.traverse(lambda e: e, [hv.Points])}
    assert set(pts) == {"step 0", "step 20"}
    np.testing.assert_allclose(pts["step 0"].dimension_values("Re"), z[0, 0].real)
    np.testing.assert_allclose(pts["step 20"].dimension_values("Re"), z[-1, 0].real)
