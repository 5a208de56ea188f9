"""Init audit: what the initialization realized against what was asked for.

Realized Δ against the requested [dt_min, dt_max] (a Δ bias built from log(dt) instead of dt,
a published bug, shows up here), |λ| against the LRU ring, Re(A) after reparameterization
(positive = unstable), PTD's eigenvector conditioning. Flags are plain sentences in attrs.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from workbench.analysis.walk import layer_modes, lti_core, mixers, model_attrs, need

BINS = np.linspace(-6, 2, 33)  # log10 Δ histogram edges


def delta_summary(layer: int, dt: np.ndarray, lo: float, hi: float, tolerance: float, against: str = "requested"):
    """Realized Δ of one layer (channel,) against [lo, hi] widened by `tolerance`.

    Returns (non-finite mask, outside mask (finite channels only), counts per log10 Δ bin of BINS,
    flag sentences naming the layer). A NaN bound (a core that states no range) flags nothing.
    """
    finite = np.isfinite(dt)
    outside = finite & ((dt < lo * (1 - tolerance)) | (dt > hi * (1 + tolerance)))
    flags = []
    if (~finite).any():
        flags.append(f"layer {layer}: {int((~finite).sum())} of {dt.size} channels realize a non-finite Δ")
    if outside.any():
        flags.append(
            f"layer {layer}: {int(outside.sum())} of {dt.size} channels realize Δ outside the {against} "
            f"[{lo:g}, {hi:g}] (seen {np.nanmin(dt):.3g} to {np.nanmax(dt):.3g})"
        )
    hist = np.histogram(np.log10(dt[finite & (dt > 0)]), BINS)[0]
    return ~finite, outside, hist, flags


@torch.no_grad()
def init_audit(model, tolerance: float = 0.01) -> xr.Dataset:
    rows, flags = [], []
    for i, m in enumerate(mixers(model)):
        md = layer_modes(m)
        if md is None:
            continue
        core = lti_core(m) or m
        lo, hi = getattr(core, "dt_range", (np.nan, np.nan))
        dt = md.dt.numpy()
        nonfinite, outside, hist, dt_flags = delta_summary(i, dt, lo, hi, tolerance)
        flags += dt_flags
        re = md.A.real.numpy()
        if (re > 0).any():
            flags.append(f"layer {i}: {int((re > 0).sum())} modes have Re A > 0 (unstable)")
        ring = getattr(core, "ring", None)
        r = np.abs(md.A_bar.numpy())
        off_ring = 0
        if ring is not None:
            off_ring = int(((r < ring[0] * (1 - tolerance)) | (r > ring[1] * (1 + tolerance))).sum())
            if off_ring:
                flags.append(f"layer {i}: {off_ring} poles off the LRU ring [{ring[0]:g}, {ring[1]:g}]")
        kappa = float(getattr(core, "info", {}).get("kappa_V", np.nan))
        rows.append(
            dict(
                layer=i,
                dt=dt,
                re=re,
                r=r,
                hist=hist,
                lo=lo,
                hi=hi,
                kappa=kappa,
                flagged=bool(nonfinite.any() or outside.any() or (re > 0).any() or off_ring),
            )
        )
    need(rows, "init_audit", "SSM", model)
    C, M = rows[0]["re"].shape
    stack = lambda k: np.stack([r[k] for r in rows])
    return xr.Dataset(
        {
            "dt": (("layer", "channel"), stack("dt"), {"long_name": "realized Δ"}),
            "dt_min": (("layer",), stack("lo")),
            "dt_max": (("layer",), stack("hi")),
            "dt_histogram": (("layer", "log10_dt"), stack("hist"), {"long_name": "channels per log10 Δ bin"}),
            "A_real": (("layer", "channel", "mode"), stack("re"), {"long_name": "Re A after reparameterization"}),
            "pole_abs": (("layer", "channel", "mode"), stack("r"), {"long_name": "|Ā|"}),
            "kappa_V": (("layer",), stack("kappa"), {"long_name": "κ(V) of PTD eigenvectors"}),
            "flagged": (("layer",), stack("flagged")),
        },
        coords={
            "layer": [r["layer"] for r in rows],
            "channel": np.arange(C),
            "mode": np.arange(M),
            "log10_dt": 0.5 * (BINS[1:] + BINS[:-1]),
        },
        attrs=model_attrs(model, flags=flags),
    )
