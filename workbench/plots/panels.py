"""Publication panels of the views' quantities that `figures.py` has no builder for: half-lives,
heat maps (selective quantities, hidden attention), effective state size and state norms.

Each builder returns one panel styled by `publication.panel` for both backends, or None when its
Dataset lacks the quantity: a composite leaves such a panel out instead of drawing a message.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from workbench.plots.lti import CMAP, OKABE_ITO
from workbench.plots.publication import curve, panel

HIST_ALPHA = 0.45  # overlapping layers stay visible through each other


def half_lives(ds: xr.Dataset | None, bins: int = 30):
    """log10 t½ of every mode, t½ = ln 2 / (−ln|Ā|), one semi-transparent histogram per layer."""
    if ds is None or "pole_abs" not in ds:
        return None
    r = np.asarray(ds["pole_abs"].values, dtype=np.float64)  # (layer, channel, mode) or (channel, mode)
    if "layer" not in ds["pole_abs"].dims:
        r = r[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        half = np.where(r < 1, np.log(2) / -np.log(np.clip(r, 1e-300, None)), np.inf)
    h = np.log10(np.clip(half, 1e-3, None))
    fin = h[np.isfinite(h)]
    if not fin.size:
        return None
    edges = np.linspace(fin.min(), fin.max() + 1e-9, bins + 1)
    layers = ds["layer"].values if "layer" in ds.dims else [ds.attrs.get("layer", 0)]
    kd = hv.Dimension("log10_half_life", label="log₁₀ t½ (steps)")
    hists = []
    for i, lay in enumerate(layers):
        counts, _ = np.histogram(h[i][np.isfinite(h[i])], edges)
        c = OKABE_ITO[i % len(OKABE_ITO)]
        hists.append(
            hv.Histogram(
                (edges, counts), kdims=[kd], vdims=[hv.Dimension("modes", label="modes")], label=f"layer {lay}"
            )
            .opts(fill_color=c, fill_alpha=HIST_ALPHA, line_color=c, backend="bokeh")
            .opts(facecolor=c, alpha=HIST_ALPHA, edgecolor=c, linewidth=1, backend="matplotlib")
        )
    growing = int((~(r < 1)).sum())
    title = "Half-lives t½ per layer" + (f" ({growing} with |Ā| ≥ 1 left out)" if growing else "")
    return panel(hv.Overlay(hists), title, kd.label, "modes (count)")


def _integer_ticks(plot, element) -> None:
    """matplotlib hook: positions, channels and heads are integers (no 2.5 on a heat map's axes)."""
    from matplotlib.ticker import MaxNLocator

    ax = plot.handles["axis"]
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))


def heat(da: xr.DataArray | None, title: str, x: str, y: str, zlabel: str, xlabel: str, ylabel: str, log=False):
    """A (y × x) DataArray as an image with a colour bar; `log`: colours on a log scale."""
    if da is None:
        return None
    z = np.asarray(da.transpose(y, x).values, dtype=np.float64)  # (y, x)
    if log:
        z = np.where(z > 0, z, np.nan)
        if not np.isfinite(z).any():
            return None
    img = hv.Image(
        (da[x].values.astype(float), da[y].values.astype(float), z),
        kdims=[hv.Dimension(x, label=xlabel), hv.Dimension(y, label=ylabel)],
        vdims=[hv.Dimension("z", label=zlabel)],
    )
    img = img.opts(cmap=CMAP, colorbar=True, logz=log, backend="bokeh").opts(
        cmap=CMAP, colorbar=True, logz=log, clabel=zlabel, hooks=[_integer_ticks], backend="matplotlib"
    )
    return panel(img, title, xlabel, ylabel, legend=None, grid=False, invert_yaxis=True)


SELECTIVE = {  # variable: (title, colour-bar label, log colours)
    "delta": ("Step size Δ_t", "Δ_t", True),
    "decay_to_end": ("Decay from token t to the end", "mean Π|Ā_k| over k > t", True),
    "forget_gate": ("Forget gate σ(f̃_t)", "σ(f̃_t)", False),
    "input_gate": ("Input gate ĩ_t", "ĩ_t", False),
    "alpha": ("Gate α_t", "α_t", False),
    "a": ("Decay a_t", "a_t", False),
    "beta": ("Writing strength β_t", "β_t", False),
    "state_norm": ("State norm ‖S_t‖_F", "‖S_t‖_F", True),
    "recurrence_gate": ("Recurrence gate r_t", "r_t", False),
}


def selective(ds: xr.Dataset | None, var: str, sample: int = 0):
    """One selective quantity of one layer over (token, channel|head) on one sample."""
    if ds is None or var not in ds:
        return None
    da = ds[var]
    if "sample" in da.dims:
        da = da.isel(sample=min(sample, da.sizes["sample"] - 1))
    other = next(d for d in da.dims if d != "token")
    title, zlabel, log = SELECTIVE.get(var, (var, var, False))
    return heat(da, title, "token", other, zlabel, "token t (position)", other, log=log)


def attention(ds: xr.Dataset | None, channel: int = 0):
    """Hidden attention |α_ij| rescaled to [0, 1] (target × source) of one channel or head."""
    if ds is None or "alpha_minmax" not in ds:
        return None
    da = ds["alpha_minmax"]
    dim = "head" if "head" in da.dims else "channel"
    c = min(int(channel), da.sizes[dim] - 1)
    da = da.isel({dim: c})
    return heat(da, f"Hidden attention ({dim} {c})", "source", "target", "|α_ij| (min-max)", "source j", "target i")


def _group(da: xr.DataArray) -> str:
    return next(d for d in da.dims if d not in ("layer", "sample", "position"))


def ess(ds: xr.Dataset | None):
    """ESS_i, the rank of T[i:, :i], mean over channels|heads, and the bound min(i, L − i)."""
    if ds is None or "ess" not in ds:
        return None
    da = ds["ess"].isel(layer=0) if "layer" in ds["ess"].dims else ds["ess"]
    g = _group(da)
    pos = ds["position"].values
    flat = da.transpose("position", ...).values.reshape(len(pos), -1)  # (P, samples × groups)
    L = int(pos.max()) + 1
    kd, vd = hv.Dimension("position", label="position i"), hv.Dimension("ESS", label="ESS_i (rank)")
    parts = [
        curve(pos, flat.mean(1), f"mean over {g}s", 0, kd, vd, dash=0),
        curve(pos, flat.max(1), f"max over {g}s", 2, kd, vd, dash=2, width=1.2),
        curve(pos, np.minimum(pos, L - pos), "min(i, L − i)", 7, kd, vd, dash=1, width=1),
    ]
    return panel(hv.Overlay(parts), "Effective state size", "position i (token)", "ESS_i (rank)")


def state_norms(ds: xr.Dataset | None, max_lines: int = 4):
    """‖h_t‖ against position for a few channels|heads (log scale)."""
    if ds is None or "norm" not in ds:
        return None
    da = ds["norm"].isel(layer=0) if "layer" in ds["norm"].dims else ds["norm"]
    da = da.isel(sample=0) if "sample" in da.dims else da
    g = _group(da)
    idx = np.unique(np.linspace(0, da.sizes[g] - 1, min(max_lines, da.sizes[g])).round().astype(int))
    pos = da["position"].values
    kd, vd = hv.Dimension("position", label="position t"), hv.Dimension("h", label="‖h_t‖")
    lines = [
        curve(pos, np.where(v > 0, v, np.nan), f"{g} {i}", k, kd, vd, dash=k)
        for k, i in enumerate(idx)
        for v in [da.isel({g: int(i)}).values]
    ]
    return panel(hv.Overlay(lines), "State norm ‖h_t‖", "position t (token)", "‖h_t‖ (log scale)", logy=True)
