"""The run lifecycle in the dashboard without a server: a click on a row opens the run, the sidebar
shows that run's spec read-only and copies it into the editor, the header shows status and
progress, run controls say what they did, and an unstable spec raises the stability banner."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apps.views import RunControls, RunsView, Workbench  # noqa: E402
from apps.views.banner import banner_text, stability_banner  # noqa: E402
from apps.views.header import RunHeader, header_html, rate_and_eta  # noqa: E402
from apps.views.presets import PresetMenu  # noqa: E402
from apps.views.run_spec import RunSpecPanel  # noqa: E402
from workbench.specs import ModelSpec, RunSpec, SSMSpec, TaskSpec  # noqa: E402
from workbench.store import RunWriter  # noqa: E402


def finished_run(root: Path, steps: int = 10) -> str:
    spec = RunSpec(name="finished", ssm=SSMSpec(init="s4d-inv", d_state=8), model=ModelSpec(d_model=4))
    spec.train.steps = steps
    w = RunWriter.create(spec.to_dict(), spec.name, root)
    for s in range(1, steps + 1):
        w.log_metrics(s, {"loss": 1 / s, "wall_time_s": 0.5 * s})
    w.set_status("completed", step=steps, final={"loss": 0.1})
    w.close()
    return w.id


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    return Workbench(
        model=ModelSpec(d_model=8, n_layers=1), task=TaskSpec(kind="selective-copying", noise_len=8, n_data=2)
    )


@pytest.mark.slow  # trains a run first
def test_click_on_a_row_opens_the_run_and_the_sidebar_shows_its_spec(state, tmp_path):
    import panel as pn

    run_id = finished_run(tmp_path / "runs")
    runs = RunsView(state)
    editor = pn.Column("editor")
    panel = RunSpecPanel(state, editor)
    assert editor.visible and not panel.column.visible
    row = list(runs.table.value["id"]).index(run_id)
    runs._on_click(SimpleNamespace(row=row, column="name"))
    assert state.run_id == run_id
    assert panel.column.visible and not editor.visible
    assert run_id in panel.title.object and "s4d-inv" in panel.table.object and "**init**" in panel.table.object
    runs._on_click(SimpleNamespace(row=row, column="_selection"))  # the checkbox column selects, never opens
    panel.copy_into_editor()
    assert state.run_id == "" and editor.visible and state.ssm.init == "s4d-inv" and state.ssm.d_state == 8


def test_header_shows_status_and_progress(state, tmp_path):
    run_id = finished_run(tmp_path / "runs", steps=10)
    header = RunHeader(state)
    assert "Preview" in header.pane.object
    state.select_run(run_id)
    html = header.pane.object
    assert "data-status='completed'" in html and "step 10 / 10" in html and "ETA" not in html
    live = header_html("r", "a run", "running", 161, 300, 2.0, 69.5)
    assert "step 161 / 300" in live and "2.00 steps/s" in live and "ETA 1m10s" in live
    m = xr.Dataset({"wall_time_s": ("step", np.arange(1.0, 11.0) * 0.5)}, coords={"step": np.arange(1, 11)})
    rate, eta = rate_and_eta(m, 30)
    assert rate == pytest.approx(2.0) and eta == pytest.approx(10.0)
    assert all(math.isnan(v) for v in rate_and_eta(None, 30))


def test_controls_on_a_finished_run_say_nothing_was_done(state, tmp_path):
    run_id = finished_run(tmp_path / "runs")
    controls = RunControls(state)
    state.select_run(run_id)
    for verb in ("stop", "pause", "resume"):
        controls.control(verb)
        assert "already completed" in controls.message.object and f"nothing to {verb}" in controls.message.object
    assert not (tmp_path / "runs" / run_id / "control").exists()


def test_euler_on_fast_modes_raises_the_banner(state):
    alert = stability_banner(state)
    assert not alert.visible
    state.model.layer = "s4d"
    state.ssm.param.update(discretization="euler", dt_min=0.1, dt_max=1.0)
    assert state.stability["level"] == "unstable" and state.stability["max_abs_pole"] > 1
    assert alert.visible and "ssm.discretization" in alert.object and "zoh" in alert.object
    state.ssm.discretization = "zoh"
    assert not alert.visible and state.stability["max_abs_pole"] < 1
    assert banner_text({}) == ""


@pytest.mark.slow  # rebuilds every view for the preset's spec
def test_preset_menu_loads_a_run_into_the_editor(state):
    menu = PresetMenu(state)
    menu.preset.value = "mqar"
    assert menu.run.options == ["attention", "mamba", "s4d"] and "Zoology" in menu.about.object
    menu.run.value = "attention"
    menu.load_run()
    assert state.model.layer == "attention" and state.task.kind == "mqar" and state.task.seq_len == 32
    assert state.run_spec().train.steps == 500


def test_kernel_channels_listed_are_the_channels_drawn(state):
    from apps.views import KernelsView

    view = KernelsView(state)
    labels = [el.label for el in view.shown("kernels").traverse(lambda e: e, [__import__("holoviews").Curve])]
    assert view.channels and labels == [f"channel {c}" for c in view.channels]


def test_the_periodic_read_waits_longer_the_more_a_tick_costs(state, monkeypatch):
    """A tick that cost c seconds of CPU leaves the next c * (1/TICK_DUTY - 1) seconds alone (at
    most TICK_MAX_S): reading and redrawing stay a small share of cores a followed run needs."""
    from apps import app as app_module

    clock, cpu, polls = [100.0], [0.0], []
    monkeypatch.setattr(app_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(app_module.time, "thread_time", lambda: cpu[0])
    app = app_module.App(state)
    app.runs_on_screen = False
    cost = [0.03]

    def poll():
        polls.append(clock[0])
        cpu[0] += cost[0]
        return True

    monkeypatch.setattr(state, "poll", poll)
    wait = 0.03 * (1 / app_module.TICK_DUTY - 1)
    for t in (100.0, 101.0, 100.0 + wait - 0.01, 100.0 + wait, 100.0 + wait + 1):
        clock[0] = t
        app.tick()
    assert polls == [100.0, 100.0 + wait]
    cost[0] = 10.0  # a very slow tick still leaves the page live
    clock[0] += app_module.TICK_MAX_S
    app.tick()
    clock[0] += app_module.TICK_MAX_S
    app.tick()
    assert len(polls) == 4
