"""Dashboard figures of memory use: effective state size and state norms against position, and
accuracy against sequence length for several runs.

Inputs: `analysis.effective_state_size`, `state_norms` and `position_loss` Datasets (the
last as stored with a run by `workbench eval`). A Dataset may hold one layer (the view's
`layer` already selected) or all of them.
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh
import numpy as np
import xarray as xr

from workbench.plots.lti import OKABE_ITO
from workbench.plots.style import word_axes
from workbench.plots.views_spectrum import empty

_SIZE = dict(responsive=True, min_height=300, show_grid=True)


def _group_dim(da: xr.DataArray) -> str:
    return next(d for d in da.dims if d not in ("layer", "sample", "position"))


def ess_view(ds: xr.Dataset | None) -> hv.Overlay:
    """ESS_i (mean and range over channels|heads and samples) and the bound min(i, L − i)."""
    if ds is None or "ess" not in ds:
        return empty("Effective state size")
    da = ds["ess"]
    if "layer" in da.dims:
        da = da.isel(layer=0)
    g = _group_dim(da)
    pos = ds["position"].values
    flat = da.transpose("position", ...).values.reshape(len(pos), -1)  # (P, samples × groups)
    L = int(pos.max()) + 1
    parts = [
        hv.Area((pos, flat.min(1), flat.max(1)), "position", ["lo", "hi"], label=f"range over {g}s").opts(
            alpha=0.25, color=OKABE_ITO[0], backend="bokeh"
        ),
        hv.Curve((pos, flat.mean(1)), "position", "ESS", label=f"mean over {g}s").opts(
            color=OKABE_ITO[0], line_width=2, tools=["hover"], backend="bokeh"
        ),
        hv.Curve((pos, np.minimum(pos, L - pos)), "position", "ESS", label="min(i, L − i)").opts(
            color="gray", line_dash="dashed", backend="bokeh"
        ),
    ]
    n = int(ds["state_size"].values.ravel()[0]) if "state_size" in ds else -1
    if n > 0:
        parts.append(hv.HLine(n, label="state size").opts(color=OKABE_ITO[1], line_dash="dotted", backend="bokeh"))
    tol = ds.attrs.get("tol", "?")
    return hv.Overlay(parts).opts(
        title=f"Effective state size: rank of T[i:, :i] (tol {tol})",
        legend_position="right",
        backend="bokeh",
        **_SIZE,
        **word_axes(ds, "position"),
    )


def state_norms_view(ds: xr.Dataset | None, max_lines: int = 8) -> hv.Overlay:
    """‖h_t‖ against position for a few channels|heads of one layer (log y)."""
    if ds is None or "norm" not in ds:
        return empty("State norms")
    da = ds["norm"]
    if "layer" in da.dims:
        da = da.isel(layer=0)
    da = da.isel(sample=0) if "sample" in da.dims else da
    g = _group_dim(da)
    idx = np.unique(np.linspace(0, da.sizes[g] - 1, min(max_lines, da.sizes[g])).astype(int))
    pos = da["position"].values
    curves = [
        hv.Curve(
            (pos, np.maximum(da.isel({g: int(i)}).values, 1e-30)), "position", "‖h_t‖", label=f"{g} {int(i)}"
        ).opts(color=OKABE_ITO[k % len(OKABE_ITO)], logy=True, tools=["hover"], backend="bokeh")
        for k, i in enumerate(idx)
    ]
    return hv.Overlay(curves).opts(
        title="State norm against position",
        legend_position="right",
        backend="bokeh",
        **_SIZE,
        **word_axes(da, "position"),
    )


def length_curves_view(evals: dict[str, xr.Dataset]) -> hv.Overlay:
    """Accuracy (or loss, for regression tasks) against evaluated length, one line per run."""
    if not evals:
        return empty("Accuracy against length (workbench eval RUN --lengths ...)")
    curves = []
    for k, (name, ds) in enumerate(evals.items()):
        acc = ds["accuracy"].values
        y, label = (acc, "accuracy") if np.isfinite(acc).any() else (ds["loss"].values, "loss")
        color = OKABE_ITO[k % len(OKABE_ITO)]
        L = ds["length"].values
        curves += [
            hv.Curve((L, y), "length", label, label=name).opts(
                color=color, line_width=2, logx=True, tools=["hover"], backend="bokeh"
            ),
            hv.Scatter((L, y), "length", label, label=name).opts(color=color, size=6, logx=True, backend="bokeh"),
        ]
        train_L = ds.attrs.get("train_length")
        if train_L:
            curves.append(hv.VLine(float(train_L)).opts(color=color, line_dash="dotted", backend="bokeh"))
    return hv.Overlay(curves).opts(
        title="Against sequence length (dotted: training length)",
        legend_position="right",
        backend="bokeh",
        **_SIZE,
    )
