"""Kernel, pole and eigenvalue figures of one LTI layer, from `workbench.analysis.lti` Datasets.

Builders take a Dataset and return a HoloViews object; they hold no state, so a view can call
them from a `DynamicMap` callback on every new Dataset and Bokeh updates the sources in place.
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  registers the Bokeh options below, no hv.extension needed
import numpy as np
import xarray as xr

from workbench.plots.style import SIZE as _SIZE

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
CMAP = "cividis"  # continuous: perceptually uniform and colour-blind safe


def default_channels(ds: xr.Dataset, n: int = 4) -> list[int]:
    """n channels spread over the layer: they have different Δ, hence different time scales."""
    H = ds.sizes["channel"]
    return sorted({int(c) for c in np.linspace(0, H - 1, min(n, H)).round()})


def kernel_plot(ds: xr.Dataset, channels=None, log_abs: bool = False) -> hv.Overlay:
    """K[ℓ] over lag ℓ for a few channels; `log_abs` shows log10|K| to expose the decay rate."""
    channels = default_channels(ds) if channels is None else [int(c) for c in channels]
    lag = ds["lag"].values
    ylabel = "log₁₀|K[ℓ]|" if log_abs else "K[ℓ]"
    curves = []
    for i, c in enumerate(channels):
        k = ds["K"].sel(channel=c).values
        if log_abs:
            # floor at the smallest double so exact zeros stay finite on the plot
            k = np.log10(np.maximum(np.abs(k), np.finfo(np.float64).tiny))
        curves.append(
            hv.Curve(
                (lag, k),
                kdims=[hv.Dimension("lag", label="lag ℓ (steps)")],
                vdims=[hv.Dimension("K", label=ylabel)],
                label=f"channel {c}",
            ).opts(color=OKABE_ITO[i % len(OKABE_ITO)], line_width=1.5, framewise=True, backend="bokeh")
        )
    title = f"Kernels ({ds.attrs.get('init', '')})".replace(" ()", "")
    return hv.Overlay(curves).opts(title=title, legend_position="right", backend="bokeh", **_SIZE)


def unit_circle(n: int = 361) -> hv.Path:
    """|z| = 1: poles inside are stable, on it they never forget, outside they blow up."""
    t = np.linspace(0, 2 * np.pi, n)
    return hv.Path([(np.cos(t), np.sin(t))], kdims=["Re", "Im"], label="unit circle").opts(
        color="gray", line_dash="dashed", line_width=1, backend="bokeh"
    )


def _points(ds: xr.Dataset, x: str, y: str, xlabel: str, ylabel: str) -> hv.Points:
    """All (channel, mode) pairs as points, coloured by channel, with Δ and t½ on hover."""
    flat = ds[[x, y, "pole_abs", "half_life"]].to_dataframe().reset_index()
    return hv.Points(
        flat,
        kdims=[hv.Dimension(x, label=xlabel), hv.Dimension(y, label=ylabel)],
        vdims=["channel", "mode", hv.Dimension("pole_abs", label="|Ā|"), hv.Dimension("half_life", label="t½ (steps)")],
    ).opts(
        color="channel",
        cmap=CMAP,
        size=4,
        alpha=0.7,
        tools=["hover"],
        colorbar=True,
        clabel="channel",
        framewise=True,
        backend="bokeh",
    )  # framewise: axes follow new data in a DynamicMap


def pole_plot(ds: xr.Dataset) -> hv.Overlay:
    """Discrete poles Ā in the complex plane with the unit circle, equal aspect."""
    pts = _points(ds, "pole_real", "pole_imag", "Re Ā", "Im Ā")
    # the circle fixes the frame to ±1.05 so a change of init does not jump the axes around
    r = max(1.05, float(ds["pole_abs"].max()) * 1.05) if ds.sizes["mode"] else 1.05
    unstable = ds.attrs.get("unstable_modes", 0)
    title = "Poles Ā" + (f" ({unstable} unstable)" if unstable else "")
    # equal limits in a fixed square frame (the colorbar sits outside it): the circle stays round;
    # a responsive plot with `aspect` squares the whole plot, colorbar included, not the frame
    return (unit_circle() * pts).opts(
        title=title,
        xlabel="Re Ā",
        ylabel="Im Ā",
        xlim=(-r, r),
        ylim=(-r, r),
        frame_width=300,
        frame_height=300,
        show_legend=False,
        show_grid=True,
        backend="bokeh",
    )


def eigenvalue_plot(ds: xr.Dataset) -> hv.Overlay:
    """Continuous eigenvalues A: stable modes lie in the left half plane Re A < 0."""
    pts = _points(ds, "A_real", "A_imag", "Re A", "Im A")
    axis = hv.VLine(0).opts(color="gray", line_dash="dashed", line_width=1, backend="bokeh")
    return (pts * axis).opts(title="Eigenvalues A (continuous)", show_legend=False, backend="bokeh", **_SIZE)
