"""workbench.plots: the figures hold exactly the data of the Datasets they are built from."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

import workbench
from workbench.analysis import layer_kernels, layer_spectrum
from workbench.plots import OKABE_ITO, eigenvalue_plot, kernel_plot, pole_plot


@pytest.fixture(scope="module")
def layer_data():
    spec = workbench.SSMSpec(init="s4d-lin", d_state=16)
    layer = workbench.build_layer(spec, 8)
    return layer_kernels(layer, 64, spec=spec), layer_spectrum(layer, spec=spec)


def _elements(overlay, kind):
    return [el for el in overlay if isinstance(el, kind)]


def _plot_opts(obj) -> dict:
    return hv.Store.lookup_options("bokeh", obj, "plot").kwargs


def test_kernel_plot_curves_equal_K(layer_data):
    ds, _ = layer_data
    fig = kernel_plot(ds, channels=[1, 5])
    curves = _elements(fig, hv.Curve)
    assert [c.label for c in curves] == ["channel 1", "channel 5"]
    for c, ch in zip(curves, [1, 5]):
        np.testing.assert_array_equal(c.dimension_values("lag"), ds.lag.values)
        np.testing.assert_array_equal(c.dimension_values("K"), ds.K.sel(channel=ch).values)
    assert curves[0].kdims[0].label == "lag ℓ (steps)" and curves[0].vdims[0].label == "K[ℓ]"
    colours = [hv.Store.lookup_options("bokeh", c, "style").kwargs["color"] for c in curves]
    assert colours == OKABE_ITO[:2]
    assert "s4d-lin" in _plot_opts(fig)["title"]


def test_kernel_plot_log_abs_and_default_channels(layer_data):
    ds, _ = layer_data
    fig = kernel_plot(ds, log_abs=True)
    curves = _elements(fig, hv.Curve)
    assert [c.label for c in curves] == ["channel 0", "channel 2", "channel 5", "channel 7"]
    np.testing.assert_allclose(curves[0].dimension_values("K"), np.log10(np.abs(ds.K.sel(channel=0).values)))
    assert curves[0].vdims[0].label == "log₁₀|K[ℓ]|"
    zero = kernel_plot(ds * 0, channels=[0], log_abs=True)  # exact zeros stay finite
    assert np.isfinite(_elements(zero, hv.Curve)[0].dimension_values("K")).all()


def test_pole_plot_has_unit_circle_and_all_poles(layer_data):
    _, sp = layer_data
    fig = pole_plot(sp)
    (circle,) = _elements(fig, hv.Path)
    xy = circle.array()
    np.testing.assert_allclose(np.hypot(xy[:, 0], xy[:, 1]), 1.0)
    (pts,) = _elements(fig, hv.Points)
    np.testing.assert_allclose(np.sort(pts.dimension_values("pole_real")), np.sort(sp.pole_real.values.ravel()))
    np.testing.assert_allclose(np.sort(pts.dimension_values("pole_imag")), np.sort(sp.pole_imag.values.ravel()))
    assert len(pts) == sp.sizes["channel"] * sp.sizes["mode"]
    opts = _plot_opts(fig)
    assert opts["xlim"] == opts["ylim"] and opts["frame_width"] == opts["frame_height"]  # equal aspect
    assert (opts["xlabel"], opts["ylabel"]) == ("Re Ā", "Im Ā")


def test_pole_plot_title_counts_unstable_modes(layer_data):
    _, sp = layer_data
    bad = sp.assign_attrs(unstable_modes=3)
    assert _plot_opts(pole_plot(bad))["title"] == "Poles Ā (3 unstable)"
    assert _plot_opts(pole_plot(sp))["title"] == "Poles Ā"


def test_eigenvalue_plot_left_half_plane(layer_data):
    _, sp = layer_data
    fig = eigenvalue_plot(sp)
    (pts,) = _elements(fig, hv.Points)
    np.testing.assert_allclose(np.sort(pts.dimension_values("A_real")), np.sort(sp.A_real.values.ravel()))
    assert (pts.dimension_values("A_real") < 0).all()  # S4D-Lin is stable
    assert pts.kdims[0].label == "Re A" and pts.kdims[1].label == "Im A"
    (axis,) = _elements(fig, hv.VLine)
    assert axis.data == 0


def test_figures_render_with_bokeh(layer_data):
    ds, sp = layer_data
    for fig in (kernel_plot(ds), kernel_plot(ds, log_abs=True), pole_plot(sp), eigenvalue_plot(sp)):
        assert hv.render(fig, backend="bokeh") is not None


def test_legs_convergence_figure_renders_png(tmp_path):
    import holoviews as hv

    from workbench.analysis import legs_convergence
    from workbench.plots import legs_convergence_plot

    ds = legs_convergence(sizes=(16, 32, 64))
    fig = legs_convergence_plot(ds)
    curve = fig.Curve.I
    assert list(curve.dimension_values(1)) == list(ds.relative_error.values)
    hv.extension("matplotlib")
    try:
        path = tmp_path / "legs.png"
        hv.save(fig, path, backend="matplotlib")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    finally:
        hv.Store.set_current_backend("bokeh")


def test_pole_trajectories_frame_the_whole_circle(layer_data):
    """Paths drawn from poles near Re = 1 must not decide the axes: the frame holds |z| <= 1 and beyond."""
    import xarray as xr

    from workbench.plots.views_spectrum import pole_trajectory_view

    _, sp = layer_data
    steps = xr.DataArray([0, 10, 20], dims="step", name="step")
    drift = xr.DataArray([1.0, 0.99, 1.01], dims="step")  # poles move a little, one step beyond the circle
    ds = xr.Dataset({"pole_real": sp.pole_real * drift, "pole_imag": sp.pole_imag * drift}).assign_coords(step=steps)
    fig = pole_trajectory_view(ds)
    opts = _plot_opts(fig)
    r = 1.05 * float(np.hypot(ds.pole_real, ds.pole_imag).max())
    assert opts["xlim"] == opts["ylim"] == (-max(1.05, r), max(1.05, r))
    plot = hv.render(fig, backend="bokeh")
    assert plot.x_range.start <= -1 and plot.x_range.end >= max(1, r / 1.05)
