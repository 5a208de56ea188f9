"""Publication figures, one builder per kind, from analysis or probe Datasets.

Every builder sets options for both backends: Bokeh for the dashboard, notebooks and HTML export,
matplotlib for PNG/SVG/PDF (`export`). A probe Dataset from the store carries a leading `step`
dim; builders take `step` (None = the latest) and return one figure of that step.
"""

from __future__ import annotations

import json

import holoviews as hv
import numpy as np
import xarray as xr

from workbench.errors import SpecError
from workbench.plots.lti import CMAP, default_channels
from workbench.plots.publication import (
    broken,
    curve as _curve,
    integer_ticks,
    layout as _layout,
    panel as _panel,
    scatter as _scatter,
)

KINDS = ("kernels", "spectrum", "memory", "tokens", "training", "selective")


def at_step(ds: xr.Dataset, step=None) -> xr.Dataset:
    """One recorded step of a probe Dataset (the latest by default); others pass through."""
    if "step" not in ds.dims:
        return ds
    steps = ds["step"].values.tolist()
    if not steps:
        raise SpecError("step", step, "a recorded step (none recorded yet)")
    if step is None:
        return ds.isel(step=-1)
    if int(step) not in steps:
        shown = ", ".join(map(str, steps if len(steps) <= 12 else steps[:5] + ["..."] + steps[-5:]))
        raise SpecError("step", step, f"one of the recorded steps {shown}")
    return ds.sel(step=int(step))


def _layer(ds: xr.Dataset, layer=None) -> tuple[xr.Dataset, str]:
    if "layer" not in ds.dims:
        return ds, ""
    layer = int(ds["layer"].values[0]) if layer is None else int(layer)
    if layer not in ds["layer"].values.tolist():
        raise SpecError("layer", layer, "one of " + ", ".join(map(str, ds["layer"].values.tolist())))
    return ds.sel(layer=layer), f"layer {layer}"


def _where(*parts) -> str:
    return ", ".join(p for p in parts if p)


def _step_label(ds: xr.Dataset) -> str:
    return f"step {int(ds['step'])}" if "step" in ds.coords and ds["step"].ndim == 0 else ""


def kernels_figure(ds: xr.Dataset, channels=None, step=None, layer=None) -> hv.Layout:
    """K[ℓ] (linear) and |K[ℓ]| (log scale: the decay rate) over lag for a few channels."""
    ds = at_step(ds, step)
    ds, where = _layer(ds, layer)
    channels = default_channels(ds) if channels is None else [int(c) for c in channels]
    lag = ds["lag"].values
    kd = hv.Dimension("lag", label="lag ℓ (steps)")
    lin, log = [], []
    for i, c in enumerate(channels):
        k = ds["K"].sel(channel=c).values
        lin.append(_curve(lag, k, f"channel {c}", i, kd, hv.Dimension("K", label="K[ℓ]"), dash=i))
        a = np.abs(k)
        log.append(
            _curve(lag, np.where(a > 0, a, np.nan), f"channel {c}", i, kd, hv.Dimension("absK", label="|K[ℓ]|"), dash=i)
        )
    where = _where(ds.attrs.get("init", ""), where, _step_label(ds))
    return _layout(
        [
            _panel(hv.Overlay(lin), f"Kernels ({where})" if where else "Kernels", "lag ℓ (steps)", "K[ℓ]", legend=None),
            _panel(hv.Overlay(log), "Kernel magnitude", "lag ℓ (steps)", "|K[ℓ]| (log scale)", logy=True),
        ],
        legends=1,
    )


def _modes(ds: xr.Dataset, x: str, y: str, unstable: np.ndarray, kx, ky) -> list:
    xs, ys = ds[x].values.ravel(), ds[y].values.ravel()
    out = [_scatter(xs[~unstable], ys[~unstable], "stable (|Ā| ≤ 1)", 0, kx, ky, size=4)]
    if unstable.any():
        out.append(_scatter(xs[unstable], ys[unstable], "unstable (|Ā| > 1)", 3, kx, ky, size=6, marker="^"))
    return out


def spectrum_figure(ds: xr.Dataset, step=None, layer=None) -> hv.Layout:
    """Poles Ā with the unit circle (equal axes) and the continuous eigenvalues A with Re A = 0."""
    ds = at_step(ds, step)
    ds, where = _layer(ds, layer)
    unstable = (ds["pole_abs"].values > 1).ravel()
    kx, ky = hv.Dimension("Re", label="Re Ā"), hv.Dimension("Im", label="Im Ā")
    t = np.linspace(0, 2 * np.pi, 361)
    circle = _curve(np.cos(t), np.sin(t), "unit circle", 7, kx, ky, dash=True, width=1)
    r = max(1.05, float(np.nanmax(ds["pole_abs"].values)) * 1.05)
    where = _where(where, _step_label(ds))
    n_bad = int(unstable.sum())
    poles = _panel(
        hv.Overlay([circle] + _modes(ds, "pole_real", "pole_imag", unstable, kx, ky)),
        "Poles Ā" + (f" ({where})" if where else "") + (f", {n_bad} unstable" if n_bad else ""),
        "Re Ā",
        "Im Ā",
        legend="bottom_left",
        aspect="equal",
        xlim=(-r, r),
        ylim=(-r, r),
    ).opts(width=380, height=380, backend="bokeh")
    ax, ay = hv.Dimension("ReA", label="Re A"), hv.Dimension("ImA", label="Im A")
    axis = (
        hv.VLine(0)
        .opts(color="gray", line_dash="dashed", line_width=1, backend="bokeh")
        .opts(color="gray", linestyle="--", linewidth=1, backend="matplotlib")
    )
    eig = _panel(
        hv.Overlay(_modes(ds, "A_real", "A_imag", unstable, ax, ay)) * axis,
        "Eigenvalues A (continuous)",
        "Re A (1/time)",
        "Im A (rad/time)",
        legend=None,
    )
    return _layout([poles, eig], legends=1)


_MEMORY = {
    "rho": ("ρ(t)", "Memory ρ(t) = |y(t) − y(t−1)|, step input"),
    "grad_norm": ("‖∂y(T)/∂u(T−t)‖", "Gradient memory"),
}


def memory_figure(ds: xr.Dataset, channels=None, step=None) -> hv.Overlay | hv.Layout:
    """Memory function ρ(t) and/or gradient memory on log-log axes (t ≥ 1: lag 0 holds the skip D)."""
    ds = at_step(ds, step)
    panels = []
    for var, (ylabel, title) in _MEMORY.items():
        if var not in ds or "lag" not in ds[var].dims:  # a run's metrics also hold a (training) grad_norm
            continue
        da = ds[var].sel(lag=ds["lag"] >= 1)
        lag = da["lag"].values
        kd, vd = hv.Dimension("lag", label="lag t (steps)"), hv.Dimension(var, label=ylabel)
        if "channel" in da.dims:
            chans = default_channels(ds) if channels is None else [int(c) for c in channels]
            series = [(f"channel {c}", da.sel(channel=c).values) for c in chans]
        else:
            series = [(f"estimate: {ds.attrs['estimate']}" if "estimate" in ds.attrs else var, da.values)]
        curves = [_curve(lag, np.where(v > 0, v, np.nan), lab, i, kd, vd, dash=i) for i, (lab, v) in enumerate(series)]
        panels.append(
            _panel(
                hv.Overlay(curves),
                _where(title, _step_label(ds)),
                "lag t (steps, log scale)",
                ylabel + " (log scale)",
                logx=True,
                logy=True,
            )
        )
    if not panels:
        raise SpecError(
            "memory data", sorted(ds.data_vars), "a Dataset with rho (memory_function) or grad_norm (gradient_memory)"
        )
    return _layout(panels)


def _attr_list(v):
    return json.loads(v) if isinstance(v, str) and v.startswith("[") else v


def tokens_figure(ds: xr.Dataset, step=None, sample: int = 0) -> hv.Layout:
    """Token norms over depth (log scale) and each token's 2-D PCA trajectory through the layers."""
    ds = at_step(ds, step)
    d = ds.sel(sample=sample)
    depth = d["depth"].values
    norms = d["norm"].values  # (depth, token)
    kd, vd = hv.Dimension("depth", label="depth (layers)"), hv.Dimension("norm", label="‖x‖")
    # one curve per token under one label: both backends merge equal labels into one legend entry
    paths = _curve(
        *broken([depth] * norms.shape[1], list(norms.T)), f"each token (sample {sample})", 5, kd, vd, width=1
    )
    mean = _curve(depth, ds["norm"].mean(("sample", "token")).values, "mean over tokens", 7, kd, vd, width=2.5)
    regime = _where(
        f"observed {ds.attrs['observed']}" if "observed" in ds.attrs else "",
        "predicted " + "/".join(sorted(set(_attr_list(ds.attrs["predicted"])))) if "predicted" in ds.attrs else "",
    )
    left = _panel(
        paths * mean,
        _where("Token norms", _step_label(ds)) + (f"\n{regime}" if regime else ""),
        "depth (layers)",
        "‖x‖ (log scale)",
        logy=bool(np.nanmin(norms) > 0),
        legend="top_left",
        **integer_ticks(depth),
    )
    P = d["projection"].values  # (depth, token, component)
    ev = _attr_list(ds.attrs.get("explained_variance", []))
    pc = lambda i: f"PC{i + 1}" + (f" ({100 * ev[i]:.0f}% var.)" if i < len(ev) else "")
    if P.shape[-1] >= 2:
        xy = [P[:, j, :2] for j in range(P.shape[1])]
        kx, ky = hv.Dimension("pc1", label=pc(0)), hv.Dimension("pc2", label=pc(1))
        start, end = P[0, :, :2], P[-1, :, :2]
    else:  # a 1-D model: the only component against depth
        xy = [np.column_stack([depth, P[:, j, 0]]) for j in range(P.shape[1])]
        kx, ky = hv.Dimension("depth", label="depth (layers)"), hv.Dimension("pc1", label=pc(0))
        start, end = (
            np.column_stack([depth[:1].repeat(P.shape[1]), P[0, :, 0]]),
            np.column_stack([depth[-1:].repeat(P.shape[1]), P[-1, :, 0]]),
        )
    traj = _curve(*broken([p[:, 0] for p in xy], [p[:, 1] for p in xy]), "trajectory over depth", 0, kx, ky, width=1)
    right = _panel(
        traj
        * _scatter(start[:, 0], start[:, 1], "depth 0 (embedding)", 2, kx, ky)
        * _scatter(end[:, 0], end[:, 1], f"depth {int(depth[-1])} (output)", 3, kx, ky, marker="s"),
        f"Token trajectories (sample {sample})",
        kx.label,
        ky.label,
        legend="top_right",
        padding=0.05,
        **(integer_ticks(depth) if P.shape[-1] < 2 else {}),
    )
    return _layout([left, right])


def _metric_groups(ds: xr.Dataset) -> dict:
    """{metric: [(split, variable)]} from names like train/acc and test/<split>/acc."""
    groups: dict = {}
    for v in ds.data_vars:
        parts = str(v).split("/")
        if parts[0] in ("train", "test") and len(parts) >= 2:
            split = "train" if parts[0] == "train" else "test" + (f" ({parts[1]})" if parts[1] != "test" else "")
            groups.setdefault(parts[-1], []).append((split, v))
    return {m: sorted(items, key=lambda it: it[0] != "train") for m, items in groups.items()}


def training_figure(ds: xr.Dataset, step=None) -> hv.Layout:
    """Loss (log scale) and each task metric over step, train and held-out; `step` marks one step."""
    if "step" not in ds.dims or ds.sizes["step"] == 0:
        raise SpecError("metrics", "empty", "a run with recorded steps")
    if step is not None:
        at_step(ds, step)  # validates it
    kd = hv.Dimension("step", label="step")
    steps = ds["step"].values
    panels = []
    series = {"loss": [("train loss", "loss")], **_metric_groups(ds)}
    for metric, items in series.items():
        els = []
        for i, (label, var) in enumerate(items):
            y = ds[var].values
            ok = np.isfinite(y)
            vd = hv.Dimension(metric.replace(" ", "_"), label=metric)
            els.append(_curve(steps[ok], y[ok], label, i, kd, vd, dash=i))
            if ok.sum() < 30:  # sparse evaluations: mark the points too
                els.append(_scatter(steps[ok], y[ok], label, i, kd, vd, size=4))
        if step is not None:
            els.append(
                hv.VLine(int(step))
                .opts(color="gray", line_dash="dotted", backend="bokeh")
                .opts(color="gray", linestyle=":", backend="matplotlib")
            )
        pos = np.concatenate([ds[v].values[np.isfinite(ds[v].values)] for _, v in items])
        # a log axis only where the values span more than a decade
        logy = metric in ("loss", "mse") and pos.size > 0 and bool((pos > 0).all()) and bool(pos.max() > 10 * pos.min())
        name = {"mse": "MSE"}.get(metric, metric.replace("_", " "))
        panels.append(
            _panel(
                hv.Overlay(els),
                "Training loss" if metric == "loss" else name[:1].upper() + name[1:],
                "step",
                name + (" (log scale)" if logy else ""),
                logy=logy,
                legend=None if metric == "loss" else "top_right" if logy else "bottom_right",
            )
        )
    run = ds.attrs.get("run", "")
    return _layout(panels[:3], title=run, legends=sum(m != "loss" for m in list(series)[:3]))


def selective_figure(ds: xr.Dataset, step=None, layer=None, sample: int = 0) -> hv.Layout:
    """Heat maps over (token, channel|head) of Δ_t and of the decay from each token to the end."""
    ds = at_step(ds, step)
    ds, where = _layer(ds, layer)
    panels = []
    for var, label, log in (
        ("delta", "Δ_t", True),
        ("decay_to_end", "decay to end", False),
        ("forget_gate", "σ(f̃_t)", False),
        ("alpha", "α_t", False),
        ("a", "a_t", False),
        ("beta", "β_t", False),
        ("state_norm", "‖S_t‖_F", False),
        ("recurrence_gate", "r_t", False),
    ):
        if var not in ds:
            continue
        da = ds[var].sel(sample=sample)
        other = [d for d in da.dims if d != "token"][0]
        img = hv.Image(
            (da["token"].values, da[other].values, da.transpose(other, "token").values),
            kdims=[hv.Dimension("token", label="token t"), hv.Dimension(other, label=other)],
            vdims=[hv.Dimension(var, label=label)],
        )
        img = img.opts(cmap=CMAP, colorbar=True, logz=log, backend="bokeh").opts(
            cmap=CMAP, colorbar=True, logz=log, backend="matplotlib"
        )
        panels.append(
            _panel(img, _where(label, where, _step_label(ds)), "token t (position)", other, legend=None, grid=False)
        )
    if not panels:
        raise SpecError("selective data", sorted(ds.data_vars), "a selective_forgetting Dataset")
    return _layout(panels[:2], legends=0.5 * len(panels[:2]))  # room for the colour bars


BUILDERS = {
    "kernels": kernels_figure,
    "spectrum": spectrum_figure,
    "memory": memory_figure,
    "tokens": tokens_figure,
    "selective": selective_figure,
}


def figure_for_run(run, kind: str, step=None):
    """(figure, the Dataset drawn) for one kind of a stored run, at `step` (None = latest)."""
    if kind not in KINDS:
        raise SpecError("figure", kind, "one of " + ", ".join(KINDS))
    if kind == "training":
        ds = run.metrics
        return training_figure(ds, step), ds
    data = at_step(run.probe(kind), step)
    return BUILDERS[kind](data), data
