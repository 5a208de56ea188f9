"""The dashboard's probe views without a server: changing a param updates the view's data."""

from __future__ import annotations

import sys
from pathlib import Path

import holoviews as hv
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # apps/ is a folder of the repo, not an installed package
    sys.path.insert(0, str(ROOT))

from apps.views import KernelsView, MemoryView, SpectrumView, TokensView, Workbench  # noqa: E402
from apps.views.state import EXAMPLES  # noqa: E402
from workbench.specs import ModelSpec, TaskSpec  # noqa: E402

EXAMPLE = next(p.name for p in sorted(EXAMPLES.iterdir()) if (p / "spec.json").exists())


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    # small: every edit recomputes the whole preview
    return Workbench(
        model=ModelSpec(d_model=8, n_layers=2), task=TaskSpec(kind="selective-copying", noise_len=16, n_data=4)
    )


def values(fig, el_type, dim: str) -> list[np.ndarray]:
    """The `dim` column of every element of type `el_type` in a figure."""
    return [el.dimension_values(dim) for el in fig.traverse(lambda e: e, [el_type])]


def kernel_data(view) -> list[np.ndarray]:
    return values(view.shown("kernels"), hv.Curve, "K")


def test_init_change_redraws_kernels_and_poles(state):
    kernels, spectrum = KernelsView(state), SpectrumView(state)
    k0, poles0 = kernel_data(kernels), values(spectrum.shown("poles"), hv.Points, "pole_real")
    assert len(k0) == 4 and all(len(k) == state.task.length() for k in k0)
    state.ssm.init = "s4d-inv"
    assert not all(np.allclose(a, b) for a, b in zip(k0, kernel_data(kernels)))
    assert "(s4d-inv)" in kernels.shown("kernels").opts.get().kwargs["title"]
    poles1 = values(spectrum.shown("poles"), hv.Points, "pole_real")
    assert not np.allclose(np.sort(poles0[0]), np.sort(poles1[0]))


def test_kernel_view_params(state):
    view = KernelsView(state)
    linear = kernel_data(view)
    view.log_abs = True
    np.testing.assert_allclose(kernel_data(view)[0], np.log10(np.maximum(np.abs(linear[0]), 1e-30)), rtol=1e-6)
    view.channels = [1]
    assert len(kernel_data(view)) == 1
    other = kernel_data(view)[0]
    view.layer = 1
    assert not np.allclose(kernel_data(view)[0], other)
    assert view.dataset().attrs["layer"] == 1


def test_kernel_length_and_log_lag(state):
    view = KernelsView(state)
    full = kernel_data(view)
    assert len(full[0]) == state.task.length()  # the default: the task's sequence length
    view.length = 10
    np.testing.assert_array_equal(kernel_data(view)[0], full[0][:10])
    view.log_lag = True  # lag 0 has no log: lags 1..9 on a log axis
    np.testing.assert_array_equal(kernel_data(view)[0], full[0][1:10])
    assert view.shown("kernels").opts.get("plot", backend="bokeh").kwargs["logx"]


def test_invalid_spec_keeps_pictures_and_says_why(state):
    view = KernelsView(state)
    before = kernel_data(view)
    state.ssm.dt_min = 0.5  # > dt_max: rejected by validation
    assert state.error.startswith("ssm.dt_min=0.5")
    np.testing.assert_array_equal(kernel_data(view)[0], before[0])
    state.ssm.dt_min = 0.001
    assert state.error == ""


@pytest.mark.slow  # gradient memory of the default model
def test_memory_view_follows_layer_and_heat(state):
    state.model.layer = "mamba"  # selective: has a forgetting heat map
    view = MemoryView(state)
    heat = values(view.shown("forgetting"), hv.Image, "value")[0]
    view.heat = "delta"
    assert not np.allclose(values(view.shown("forgetting"), hv.Image, "value")[0], heat)
    assert len(values(view.shown("half_lives"), hv.Histogram, "modes")) == 2  # one per layer


@pytest.mark.slow  # token dynamics of the default model
def test_tokens_view_follows_the_spec(state):
    state.model.layer = "mamba"
    view = TokensView(state)
    delta = values(view.shown("delta"), hv.Image, "value")[0]
    view.layer = 1
    assert not np.allclose(values(view.shown("delta"), hv.Image, "value")[0], delta)
    attention = values(view.shown("attention"), hv.Image, "value")[0]
    view.channel = 3
    assert not np.allclose(values(view.shown("attention"), hv.Image, "value")[0], attention)
    assert len(values(view.shown("norms"), hv.Curve, "norm")[0]) == 3  # encoder + 2 blocks


@pytest.mark.slow  # reads every probe step of the example run
def test_selecting_an_earlier_step_changes_the_kernels(state):
    view = KernelsView(state)
    state.select_run(EXAMPLE)
    assert state.steps[-1] == state.step and len(state.steps) > 2
    last = kernel_data(view)
    state.step = state.steps[1]
    assert not np.allclose(kernel_data(view)[0], last[0])
    assert view.dataset().attrs["step"] == state.steps[1]
    state.select_run("")  # back to the preview of the spec
    assert len(kernel_data(view)[0]) == state.task.length()


@pytest.mark.slow  # builds the whole app
def test_create_app_widgets_drive_the_spec(state):
    import panel as pn

    from apps.app import create_app

    page = create_app(state)
    assert isinstance(page, pn.template.FastListTemplate)
    editor = page.sidebar[-1]
    ssm_widgets = editor[1].objects[0]  # the first card (SSM) holds the pn.Param of the SSM spec
    before = kernel_data(page.app.kernels)
    ssm_widgets._widgets["init"].value = "s4d-inv"
    assert state.ssm.init == "s4d-inv"
    assert not np.allclose(kernel_data(page.app.kernels)[0], before[0])


@pytest.mark.slow
def test_served_updates_in_place_keep_the_document_consistent(state):
    """A knob redraws the served plots in place (same Bokeh sources, new data) without Bokeh's
    whole-graph recompute; the document's model set stays what a full recompute finds, also when
    a figure's structure changes (fewer channels) and its plot is rebuilt."""
    import panel as pn
    from bokeh.document import Document
    from bokeh.models import ColumnDataSource

    from apps.app import create_app

    page = create_app(state)
    doc = Document()
    page.server_doc(doc)
    pn.state.curdoc = doc
    try:
        kernels = page.app.kernels

        def k_sources():
            return {
                m.id: np.asarray(m.data["K"]) for m in doc.models if isinstance(m, ColumnDataSource) and "K" in m.data
            }

        def consistent():
            ids = {m.id for m in doc.models}
            doc.models.recompute()
            return ids == {m.id for m in doc.models}

        before = k_sources()
        state.ssm.init = "s4d-inv"
        after = k_sources()
        assert set(after) == set(before)  # the same sources ...
        assert any(not np.allclose(after[i], before[i]) for i in before)  # ... holding new kernels
        assert consistent()
        kernels.channels = [1]  # one curve instead of four: a new plot, new models
        assert len(k_sources()) == 1 and set(k_sources()).isdisjoint(before)
        assert consistent()
    finally:
        pn.state.curdoc = None


@pytest.mark.slow  # a preview per edit; the in-place cases above stay fast
def test_structure_tells_in_place_from_rebuild(state):
    from apps.views.base import structure

    view = KernelsView(state)
    lin = structure(view.shown("kernels"))
    state.ssm.init = "s4d-inv"
    assert structure(view.shown("kernels")) == lin  # same curves and axes: data only
    view.log_abs = True
    assert structure(view.shown("kernels")) != lin  # another value dimension (log10|K|)


@pytest.mark.slow  # a preview per edit; the in-place cases above stay fast
def test_hidden_view_redraws_when_opened(state):
    view = KernelsView(state)
    view.on_screen = False
    k0 = kernel_data(view)
    state.ssm.init = "s4d-inv"
    assert all(np.allclose(a, b) for a, b in zip(k0, kernel_data(view)))  # hidden: not redrawn
    view.on_screen = True
    assert not all(np.allclose(a, b) for a, b in zip(k0, kernel_data(view)))
    assert "(s4d-inv)" in view.shown("kernels").opts.get().kwargs["title"]


def test_probe_arrays_are_read_when_a_probe_view_opens(state):
    state.probes_wanted = False  # e.g. the Training tab is open
    state.select_run(EXAMPLE)
    assert len(state.steps) > 1 and not state._probes  # steps from the index; no array read
    state.follow_latest = False
    state.step = state.steps[0]
    state.probes_wanted = True  # a probe view opens: the chosen step's probes are read and shown
    assert state.data["kernels"].attrs["step"] == state.steps[0]


def test_a_run_rebuilds_the_trajectories_in_a_fixed_pane(state):
    """The z-plane figures keep a fixed square frame in a fixed-size pane; a run's pole trajectories
    replace the preview's placeholder with a new plot (another structure), in the same pane."""
    view = SpectrumView(state)
    panes = dict(view._panes)
    assert panes["poles"].sizing_mode == panes["trajectories"].sizing_mode == "fixed"
    assert panes["eigen"].sizing_mode == "stretch_width"
    before = panes["trajectories"].object
    state.select_run(EXAMPLE)
    assert view._panes["trajectories"] is panes["trajectories"] and panes["trajectories"].object is not before
    assert len(values(view.shown("trajectories"), hv.Points, "Re")[0]) > 0


@pytest.mark.slow  # builds the whole app and reads every probe step of the example run
def test_header_scrubber_moves_every_probe_view(state):
    """The header's scrubber offers the open run's probe steps; moving it changes what the probe
    views draw, moves the Training slider, and stops following the live end."""
    from apps.app import App

    app = App(state)
    scrubber, training = app.scrubber, app.training
    assert not scrubber.row.visible  # the preview has no steps to scrub
    state.select_run(EXAMPLE)
    assert scrubber.row.visible and list(scrubber.slider.options) == state.steps
    assert scrubber.slider.value == state.steps[-1] and scrubber.follow.value
    before = {"kernels": kernel_data(app.kernels), "spectrum": app.spectrum.dataset()}
    scrubber.slider.value = state.steps[1]  # what the browser sends during a drag
    assert state.step == state.steps[1] and state.shown_step == state.steps[1]
    assert not state.follow_latest and not scrubber.follow.value and training.slider.value == state.steps[1]
    assert not np.allclose(kernel_data(app.kernels)[0], before["kernels"][0])
    assert app.spectrum.dataset().attrs["step"] == state.steps[1] != before["spectrum"].attrs["step"]
    training._choose(state.steps[-1])  # the Training slider's choice moves the scrubber back
    assert scrubber.slider.value == state.steps[-1]
