"""The Δ audit: does the Δ a checkpoint realizes at rest match the initialization its config claims?

Mamba and Mamba-2 initialize Δ log-uniformly in [dt_min, dt_max], floored at dt_init_floor, and
store b = softplus⁻¹(Δ) as the Δ bias (Gu & Dao 2023, and their reference code). With zero
SSM input Δ = softplus(b), so the bias alone says what the initialization realized. A channel
outside [max(dt_min, floor), dt_max] means the init was overwritten after construction (a
re-initialization of every Linear bias, say), or that training moved it: the verdict says which
to suspect from the model's provenance, it cannot tell them apart.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from workbench.analysis.audit import BINS, delta_summary
from workbench.analysis.walk import mixers, model_attrs, need
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2


def _at_rest(m) -> torch.Tensor:
    if isinstance(m, Mamba):
        return m.delta_at_rest()
    return m.dt_fn(m.dt_bias)  # Mamba-2 clamps to dt_limit only after input-dependent Δ: at rest, the bias


@torch.no_grad()
def delta_audit(
    model,
    dt_min: float | None = None,
    dt_max: float | None = None,
    dt_floor: float | None = None,
    tolerance: float = 0.01,
) -> xr.Dataset:
    """Realized Δ at rest per layer × channel against the claimed [max(dt_min, dt_floor), dt_max].

    Claims default to `model.meta['dt_init']` (the checkpoint's config). attrs: `verdict`
    ('consistent' or 'disagrees'), `flags` (one sentence per offending layer), and per layer the
    Kolmogorov–Smirnov distance of log Δ from the claimed log-uniform law (0 = exactly it).
    """
    claim = dict(getattr(model, "meta", {}).get("dt_init", {}))
    lo_min = dt_min if dt_min is not None else claim.get("dt_min", 1e-3)
    hi = dt_max if dt_max is not None else claim.get("dt_max", 1e-1)
    floor = dt_floor if dt_floor is not None else claim.get("dt_floor", 1e-4)
    lo = max(lo_min, floor)
    rows, flags = [], []
    for i, m in enumerate(mixers(model)):
        if not isinstance(m, (Mamba, Mamba2)):
            continue
        dt = _at_rest(m).double().cpu().numpy()
        nonfinite, outside, hist, dt_flags = delta_summary(i, dt, lo, hi, tolerance, against="claimed")
        flags += dt_flags
        # KS distance against log-uniform on [log lo_min, log hi] with the floor's atom
        x = np.sort(np.log(dt[~nonfinite & (dt > 0)]))
        a, b = np.log(lo_min), np.log(hi)
        cdf = np.clip((x - a) / (b - a), 0, 1) if b > a else np.zeros_like(x)
        n = max(len(x), 1)
        ks = float(np.max(np.maximum(np.arange(1, n + 1) / n - cdf, cdf - np.arange(n) / n))) if len(x) else np.nan
        rows.append((i, dt, int(nonfinite.sum() + outside.sum()), ks, hist))
    need(rows, "delta_audit", "mamba or mamba2", model)
    dim = "head" if isinstance(mixers(model)[rows[0][0]], Mamba2) else "channel"
    verdict = "disagrees" if flags else "consistent"
    return xr.Dataset(
        {
            "dt": (("layer", dim), np.stack([r[1] for r in rows]), {"long_name": "Δ at rest = softplus(bias)"}),
            "outside": (("layer",), np.array([r[2] for r in rows]), {"long_name": "channels outside the claim"}),
            "ks_log_uniform": (
                ("layer",),
                np.array([r[3] for r in rows]),
                {"long_name": "KS distance from log-uniform"},
            ),
            "dt_histogram": (("layer", "log10_dt"), np.stack([r[4] for r in rows])),
        },
        coords={
            "layer": [r[0] for r in rows],
            dim: np.arange(rows[0][1].size),
            "log10_dt": 0.5 * (BINS[1:] + BINS[:-1]),
        },
        attrs=model_attrs(
            model,
            verdict=verdict,
            flags=flags,
            claimed_min=lo,
            claimed_max=hi,
            dt_min=lo_min,
            dt_floor=floor,
            tolerance=tolerance,
        ),
    )
