"""Dashboard figures of token dynamics (`analysis.token_dynamics`) and hidden attention."""

from __future__ import annotations

import json

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401
import numpy as np
import xarray as xr

from workbench.plots.lti import CMAP
from workbench.plots.style import SIZE as _SIZE, token_ticks
from workbench.plots.views_memory import heatmap
from workbench.plots.views_spectrum import colored_paths, empty


def _attr(ds: xr.Dataset, key: str, default=None):
    """Analysis stores lists in attrs as JSON text (netCDF-safe); read them back."""
    v = ds.attrs.get(key, default)
    if isinstance(v, str) and v[:1] in "[{":
        return json.loads(v)
    return v


def token_norms_view(ds: xr.Dataset | None, sample: int = 0, max_tokens: int = 32) -> hv.Overlay:
    """‖x‖ of each token after the encoder (depth 0) and each block: the observed regime."""
    if ds is None or "norm" not in ds:
        return empty("Token norms over depth")
    n = ds["norm"].isel(sample=min(sample, ds.sizes["sample"] - 1))
    depth = n["depth"].values
    toks = np.linspace(0, n.sizes["token"] - 1, min(max_tokens, n.sizes["token"])).round().astype(int)
    words = token_ticks(n.isel(token=toks), "token")  # a model read on a text: its words on the colour bar
    paths = token_paths(
        [(depth.astype(float), np.maximum(n.isel(token=t).values, 1e-30), int(t)) for t in toks],
        ["depth", "norm"],
        words,
    )
    mean = hv.Curve(
        (depth, np.exp(np.log(np.maximum(n.values, 1e-30)).mean(-1))), "depth", "norm", label="geometric mean"
    ).opts(color="black", line_width=2.5, backend="bokeh")
    return (paths * mean).opts(
        title="Token norms ‖x‖ over depth", logy=True, xlabel="depth (blocks)", ylabel="‖x‖", backend="bokeh", **_SIZE
    )


def token_paths(paths: list[tuple], kdims: list[str], words) -> hv.Segments:
    """One path per token coloured by its index, with the colour bar labelled by the words when there are any."""
    return colored_paths(paths, kdims, "token").opts(
        color="token",
        cmap=CMAP,
        alpha=0.7,
        line_width=1,
        colorbar=True,
        backend="bokeh",
        **({"cticks": words} if words else {}),
    )


def token_trajectories_view(ds: xr.Dataset | None, sample: int = 0, max_tokens: int = 32) -> hv.Overlay:
    """Each token's path through depth in the 2-D PCA plane fitted over all depths."""
    if ds is None or "projection" not in ds or ds.sizes.get("component", 0) < 2:
        return empty("Token trajectories")
    p = ds["projection"].isel(sample=min(sample, ds.sizes["sample"] - 1))
    toks = np.linspace(0, p.sizes["token"] - 1, min(max_tokens, p.sizes["token"])).round().astype(int)
    words = token_ticks(p.isel(token=toks), "token")
    paths = token_paths(
        [(p.isel(token=t, component=0).values, p.isel(token=t, component=1).values, int(t)) for t in toks],
        ["pc1", "pc2"],
        words,
    )
    last = p.isel(depth=-1)
    end = hv.Points((last.isel(component=0).values, last.isel(component=1).values), ["pc1", "pc2"]).opts(
        color="black", size=3, backend="bokeh"
    )
    ev = _attr(ds, "explained_variance")
    note = f" ({100 * sum(ev[:2]):.0f}% variance)" if ev else ""
    return (paths * end).opts(title="Token trajectories (PCA, depth as time)" + note, backend="bokeh", **_SIZE)


def regime_summary(ds: xr.Dataset | None) -> str:
    """Predicted (S_Cᵀ S_B criterion, per layer) against observed regime, as Markdown."""
    if ds is None:
        return "Token dynamics are not available for this model."
    pred = _attr(ds, "predicted", [])
    pred = [pred] if isinstance(pred, str) else list(pred)
    obs = ds.attrs.get("observed", "recorded norms only")
    slope = ds.attrs.get("log_norm_slope")
    s = f" (slope of mean log‖x‖: {float(slope):+.3f}/block)" if slope is not None else ""
    outside = ds.attrs.get("outside_setting", "")
    if outside:  # the theorem does not cover this model: no prediction to contradict the observation
        return (
            f"**Outside the paper's setting** ({outside}): the S_Cᵀ S_B sign criterion predicts nothing "
            f"here · **observed**: {obs}{s}"
        )
    return f"**Predicted** per layer: {', '.join(map(str, pred)) or 'n/a'} · **observed**: {obs}{s}"


def attention_view(ds: xr.Dataset | None, channel: int = 0, minmax: bool = True, why: str = "") -> hv.Image:
    """α_ij (target × source) of one channel or head of one layer; `why`: the reason when absent."""
    if ds is None:
        return empty("Hidden attention", why or "not available for this model")
    var = "alpha_minmax" if minmax else "alpha"
    da = ds[var]
    dim = "head" if "head" in da.dims else "channel"
    da = da.isel({dim: min(channel, da.sizes[dim] - 1)})
    shown = int(da[dim]) if dim in da.coords else channel
    return heatmap(da, f"Hidden attention α ({dim} {shown})", x="source", y="target")
