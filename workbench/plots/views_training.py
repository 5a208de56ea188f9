"""Dashboard figures of training: metric curves with smoothing, a step marker, runs overlaid."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401
import numpy as np
import xarray as xr

from workbench.plots.lti import OKABE_ITO
from workbench.plots.style import SIZE as _SIZE, log_ticks
from workbench.plots.views_spectrum import empty


def ema(values: np.ndarray, smoothing: float) -> np.ndarray:
    """TensorBoard-style exponential moving average with bias correction; NaNs are skipped."""
    out, acc, w = np.full(values.shape, np.nan), 0.0, 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            acc, w = smoothing * acc + (1 - smoothing) * v, smoothing * w + (1 - smoothing)
        if w > 0:
            out[i] = acc / w
    return out


def _finite(step, v):
    keep = np.isfinite(v)
    return step[keep], v[keep]


def metric_view(
    metrics: xr.Dataset | None, name: str = "loss", smoothing: float = 0.6, step: int | None = None, logy: bool = False
) -> hv.Overlay:
    """One metric over steps: raw (faint), smoothed, and a vertical line at the selected step.

    Always the same three layers (empty when nothing is recorded), so a DynamicMap fed by a Pipe
    can update them in place as a live run grows."""
    have = metrics is not None and name in metrics and metrics.sizes.get("step", 0) > 0
    s, v = _finite(metrics["step"].values, metrics[name].values.astype(float)) if have else (np.zeros(0), np.zeros(0))
    kd, vd = hv.Dimension("step"), hv.Dimension("value", label=name)
    mark = hv.VLine(step if step is not None else 0).opts(
        color=OKABE_ITO[3], line_width=1.5, line_dash="dashed", alpha=1.0 if step is not None else 0.0, backend="bokeh"
    )
    title = f"{name} ({len(s)} points)" if have else f"{name}: no steps recorded yet"
    return hv.Overlay(
        [
            hv.Curve((s, v), kd, vd, label="raw").opts(color=OKABE_ITO[0], alpha=0.3, framewise=True, backend="bokeh"),
            hv.Curve((s, ema(v, smoothing) if smoothing else v), kd, vd, label="smoothed").opts(
                color=OKABE_ITO[0], line_width=2, framewise=True, backend="bokeh"
            ),
            mark,
        ]
    ).opts(title=title, logy=logy, show_legend=False, tools=["tap"], backend="bokeh", **_SIZE)


def runs_metric_view(
    metrics: dict[str, xr.Dataset], name: str = "loss", smoothing: float = 0.6, logy: bool = False
) -> hv.Overlay:
    """The same metric of several runs (label -> metrics Dataset), smoothed, overlaid."""
    curves = []
    for i, (label, m) in enumerate(metrics.items()):
        if m is None or name not in m or m.sizes.get("step", 0) == 0:
            continue
        s, v = _finite(m["step"].values, m[name].values.astype(float))
        curves.append(
            hv.Curve(
                (s, ema(v, smoothing) if smoothing else v),
                "step",
                hv.Dimension(name.replace("/", "_"), label=name),
                label=label,
            ).opts(color=OKABE_ITO[i % len(OKABE_ITO)], line_width=2, backend="bokeh")
        )
    if not curves:
        return empty(f"{name} of selected runs", "select runs in the table")
    return hv.Overlay(curves).opts(
        title=f"{name}: selected runs", logy=logy, legend_position="right", backend="bokeh", **_SIZE
    )


def runs_curve_view(
    curves: dict[str, xr.DataArray], title: str, logx: bool = True, logy: bool = True, ylabel: str = "value"
) -> hv.Overlay:
    """A 1-D probe curve (e.g. mean memory function over lag) of several runs, overlaid."""
    items = []
    for i, (label, da) in enumerate(curves.items()):
        x, y = da[da.dims[0]].values.astype(float), da.values.astype(float)
        keep = np.isfinite(y) & (y > 0 if logy else True) & (x > 0 if logx else True)
        items.append(
            hv.Curve((x[keep], y[keep]), da.dims[0], hv.Dimension("value", label=ylabel), label=label).opts(
                color=OKABE_ITO[i % len(OKABE_ITO)], line_width=2, backend="bokeh"
            )
        )
    if not items:
        return empty(title, "no probe recorded for the selected runs")
    xs, ys = (np.concatenate([c.dimension_values(i) for c in items]) for i in (0, 1))
    ticks = {"xticks": log_ticks(xs.min(), xs.max())} if logx and len(xs) and xs.min() > 0 else {}
    if logy and len(ys) and ys.min() > 0:
        ticks["yticks"] = log_ticks(ys.min(), ys.max())
    return (
        hv.Overlay(items)
        .opts(**ticks)
        .opts(title=title, logx=logx, logy=logy, legend_position="right", backend="bokeh", **_SIZE)
    )
