"""The S4D paper's convergence claim as a figure: S4D-LegS vs LegS error against state size N."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  registers the Bokeh options below
import xarray as xr

from workbench.plots.lti import OKABE_ITO


def legs_convergence_plot(ds: xr.Dataset) -> hv.Overlay:
    """Relative transfer-function error of the diagonal restriction, log-log over N."""
    data = list(zip(ds["d_state"].values.tolist(), ds["relative_error"].values.tolist()))
    curve = hv.Curve(data, "N", "relative error").opts(color=OKABE_ITO[0], line_width=2, backend="bokeh")
    points = hv.Scatter(data, "N", "relative error").opts(color=OKABE_ITO[0], size=8, backend="bokeh")
    return (curve * points).opts(
        title=f"S4D-LegS → LegS (first {ds.attrs['n_basis']} basis functions, Re s = {ds.attrs['s_real']})",
        logx=True,
        logy=True,
        xlabel="state size N",
        ylabel="max |F_diag(s) − F_LegS(s)| / max |F_LegS|",
        responsive=True,
        min_height=300,
        show_grid=True,
        backend="bokeh",
    )
