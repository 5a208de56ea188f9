"""Dashboard figures of kernels and spectra: one layer of `analysis.kernels/spectrum/frequency_response`.

Builders take the Dataset of one layer (no `layer` dim; `head` is renamed to `channel` so Mamba-2
draws like the rest) and return HoloViews objects; they hold no state.
"""

from __future__ import annotations

import json

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  registers the Bokeh options below
import numpy as np
import xarray as xr

from workbench.plots.lti import OKABE_ITO, _points, default_channels, kernel_plot, unit_circle
from workbench.plots.style import SIZE as _SIZE

_SQUARE = dict(frame_width=300, frame_height=300)  # the z-plane figures: a circle stays a circle
RINGS = (10, 100, 1000)  # half-lives (steps) drawn as circles |z| = 2^(-1/t½)


def as_channels(ds: xr.Dataset) -> xr.Dataset:
    """Mamba-2 and mLSTM index their modes by head; draw heads as channels."""
    return ds.rename({"head": "channel"}) if "head" in ds.dims else ds


def empty(title: str, why: str = "not available for this model", **size) -> hv.Overlay:
    """A placeholder with the reason as its title, so a layout keeps its shape. `size`: the sizing
    of the figure it stands for (a page swapping a responsive figure for a fixed one clips it)."""
    text = hv.Text(0, 0, why, fontsize=11).opts(
        text_color="#777777", text_align="center", text_baseline="middle", backend="bokeh"
    )
    return hv.Overlay([hv.Curve([], "x", "y"), text]).opts(
        title=title,
        xaxis=None,
        yaxis=None,
        xlim=(-1, 1),
        ylim=(-1, 1),
        backend="bokeh",
        **{**(size or _SIZE), "show_grid": False},
    )


def init_name(ds: xr.Dataset) -> str:
    """The SSM init of the model behind a Dataset: an attr of layer analyses, else in the run's spec."""
    if "init" in ds.attrs:
        return str(ds.attrs["init"])
    try:
        return json.loads(ds.attrs.get("spec", "{}")).get("ssm", {}).get("init", "?")
    except (TypeError, ValueError):
        return "?"


def kernel_view(
    ds: xr.Dataset | None, channels=None, log_abs: bool = False, length: int = 0, log_lag: bool = False
) -> hv.Overlay:
    """Per-channel kernels K[ℓ] of one layer (linear, or log10|K| to read decay rates); `length`:
    the first lags shown (0: all computed); `log_lag`: a log lag axis (ℓ ≥ 1: a power law is a line)."""
    if ds is None:
        return empty("Kernels")
    ds = as_channels(ds)
    if length:
        ds = ds.isel(lag=slice(0, int(length)))
    if log_lag:
        ds = ds.sel(lag=ds["lag"] >= 1)
    chans = [c for c in (channels or []) if c in ds.channel.values] or default_channels(ds)
    why = overflow_reason(ds["K"].sel(channel=chans).values, "kernel K[ℓ]")
    if why:
        return empty("Kernels", why)
    title = f"Kernels ({init_name(ds)})" + (f" at step {ds.attrs['step']}" if "step" in ds.attrs else "")
    return kernel_plot(ds, chans, log_abs=log_abs).opts(title=title, logx=log_lag, backend="bokeh")


def overflow_reason(values: np.ndarray, what: str, limit: float = 1e30) -> str:
    """Why a curve cannot be drawn ('' when it can): non-finite or astronomically large values."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    if np.isfinite(v).all() and (v.size == 0 or v.max() < limit):
        return ""
    top = "inf" if not np.isfinite(v).all() else f"{v.max():.2g}"
    return f"the {what} overflows (max {top}): poles outside the unit circle; see the stability banner"


def colored_paths(paths: list[tuple], kdims: list[str], vdim: str) -> hv.Segments:
    """Many polylines coloured by a value, as one Segments glyph: (x, y, value) per path. A
    colour-mapped hv.Path draws each path as its own glyph, 20x slower for 32 paths."""
    parts = [np.column_stack([x[:-1], y[:-1], x[1:], y[1:], np.full(len(x) - 1, v)]) for x, y, v in paths if len(x) > 1]
    arr = np.concatenate(parts) if parts else np.zeros((0, 5))
    x0, y0 = kdims
    return hv.Segments(arr, kdims=[x0, y0, f"{x0}_end", f"{y0}_end"], vdims=[vdim])


def half_life_rings(half_lives=RINGS) -> hv.Overlay:
    """Circles of constant half-life: a pole on the ring |z| = 2^(-1/t) halves in t steps."""
    t = np.linspace(0, 2 * np.pi, 181)
    rings = []
    for h, angle in zip(half_lives, np.linspace(np.pi / 4, np.pi / 2.4, len(half_lives))):  # labels apart
        r = 2.0 ** (-1.0 / h)
        rings.append(
            hv.Path([(r * np.cos(t), r * np.sin(t))], kdims=["Re", "Im"], label=f"t½ = {h}").opts(
                color="#BBBBBB", line_width=1, line_dash="dotted", backend="bokeh"
            )
        )
        rings.append(
            hv.Text(0.97 * r * np.cos(angle), 0.97 * r * np.sin(angle), f"t½={h}", fontsize=8).opts(
                text_color="#555555", text_align="right", text_baseline="top", backend="bokeh"
            )
        )
    return hv.Overlay(rings)


def z_radius(pole_abs: np.ndarray) -> float:
    """Half-width of a z-plane frame: the unit circle and every pole, with a 5 % margin."""
    return max(1.05, 1.05 * float(np.nanmax(pole_abs))) if pole_abs.size else 1.05


def pole_view(ds: xr.Dataset | None) -> hv.Overlay:
    """Discrete poles Ā of one layer in the z-plane with the unit circle and half-life rings."""
    if ds is None:
        return empty("Poles Ā", **_SQUARE)
    ds = as_channels(ds)
    pts = _points(ds, "pole_real", "pole_imag", "Re Ā", "Im Ā")
    r = z_radius(ds["pole_abs"].values)
    title = "Poles Ā" + (f" at step {ds.attrs['step']}" if "step" in ds.attrs else "")
    return (unit_circle() * half_life_rings() * pts).opts(
        title=title,
        xlabel="Re Ā",
        ylabel="Im Ā",
        xlim=(-r, r),
        ylim=(-r, r),
        show_legend=False,
        show_grid=True,
        backend="bokeh",
        **_SQUARE,
    )


def eigen_view(ds: xr.Dataset | None) -> hv.Overlay:
    """Continuous eigenvalues A (stable in Re A < 0)."""
    if ds is None:
        return empty("Eigenvalues A")
    pts = _points(as_channels(ds), "A_real", "A_imag", "Re A", "Im A")
    axis = hv.VLine(0).opts(color="gray", line_dash="dashed", line_width=1, backend="bokeh")
    return (pts * axis).opts(title="Eigenvalues A (continuous)", show_legend=False, backend="bokeh", **_SIZE)


def response_view(ds: xr.Dataset | None, channels=None) -> hv.Overlay:
    """Gain |H(e^{iω})| of a few channels over ω ∈ [0, π], log scale."""
    if ds is None:
        return empty("Frequency response")
    ds = as_channels(ds)
    chans = [c for c in (channels or []) if c in ds.channel.values] or default_channels(ds)
    w = ds["frequency"].values
    why = overflow_reason(ds["gain"].sel(channel=chans).values, "gain |H|")
    if why:
        return empty("Frequency response", why)
    curves = [
        hv.Curve(
            (w, np.maximum(ds["gain"].sel(channel=c).values, 1e-12)),
            kdims=[hv.Dimension("frequency", label="ω (rad/step)")],
            vdims=[hv.Dimension("gain", label="gain |H(e^iω)|")],
            label=f"channel {c}",
        ).opts(color=OKABE_ITO[i % len(OKABE_ITO)], line_width=1.5, backend="bokeh")
        for i, c in enumerate(chans)
    ]
    return hv.Overlay(curves).opts(
        title="Frequency response", logy=True, legend_position="right", backend="bokeh", **_SIZE
    )


def pole_trajectory_view(ds: xr.Dataset | None, max_paths: int = 96) -> hv.Overlay:
    """Poles over training steps (spectrum probe of one layer, dims step × channel × mode): a
    path per pole, each segment coloured by the step it ends at (colour bar), hollow circles at
    the first recorded step and filled points at the last, so the direction of motion reads."""
    if ds is None or "step" not in ds.dims or ds.sizes["step"] < 1:
        return empty("Pole trajectories", "select a run with spectrum probes", **_SQUARE)
    ds = as_channels(ds)
    pairs = [(c, m) for c in ds.channel.values for m in ds["mode"].values]
    keep = [pairs[i] for i in np.linspace(0, len(pairs) - 1, min(max_paths, len(pairs))).round().astype(int)]
    re, im = ds["pole_real"], ds["pole_imag"]
    steps = ds["step"].values
    parts = []
    for c, m in keep:
        x, y = re.sel(channel=c, mode=m).values, im.sel(channel=c, mode=m).values
        if len(x) > 1:  # (segments, 5): x0, y0, x1, y1, the step each segment ends at
            parts.append(np.column_stack([x[:-1], y[:-1], x[1:], y[1:], steps[1:].astype(float)]))
    arr = np.concatenate(parts) if parts else np.zeros((0, 5))
    paths = hv.Segments(arr, kdims=["Re", "Im", "Re_end", "Im_end"], vdims=[hv.Dimension("step")]).opts(
        color="step",
        cmap="viridis",
        line_width=1.5,
        alpha=0.8,
        colorbar=True,
        clim=(float(steps[0]), float(max(steps[-1], steps[0] + 1))),
        colorbar_opts={"title": "step"},
        backend="bokeh",
    )
    first, last = ds.isel(step=0), ds.isel(step=-1)
    start = hv.Points(
        (first["pole_real"].values.ravel(), first["pole_imag"].values.ravel()),
        ["Re", "Im"],
        label=f"step {int(steps[0])}",
    ).opts(color="white", line_color="black", size=5, backend="bokeh")
    end = hv.Points(
        (last["pole_real"].values.ravel(), last["pole_imag"].values.ravel()),
        ["Re", "Im"],
        label=f"step {int(steps[-1])}",
    ).opts(color="black", size=4, backend="bokeh")
    r = z_radius(np.hypot(re.values, im.values))
    return (unit_circle() * paths * start * end).opts(
        title=f"Pole trajectories, steps {int(steps[0])}–{int(steps[-1])} (○ first, ● last)",
        xlabel="Re Ā",
        ylabel="Im Ā",
        xlim=(-r, r),
        ylim=(-r, r),
        **_SQUARE,
        show_legend=False,
        show_grid=True,
        backend="bokeh",
    )
