"""Dashboard figures comparing runs: one probe curve per run, coloured by the group it belongs to."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401
import numpy as np
import xarray as xr

from workbench.plots.lti import OKABE_ITO
from workbench.plots.style import SIZE as _SIZE
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
    return hv.Overlay(items).opts(title=title, logx=logx, logy=logy, legend_position="right", backend="bokeh", **_SIZE)
