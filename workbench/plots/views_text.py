"""Figures of a model read on a text (`analysis.text`, `text_attention`, `delta_audit`): token
axes carry the words (tick labels from the Dataset's `token` coordinate)."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401
import holoviews.plotting.mpl  # noqa: F401  PNG/SVG/PDF export draws with matplotlib
import numpy as np
import xarray as xr

from workbench.plots.lti import CMAP, OKABE_ITO
from workbench.plots.views_spectrum import empty

_SIZE = dict(responsive=True, min_height=300, show_grid=True)
MAX_TICKS = 48  # beyond this every k-th word is labelled


def _print(obj, title: str, xticks=None, yticks=None, image: bool = False, wide: bool = True):
    """The matplotlib side (export to PNG/SVG/PDF): title, word ticks, colour bar for images."""
    o = dict(title=title, fig_inches=(9 if wide else 6, 4.5 if wide else 5.5), fontsize={"title": 11, "xticks": 7})
    if xticks:
        o.update(xticks=xticks, xrotation=60)
    if yticks:
        o["yticks"] = yticks
    if image:
        o.update(cmap=CMAP, colorbar=True, invert_yaxis=True, aspect="auto")
    if isinstance(obj, hv.Overlay):
        o.pop("colorbar", None), o.pop("cmap", None), o.pop("invert_yaxis", None)
        obj = obj.map(lambda el: el.opts(cmap=CMAP, colorbar=True, backend="matplotlib"), hv.Image)
    return obj.opts(**o, backend="matplotlib")


def word_ticks(words) -> list[tuple[int, str]]:
    """(position, word) tick pairs, thinned to at most MAX_TICKS; blanks shown as '␣'."""
    words = [str(w) for w in words]
    step = max(1, int(np.ceil(len(words) / MAX_TICKS)))
    return [(i, (w.strip() or "␣")[:14]) for i, w in enumerate(words) if i % step == 0]


def _words(ds: xr.Dataset, coord: str = "token") -> list[str]:
    return list(ds[coord].values) if coord in ds.coords else []


def delta_text_view(ds: xr.Dataset | None, layer: int = 0, var: str = "delta", max_rows: int = 256) -> hv.Image:
    """Δ_t (or the gate) of one layer: channels (heads) × tokens, the words on the x axis."""
    title = {"delta": "Δ_t", "gate": "gate SiLU(z_t)"}.get(var, var)
    if ds is None or var not in ds:
        return empty(title)
    da = ds[var].sel(layer=layer) if layer in ds["layer"].values else ds[var].isel(layer=0)
    rows = da.dims[0]
    if da.sizes[rows] > max_rows:  # a 1,536-channel layer: an evenly spaced subset keeps the image legible
        da = da.isel({rows: np.linspace(0, da.sizes[rows] - 1, max_rows).round().astype(int)})
    z = da.transpose(rows, "position").values.astype(float)
    xs, ys = da["position"].values.astype(float), np.arange(z.shape[0], dtype=float)
    label = ds[var].attrs.get("long_name", var)
    title = f"{title}, layer {layer} ({rows}s × tokens)"
    img = hv.Image(
        (xs, ys, z),
        kdims=[hv.Dimension("position", label="token"), hv.Dimension(rows)],
        vdims=[hv.Dimension("value", label=label)],
    ).opts(
        cmap=CMAP,
        colorbar=True,
        tools=["hover"],
        invert_yaxis=True,
        xticks=word_ticks(_words(ds)),
        xrotation=60,
        title=title,
        backend="bokeh",
        **_SIZE,
    )
    return _print(img, title, word_ticks(_words(ds)), image=True)


def norms_text_view(ds: xr.Dataset | None, var: str = "state_norm") -> hv.Overlay:
    """‖h_t‖ (or ‖B_t‖, ‖C_t‖) per layer over the text."""
    if ds is None or var not in ds:
        return empty(var)
    curves = [
        hv.Curve(
            (ds["position"].values, ds[var].sel(layer=lay).values), "position", var, label=f"layer {int(lay)}"
        ).opts(color=OKABE_ITO[i % len(OKABE_ITO)], backend="bokeh")
        for i, lay in enumerate(ds["layer"].values)
    ]
    title = f"{ds[var].attrs.get('long_name', var)} per layer over the text"
    ov = hv.Overlay(curves).opts(
        title=title,
        xticks=word_ticks(_words(ds)),
        xrotation=60,
        logy=True,
        show_legend=len(curves) <= 8,
        legend_position="top_left",
        backend="bokeh",
        **_SIZE,
    )
    return _print(ov.opts(logy=True, show_legend=len(curves) <= 8, backend="matplotlib"), title, word_ticks(_words(ds)))


def attention_text_view(ds: xr.Dataset | None, var: str = "alpha_row") -> hv.Image:
    """α (target × source) with words on both axes."""
    if ds is None or var not in ds:
        return empty("Hidden attention")
    a = ds[var].values.astype(float)
    L = a.shape[0]
    ticks = word_ticks(list(ds["source_token"].values))
    who = (
        "all channels"
        if var.endswith("mean")
        else f"{ds.attrs.get('channel_kind', 'channel')} {ds.attrs.get('channel', 0)}"
    )
    title = f"Hidden attention, layer {ds.attrs.get('layer', 0)}, {who}"
    img = hv.Image(
        (np.arange(L, dtype=float), np.arange(L, dtype=float), a),
        kdims=["source", "target"],
        vdims=[hv.Dimension("alpha", label=ds[var].attrs.get("long_name", var))],
    ).opts(
        cmap=CMAP,
        colorbar=True,
        tools=["hover"],
        invert_yaxis=True,
        xticks=ticks,
        yticks=ticks,
        xrotation=60,
        title=title,
        backend="bokeh",
        **_SIZE,
    )
    return _print(img, title, ticks, ticks, image=True, wide=False)


def memory_text_view(ds: xr.Dataset | None) -> hv.Overlay:
    """Channels per log10 t½ bin, per layer (rows), with the text length marked: right of it is global."""
    if ds is None or "half_life_histogram" not in ds:
        return empty("Effective memory")
    h = ds["half_life_histogram"]
    img = hv.Image(
        (h["log10_half_life"].values, ds["layer"].values.astype(float), h.values.astype(float)),
        kdims=[hv.Dimension("log10_half_life", label="log₁₀ t½ (tokens)"), "layer"],
        vdims=["channels"],
    ).opts(cmap=CMAP, colorbar=True, tools=["hover"], backend="bokeh")
    L = float(ds.attrs.get("text_length", 1))
    line = hv.VLine(np.log10(L)).opts(color="red", line_dash="dashed", backend="bokeh")
    n_g = int(ds["n_global"].sum())
    title = f"Half-life on this text per layer: {n_g} global channels (t½ ≥ {int(L)} tokens)"
    return _print((img * line).opts(title=title, backend="bokeh", **_SIZE), title, image=True)


def loss_text_view(ds: xr.Dataset | None) -> hv.Overlay:
    """Per-token loss along the text, and its mean in log-spaced position bins."""
    if ds is None or "loss" not in ds:
        return empty("Per-token loss")
    pos = ds["position"].values
    tok = hv.Curve(
        (pos, ds["loss"].values), "position", hv.Dimension("loss", label="loss (nats)"), label="per token"
    ).opts(color=OKABE_ITO[0], alpha=0.6, backend="bokeh")
    binned = hv.Curve(
        (ds["bin_start"].values, ds["loss_by_position"].values), "position", "loss", label="bin mean"
    ).opts(color="black", line_width=2, interpolation="steps-post", backend="bokeh")
    title = f"Next-token loss (mean {ds.attrs.get('mean_loss', float('nan')):.3f} nats)"
    ov = (tok * binned).opts(
        title=title, xticks=word_ticks(_words(ds)), xrotation=60, legend_position="top_right", backend="bokeh", **_SIZE
    )
    return _print(ov, title, word_ticks(_words(ds)))


def audit_text_view(ds: xr.Dataset | None) -> hv.Overlay:
    """Δ at rest: channels per log10 Δ bin per layer, with the configured [dt_min, dt_max] marked."""
    if ds is None or "dt_histogram" not in ds:
        return empty("Δ audit")
    h = ds["dt_histogram"]
    img = hv.Image(
        (h["log10_dt"].values, ds["layer"].values.astype(float), h.values.astype(float)),
        kdims=[hv.Dimension("log10_dt", label="log₁₀ Δ at rest"), "layer"],
        vdims=["channels"],
    ).opts(cmap=CMAP, colorbar=True, tools=["hover"], backend="bokeh")
    lo, hi = float(ds.attrs["claimed_min"]), float(ds.attrs["claimed_max"])
    lines = [hv.VLine(np.log10(v)).opts(color="red", line_dash="dashed", backend="bokeh") for v in (lo, hi)]
    title = f"Δ audit: {ds.attrs.get('verdict')} with the config's [{lo:g}, {hi:g}]"
    return _print(hv.Overlay([img] + lines).opts(title=title, backend="bokeh", **_SIZE), title, image=True)
