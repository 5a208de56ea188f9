"""Dashboard figures of memory: half-lives, memory function, gradient memory, heat maps.

Inputs are `analysis.spectrum`, `memory_function`, `gradient_memory` and `selective_forgetting`
Datasets (or the run probes holding the same variables at one step).
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401
import numpy as np
import xarray as xr

from workbench.plots.lti import CMAP, OKABE_ITO
from workbench.plots.style import SIZE as _SIZE, word_axes
from workbench.plots.views_spectrum import as_channels, empty


def half_life_histogram(ds: xr.Dataset | None, bins: int = 30) -> hv.Overlay:
    """Distribution of log10 t½ (steps) of every mode, one step-histogram per layer.

    t½ = ln 2 / (−ln|Ā|) from the discrete poles, so the histogram moves with the discretization
    (it equals ln 2/(Δ|Re A|) under zero-order hold only); poles with |Ā| ≥ 1 never halve and are counted apart."""
    if ds is None or ("half_life" not in ds and "pole_abs" not in ds):
        return empty("Half-lives", "no SSM poles in this model")
    ds = as_channels(ds)
    if "pole_abs" in ds:
        r = np.asarray(ds["pole_abs"].values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            half = np.where(r < 1, np.log(2) / -np.log(np.clip(r, 1e-300, None)), np.inf)
        growing = int((~(r < 1)).sum())
    else:  # an older probe without poles
        half, growing = ds["half_life"].values, 0
    h = np.log10(np.clip(half, 1e-3, None))
    fin = h[np.isfinite(h)]
    if not fin.size:
        return empty("Half-lives", f"all {growing} poles have |Ā| ≥ 1: nothing decays (unstable)")
    edges = np.linspace(fin.min(), fin.max() + 1e-9, bins + 1) if fin.size else np.linspace(0, 1, bins + 1)
    layers = ds["layer"].values if "layer" in ds.dims else [ds.attrs.get("layer", 0)]
    hists = []
    for i, lay in enumerate(layers):
        v = h[i] if "layer" in ds.dims else h
        counts, _ = np.histogram(v[np.isfinite(v)], edges)
        hists.append(
            hv.Histogram(
                (edges, counts),
                kdims=[hv.Dimension("log10_half_life", label="log₁₀ t½ (steps)")],
                vdims=[hv.Dimension("modes")],
                label=f"layer {int(lay)}",
            ).opts(
                fill_color=OKABE_ITO[i % len(OKABE_ITO)],
                fill_alpha=0.45,
                line_color=OKABE_ITO[i % len(OKABE_ITO)],
                backend="bokeh",
            )
        )
    title = "Half-lives t½ = ln 2/(−ln|Ā|) per layer" + (f" ({growing} poles |Ā| ≥ 1 left out)" if growing else "")
    return hv.Overlay(hists).opts(title=title, legend_position="right", backend="bokeh", **_SIZE)


def _loglog(lag, values, label, color, dash="solid", ylabel="ρ(t)"):
    keep = (lag > 0) & np.isfinite(values) & (values > 0)  # lag 0 carries D; zeros have no log
    return hv.Curve(
        (lag[keep], values[keep]),
        kdims=[hv.Dimension("lag", label="lag t (steps)")],
        vdims=[hv.Dimension("value", label=ylabel)],
        label=label,
    ).opts(color=color, line_width=1.5, line_dash=dash, backend="bokeh")


def memory_function_view(ds: xr.Dataset | None, max_channels: int = 4) -> hv.Overlay:
    """StableSSM memory function ρ(t) on log-log axes: a power law is a line, an exponential bends."""
    if ds is None or "rho" not in ds:  # the Heaviside input needs continuous inputs
        return empty("Memory function ρ(t)", "needs continuous inputs: for tokens, see gradient memory")
    lag = ds["lag"].values
    rho = ds["rho"].values.reshape(-1, lag.size)
    curves = [_loglog(lag, rho.mean(0), "mean over channels", "black")]
    for i, c in enumerate(np.linspace(0, rho.shape[0] - 1, min(max_channels, rho.shape[0])).round().astype(int)):
        curves.append(_loglog(lag, rho[c], f"channel {c}", OKABE_ITO[i % len(OKABE_ITO)], "dashed"))
    return hv.Overlay(curves).opts(
        title="Memory function ρ(t) (Heaviside input)",
        logx=True,
        logy=True,
        legend_position="right",
        backend="bokeh",
        **_SIZE,
    )


def gradient_memory_view(ds: xr.Dataset | None) -> hv.Overlay:
    """‖∂y_T/∂u_{T−t}‖ against lag t, log-log."""
    if ds is None or "grad_norm" not in ds:
        return empty("Gradient memory")
    lag, g = ds["lag"].values, ds["grad_norm"].values.reshape(-1, ds.sizes["lag"]).mean(0)
    curve = _loglog(lag, g, "gradient", OKABE_ITO[0], ylabel="‖∂y_T/∂u_{T−t}‖")
    return hv.Overlay([curve]).opts(
        title=f"Gradient memory ({ds.attrs.get('estimate', '')})",
        logx=True,
        logy=True,
        show_legend=False,
        backend="bokeh",
        **_SIZE,
    )


def heatmap(
    da: xr.DataArray | None, title: str, x: str = "token", y: str = "channel", log: bool = False, cmap: str = CMAP
) -> hv.Image:
    """A 2-D DataArray (y × x) as an image with hover; other dims must already be selected."""
    if da is None:
        return empty(title)
    da = da.rename({"head": "channel"}) if "head" in da.dims else da
    z = da.transpose(y, x).values.astype(float)
    if log:
        z = np.log10(np.maximum(np.abs(z), 1e-300))
    xs, ys = da[x].values.astype(float), da[y].values.astype(float)
    label = da.attrs.get("long_name", da.name or "value")
    return hv.Image(
        (xs, ys, z), kdims=[x, y], vdims=[hv.Dimension("value", label=("log₁₀ " if log else "") + label)]
    ).opts(
        cmap=cmap,
        colorbar=True,
        tools=["hover"],
        title=title,
        invert_yaxis=True,
        framewise=True,
        backend="bokeh",
        **_SIZE,
        **word_axes(da, x, y),
    )


def selective_heatmap(ds: xr.Dataset | None, var: str = "delta", sample: int = 0) -> hv.Image:
    """Δ_t (or the decay to the end, or a gate) of one layer, tokens × channels, on one sample."""
    title = {
        "delta": "Δ_t",
        "decay_to_end": "decay from token to end",
        "forget_gate": "forget gate σ(f̃_t)",
        "input_gate": "input gate ĩ_t",
        "alpha": "gate α_t",
        "beta": "writing strength β_t",
        "state_norm": "state norm ‖S_t‖_F",
        "a": "decay a_t = a^{c·r_t}",
        "recurrence_gate": "recurrence gate r_t",
    }.get(var, var)
    if ds is None or var not in ds:
        return empty(title)
    da = ds[var]
    if "sample" in da.dims:
        da = da.isel(sample=min(sample, da.sizes["sample"] - 1))
    return heatmap(da, f"{title} (tokens × channels)", log=var == "decay_to_end")
