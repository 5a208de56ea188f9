"""Is a configuration stable? The realized poles and kernels, read against the spec that made them.

A discretization maps a continuous pole A (Re A < 0) to Ā; the recurrence x_k = Ā x_{k-1} + B̄ u_k
stays bounded only when |Ā| ≤ 1. Zero-order hold (Ā = e^{ΔA}) and the bilinear transform
(Ā = (1 + ΔA/2)/(1 − ΔA/2)) keep every Re A < 0 inside the unit circle; forward Euler (Ā = 1 + ΔA)
does so only when Δ < −2 Re A / |A|² for every mode (Iserles 2009, A First Course in the Numerical
Analysis of Differential Equations, ch. 4: the stability region of Euler is the disc |1 + z| ≤ 1).
Fast modes (large |A|) at large Δ leave the disc: |Ā|^L overflows float32 after a few lags.

Only numpy and xarray: the dashboard calls this on the preview's Datasets.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

KERNEL_LIMIT = 1e6  # a kernel above this (or non-finite) cannot be drawn or trained on meaningfully


def euler_critical_dt(A_real: np.ndarray, A_imag: np.ndarray) -> float:
    """The largest Δ for which forward Euler keeps every pole A inside the unit circle:
    |1 + ΔA| < 1  ⇔  Δ < −2 Re A / |A|² (for Re A < 0)."""
    mag2 = A_real**2 + A_imag**2
    ok = (A_real < 0) & (mag2 > 0)
    return float(np.min(-2 * A_real[ok] / mag2[ok])) if ok.any() else float("nan")


def stability(
    spectrum: xr.Dataset | None,
    kernels: xr.Dataset | None = None,
    discretization: str = "",
    dt_max: float | None = None,
) -> dict:
    """{level: 'ok' | 'unstable', max_abs_pole, unstable_modes, modes, max_abs_kernel, field, value,
    message, fix}. `discretization` and `dt_max` (the spec's) let the fix name the field to change."""
    out = {
        "level": "ok",
        "max_abs_pole": float("nan"),
        "unstable_modes": 0,
        "modes": 0,
        "max_abs_kernel": float("nan"),
        "field": "",
        "value": "",
        "message": "",
        "fix": "",
    }
    if spectrum is not None and "pole_abs" in spectrum:
        r = np.asarray(spectrum["pole_abs"].values, dtype=np.float64)
        out["max_abs_pole"] = float(np.nanmax(r)) if np.isfinite(r).any() else float("inf")
        out["unstable_modes"] = int((~(r <= 1 + 1e-6)).sum())  # NaN counts as unstable
        out["modes"] = int(r.size)
    if kernels is not None and "K" in kernels:
        K = np.abs(np.asarray(kernels["K"].values, dtype=np.float64))
        out["max_abs_kernel"] = float(np.max(K)) if np.isfinite(K).all() else float("inf")
    overflow = out["max_abs_kernel"] > KERNEL_LIMIT
    if not out["unstable_modes"] and not overflow:
        return out
    out["level"] = "unstable"
    what = (
        f"{out['unstable_modes']} of {out['modes']} poles outside the unit circle (max |z| = {out['max_abs_pole']:.3g})"
        if out["unstable_modes"]
        else f"max |z| = {out['max_abs_pole']:.4g}"
    )
    if overflow:
        what += f"; the kernel reaches {out['max_abs_kernel']:.3g}"
    out["message"] = f"Unstable: {what}."
    if discretization == "euler" and spectrum is not None and "A_real" in spectrum:
        dt_crit = euler_critical_dt(np.asarray(spectrum["A_real"].values), np.asarray(spectrum["A_imag"].values))
        out["field"], out["value"] = "ssm.discretization", "euler"
        out["fix"] = (
            f"use zoh or bilinear (stable for every Re A < 0), or keep forward Euler with "
            f"ssm.dt_max below {dt_crit:.3g} = min over modes of −2 Re A/|A|²"
            + (f" (now {dt_max:g})" if dt_max is not None else "")
        )
    elif spectrum is not None and "A_real" in spectrum and (np.asarray(spectrum["A_real"].values) > 0).any():
        out["field"], out["value"] = "ssm.a_reparam", "direct"
        out["fix"] = "Re A > 0 grows without bound: use a_reparam exp or softplus, which keep Re A < 0"
    else:
        out["field"], out["value"] = "ssm.dt_max", dt_max if dt_max is not None else ""
        out["fix"] = "a smaller Δ (ssm.dt_max) or a shorter kernel keeps |Ā|^L finite"
    return out
