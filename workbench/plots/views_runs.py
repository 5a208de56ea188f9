"""Dashboard figures comparing runs: one probe curve per run, coloured by the group it belongs to."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401
import numpy as np
import xarray as xr

from workbench.plots.lti import OKABE_ITO
from workbench.plots.style import SIZE as _SIZE, log_ticks
from workbench.plots.views_spectrum import empty

CURVES = {"memory": "memory function (mean over channels)", "kernels": "mean |K[ℓ]| over channels"}


def probe_curve(ds: xr.Dataset | None, kind: str) -> xr.DataArray | None:
    """A run's probe at its last recorded step, reduced to one curve over `lag` for comparison:
    the memory function (ρ or the gradient norm) or the mean |K| over layers and channels."""
    if ds is None or "lag" not in ds.dims:
        return None
    if "step" in ds.dims:
        ds = ds.isel(step=-1)
    var = {"kernels": "K"}.get(kind) or next((v for v in ("rho", "grad_norm") if v in ds), None)
    if var is None or var not in ds:
        return None
    da = abs(ds[var]) if kind == "kernels" else ds[var]
    return da.mean([d for d in da.dims if d != "lag"]) if da.ndim > 1 else da


def grouped_curves_view(
    curves: list[tuple[str, object, xr.DataArray]],
    field: str,
    kind: str = "memory",
    logx: bool = True,
    logy: bool = True,
) -> hv.Overlay:
    """(run label, group value, curve over lag) per run; one colour and one legend entry per group."""
    title = f"{CURVES.get(kind, kind)} by {field}"
    groups = sorted({str(g) for _, g, _ in curves})
    items, seen = [], set()
    for label, group, da in curves:
        x, y = da["lag"].values.astype(float), da.values.astype(float)
        keep = np.isfinite(y) & ((y > 0) if logy else True) & ((x > 0) if logx else True)
        g = str(group)
        # one legend entry per group: later runs of a group are drawn unlabelled in its colour
        items.append(
            hv.Curve(
                (x[keep], y[keep]),
                hv.Dimension("lag", label="lag ℓ (steps)"),
                "value",
                label=f"{field} = {g}" if g not in seen else "",
            ).opts(
                color=OKABE_ITO[groups.index(g) % len(OKABE_ITO)],
                line_width=1.8,
                alpha=0.85,
                tools=["hover"],
                backend="bokeh",
            )
        )
        seen.add(g)
    if not items:
        return empty(title, "no such probe in these runs")
    xs = np.concatenate([c.dimension_values(0) for c in items])
    ticks = {"xticks": log_ticks(xs.min(), xs.max())} if logx and len(xs) and xs.min() > 0 else {}
    return (
        hv.Overlay(items)
        .opts(**ticks)
        .opts(title=title, logx=logx, logy=logy, legend_position="right", backend="bokeh", **_SIZE)
    )


def group_band_view(ds: xr.Dataset, logy: bool = False, field: str = "group") -> hv.Overlay:
    """`analysis.compare.group_curves`: per group, the mean over its runs as a line and ± one
    standard deviation as a translucent band; the legend gives the group and its number of runs."""
    name = ds.attrs.get("metric", "value")
    title = f"{name}: mean ± std over runs, by {field}"
    items = []
    for i, g in enumerate(ds.group.values):
        d = ds.sel(group=g)
        keep = np.isfinite(d["mean"].values)
        if not keep.any():
            continue
        s, m, sd = d.step.values[keep], d["mean"].values[keep], d["std"].values[keep]
        color, n = OKABE_ITO[i % len(OKABE_ITO)], int(d["n"])
        y = hv.Dimension(name.replace("/", "_"), label=name)
        items.append(hv.Spread((s, m, sd), "step", [y, "std"]).opts(color=color, alpha=0.2, line_alpha=0))
        items.append(
            hv.Curve((s, m), "step", y, label=f"{field} = {g} (n={n})").opts(color=color, line_width=2, tools=["hover"])
        )
    if not items:
        return empty(title, "tick runs in the table")
    return hv.Overlay(items).opts(title=title, logy=logy, legend_position="right", backend="bokeh", **_SIZE)


def final_vs_field_view(ds: xr.Dataset) -> hv.Overlay:
    """`analysis.compare.final_by_field`: the final metric's mean over runs against the field's
    value, with ± one standard deviation as error bars (numeric fields on a numeric axis)."""
    field, metric = ds.attrs.get("field", "field"), ds.attrs.get("metric", "metric")
    title = f"final {metric} against {field}"
    if not ds.sizes.get("value"):
        return empty(title, "no finished run has this metric")
    x = ds.value.values if ds.attrs.get("numeric") else ds.value.values.astype(str)
    xdim, ydim = (
        hv.Dimension(field.replace(".", "_"), label=field),
        hv.Dimension(metric.replace("/", "_"), label=metric),
    )
    m, sd, n = ds["mean"].values, ds["std"].values, ds["n"].values
    points = hv.Scatter((x, m, n), xdim, [ydim, "runs"]).opts(
        color=OKABE_ITO[0], size=9, tools=["hover"], backend="bokeh"
    )
    bars = hv.ErrorBars((x, m, sd), xdim, [ydim, "std"]).opts(color=OKABE_ITO[0], line_width=1.5, backend="bokeh")
    numeric = bool(ds.attrs.get("numeric")) and len(x) > 1 and np.all(np.asarray(x, float) > 0)
    logx = numeric and float(np.max(x)) / float(np.min(x)) >= 16  # widths and state sizes span decades
    return (bars * points).opts(title=title, logx=logx, padding=0.1, backend="bokeh", **_SIZE)
