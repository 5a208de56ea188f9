"""The dashboard's training, runs, sweep and export views without a server, on small fake runs
written through the store (no training): changing a param updates the view's data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import holoviews as hv
import numpy as np
import param
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apps.views import ExportView, KernelsView, RunsView, TrainingView, Workbench  # noqa: E402
from workbench.specs import ModelSpec, RunSpec, SSMSpec, TaskSpec  # noqa: E402
from workbench.store import RunWriter  # noqa: E402
from workbench.store.index import upsert  # noqa: E402

LAG = np.arange(16)


def fake_run(root: Path, init: str, d_state: int, acc: float, sweep: str | None = None) -> str:
    """A finished run with metrics over 10 steps and kernels/memory probes at steps 0 and 10."""
    spec = RunSpec(name=f"{init}-{d_state}", ssm=SSMSpec(init=init, d_state=d_state), model=ModelSpec(d_model=4))
    w = RunWriter.create(spec.to_dict(), spec.name, root)
    for s in range(1, 11):
        w.log_metrics(s, {"loss": acc + 1 / s, "test/token_accuracy": acc * s / 10})
    decay = 0.5 if init == "s4d-inv" else 0.9
    for i, step in enumerate((0, 10)):
        k = (decay + 0.01 * d_state / 64) ** LAG * (1 + i)
        w.log_probe(
            step,
            "kernels",
            xr.Dataset(
                {"K": (("layer", "channel", "lag"), np.tile(k, (2, 4, 1)))},
                coords={"layer": [0, 1], "channel": np.arange(4), "lag": LAG},
            ),
            2,
        )
        w.log_probe(step, "memory", xr.Dataset({"grad_norm": ("lag", k**2)}, coords={"lag": LAG}), 2)
    w.set_status("completed", step=10, final={"test/token_accuracy": acc})
    w.close()
    if sweep:
        upsert(root, w.id, sweep=sweep, swept=json.dumps(["ssm.d_state", "ssm.init"]))
    return w.id


@pytest.fixture
def runs(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(root))
    ids = [
        fake_run(root, init, n, acc, sweep="sweep-1")
        for init, n, acc in (("s4d-lin", 16, 0.5), ("s4d-lin", 64, 0.6), ("s4d-inv", 16, 0.3), ("s4d-inv", 64, 0.4))
    ]
    ids.append(fake_run(root, "s4d-lin", 32, 0.9))  # not in the sweep
    return root, ids


@pytest.fixture
def state(runs):
    return Workbench(
        model=ModelSpec(d_model=8, n_layers=1), task=TaskSpec(kind="selective-copying", noise_len=8, n_data=2)
    )


def curve_values(fig):
    """The value column of every curve of a figure."""
    return [el.dimension_values(el.vdims[0]) for el in fig.traverse(lambda e: e, [hv.Curve])]


def test_training_view_follows_the_run_and_its_params(runs, state):
    view = TrainingView(state)
    state.select_run(runs[1][0])
    fig = view.figures()["metric"]
    raw, smooth = curve_values(fig)
    assert len(raw) == 10 and not np.allclose(raw, smooth)
    view.smoothing = 0.0
    np.testing.assert_allclose(curve_values(view.figures()["metric"])[1], raw)
    view.metric = "test/token_accuracy"
    assert curve_values(view.figures()["metric"])[0][-1] == pytest.approx(0.5)
    assert view.slider.end == 10 and state.step == 10


def test_step_slider_chooses_the_probe_step(runs, state):
    training, kernels = TrainingView(state), KernelsView(state)
    state.select_run(runs[1][0])
    last = curve_values(kernels.shown("kernels"))[0]
    with param.edit_constant(training.slider):  # what the browser does at the end of a drag
        training.slider.value_throttled = 3  # probes of step 0 are shown
    assert state.step == 3 and state.shown_step == 0 and not state.follow_latest
    np.testing.assert_allclose(curve_values(kernels.shown("kernels"))[0] * 2, last)


def test_runs_view_filters_and_overlays(runs, state):
    view = RunsView(state)
    assert len(view.table.value) >= 5  # own runs and the shipped example
    view.field = "ssm.init"
    view.value = "s4d-inv"
    assert set(view.table.value["ssm.init"]) == {"s4d-inv"} and len(view.table.value) == 2
    view.table.selection = [0, 1]
    curves = curve_values(view._overlay.object)
    assert len(curves) == 2
    assert len(curve_values(view._memory.object)) == 2
    view.metric = "test/token_accuracy"
    assert not np.allclose(curve_values(view._overlay.object)[0], curves[0])


@pytest.mark.slow  # overlays every run of the sweep
def test_sweep_summary_and_grouped_overlay(runs, state):
    view = RunsView(state).sweeps
    assert view.param.sweep.objects == ["(no sweep)", "sweep-1"]
    view.sweep = "sweep-1"
    assert view.by == "ssm.d_state" and view.metric == "final.test/token_accuracy"
    panels = view.summary.object.traverse(lambda e: e, [hv.Scatter])
    assert [p.kdims[0].name for p in panels] == ["ssm.d_state", "ssm.init"]
    assert sorted(panels[1].dimension_values("final.test/token_accuracy")) == [0.3, 0.4, 0.5, 0.6]
    labels = [c.label for c in view.overlay.object.traverse(lambda e: e, [hv.Curve])]
    assert len(labels) == 4 and sorted(filter(None, labels)) == ["ssm.d_state = 16", "ssm.d_state = 64"]
    memory = curve_values(view.overlay.object)
    view.by = "ssm.init"
    labels = [c.label for c in view.overlay.object.traverse(lambda e: e, [hv.Curve])]
    assert sorted(filter(None, labels)) == ["ssm.init = s4d-inv", "ssm.init = s4d-lin"]
    view.curve = "kernels"
    assert "|K" in view.overlay.object.opts.get().kwargs["title"]
    assert len(curve_values(view.overlay.object)) == 4 and not np.allclose(
        curve_values(view.overlay.object)[0], memory[0]
    )


@pytest.mark.slow  # renders every format
def test_export_view_writes_valid_files(runs, state, tmp_path):
    views = {v.title: v for v in (KernelsView(state), TrainingView(state))}
    view = ExportView(state, views, formats=["png", "svg"])
    written = {p.suffix: p for p in view.files(tmp_path)}
    assert set(written) == {".png", ".svg", ".nc", ".json"}
    assert written[".png"].read_bytes().startswith(b"\x89PNG")
    assert xr.open_dataset(written[".nc"]).attrs["view"] == "Kernels"
    state.select_run(runs[1][0])
    view.view = "Training"
    assert view.download.filename.startswith("training-" + runs[1][0])
    ds = xr.open_dataset(next(p for p in view.files(tmp_path / "run") if p.suffix == ".nc"))
    assert "loss" in ds and ds.sizes["step"] == 10


def test_runs_table_shows_a_live_runs_own_step(runs, state):
    """The index records a step when the status changes; a running run's table row reads its store."""
    spec = RunSpec(name="live", model=ModelSpec(d_model=4))
    w = RunWriter.create(spec.to_dict(), spec.name, runs[0])
    w.set_status("running", step=0)
    for s in range(1, 8):
        w.log_metrics(s, {"loss": 1.0 / s})
    w.flush()
    try:
        table = state.runs_table().set_index("id")
        assert table.loc[w.id, "step"] == 7 and table.loc[w.id, "status"] == "running"
    finally:
        w.close()


def _elements(fig, kind):
    return [el for el in fig.traverse(lambda e: e, [kind])]


def test_runs_view_groups_into_mean_and_band_and_plots_final_against_a_field(runs, state):
    view = RunsView(state)
    view.field = "ssm.init"
    view.group = True
    sweep = [i for i, r in enumerate(view.table.value["id"]) if r in runs[1][:4]]
    view.table.selection = sweep
    curves = _elements(view._overlay.object, hv.Curve)
    assert sorted(c.label for c in curves) == ["ssm.init = s4d-inv (n=2)", "ssm.init = s4d-lin (n=2)"]
    lin = next(c for c in curves if "s4d-lin" in c.label)
    # fake runs: test/token_accuracy = acc·s/10 with acc 0.5 and 0.6 -> the mean at step 10 is 0.55
    view.metric = "test/token_accuracy"
    lin = next(c for c in _elements(view._overlay.object, hv.Curve) if "s4d-lin" in c.label)
    assert lin.dimension_values(1)[-1] == pytest.approx(0.55)
    assert len(_elements(view._overlay.object, hv.Spread)) == 2
    # the final metric against d_state over the ticked runs: (0.5, 0.3) at 16 and (0.6, 0.4) at 64
    view.field, view.final = "ssm.d_state", "final.test/token_accuracy"
    view.table.selection = [i for i, r in enumerate(view.table.value["id"]) if r in runs[1][:4]]
    (points,) = _elements(view._final.object, hv.Scatter)
    np.testing.assert_allclose(points.dimension_values(0), [16, 64])
    np.testing.assert_allclose(points.dimension_values(1), [0.4, 0.5])
    (bars,) = _elements(view._final.object, hv.ErrorBars)
    np.testing.assert_allclose(bars.dimension_values(2), [0.1, 0.1])


def test_runs_view_legends_are_short(runs, state):
    view = RunsView(state)
    view.table.selection = [i for i, r in enumerate(view.table.value["id"]) if r in runs[1][:2]]
    labels = {c.label for c in _elements(view._overlay.object, hv.Curve)}
    assert labels == {"16", "64"}  # the runs' names less their common prefix, not their ids


@pytest.mark.slow  # renders a three-panel figure in three formats
def test_runs_view_exports_the_comparison(runs, state, tmp_path):
    from workbench.plots.export import open_data

    view = RunsView(state)
    view.field, view.group = "ssm.init", True
    view.table.selection = [i for i, r in enumerate(view.table.value["id"]) if r in runs[1][:4]]
    files = view.files(tmp_path)
    assert sorted(f.suffix for f in files) == [".json", ".nc", ".pdf", ".png", ".svg"]
    assert (tmp_path / "runs-comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = open_data(tmp_path / "runs-comparison.nc")
    np.testing.assert_allclose(data["curves.mean"].sel({"curves.group": "s4d-lin"}).values[-1], 0.55 * 1.0 + 1 / 10)
    assert set(json.loads((tmp_path / "runs-comparison.json").read_text())["runs"]) == set(runs[1][:4])
    from workbench.plots.comparison import comparison_figure
    from workbench.plots.views_spectrum import empty

    with pytest.raises(ValueError, match="tick runs"):  # only placeholders: nothing to export
        comparison_figure([empty("a", "tick runs in the table"), empty("b")], "0 runs")


def test_a_followed_runs_new_metrics_redraw_the_curves_at_most_once_per_interval(runs, state, monkeypatch):
    """A redraw re-sends the whole history: new metrics of the run on show wait for the interval
    (the tick's `flush` draws them once it has passed); a choice on the page redraws at once."""
    from apps.views import training

    clock = [1000.0]
    monkeypatch.setattr(training.time, "monotonic", lambda: clock[0])
    w = RunWriter.create(RunSpec(name="live", model=ModelSpec(d_model=4)).to_dict(), "live", runs[0])
    try:
        for s in range(1, 6):
            w.log_metrics(s, {"loss": 1 / s})
        w.flush()
        view = TrainingView(state)
        state.select_run(w.id)

        def drawn():
            return int(view._pipes[0].data.sizes["step"])

        assert drawn() == 5  # a run's first metrics are drawn at once
        w.log_metrics(6, {"loss": 1 / 6})
        w.flush()
        state.poll()
        assert state.metrics.sizes["step"] == 6 and drawn() == 5  # held back
        clock[0] += view.redraw_interval() / 2
        view.flush()
        assert drawn() == 5
        clock[0] += view.redraw_interval()
        view.flush()
        assert drawn() == 6
        w.log_metrics(7, {"loss": 1 / 7})
        w.flush()
        state.poll()
        assert drawn() == 6
        view.smoothing = 0.1  # a choice on the page
        assert drawn() == 7
    finally:
        w.close()


def test_a_followed_run_is_read_from_the_last_step_on_show(runs, state, monkeypatch):
    """Each tick reads only the steps after those on show (a metric that starts late included),
    and the result is the whole read's; a run that went back (a resume) is read whole again."""
    from workbench.store.run import Run

    w = RunWriter.create(RunSpec(name="live", model=ModelSpec(d_model=4)).to_dict(), "live", runs[0])
    try:
        for s in range(1, 4):
            w.log_metrics(s, {"loss": 1 / s})
        w.flush()
        state.select_run(w.id)
        asked = []
        real = Run.metrics_after
        monkeypatch.setattr(Run, "metrics_after", lambda self, step: asked.append(step) or real(self, step))
        w.log_metrics(4, {"loss": 0.25, "test/token_accuracy": 0.5})
        w.flush()
        state.poll()
        assert asked == [3]
        xr.testing.assert_identical(state.metrics, state.open().metrics)
        w.truncate_after(2)  # what resuming from a checkpoint at step 2 does
        state.poll()
        assert asked[-1] == -1 and list(state.metrics.step.values) == [1, 2]
    finally:
        w.close()
