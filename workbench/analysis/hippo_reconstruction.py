"""HiPPO online reconstruction (HiPPO, Gu et al. 2020, §2–3 and Appendix D): run a signal through (A, B), rebuild its history.

Conventions, checked numerically against the matrices in `workbench.ssm.hippo` (which already
carry the minus sign of A):
- LegT / FouT (window θ): dc/dt = (2/θ)(A c + B f). The ½ in those matrices (HiPPO / s4
  `hippo.py`) makes the plain (1/θ) scaling a window of length 2θ. Basis coordinate
  s = (t - x)/θ, s = 0 the newest point: LegT g_n = √(2n+1) P_n(1 - 2s) = √(2n+1)(-1)^n P_n(2s - 1);
  FouT g = [1, √2 cos 2πjs, √2 sin 2πjs, ...].
- LegS: dc/dt = (1/t)(A c + B f), window [0, t], g_n = √(2n+1) P_n(2x/t - 1).
Samples f_k sit at t_k = (k+1)/L; before t_0 the signal is taken as constant f_0, so the state
starts at c(t_0) = f_0 e_0 (e_0 is the exact fixed point for a constant: A e_0 + B = 0).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import xarray as xr
from numpy.polynomial import legendre

from workbench.errors import SpecError
from workbench.ssm.hippo import HIPPO

MEASURES = ("legt", "legs", "fout")


def _matrices(measure: str, N: int) -> tuple[np.ndarray, np.ndarray]:
    # (for even N, hippo_fout already makes the unpaired last cosine a decoupled dummy state)
    return tuple(x.numpy().copy() for x in HIPPO[measure](N))


def _run_translated(A, B, f, h):
    """LTI: first-order hold (exact for the linear interpolant of f), from expm of
    [[hA, hB, 0], [0, 0, 1], [0, 0, 0]]: c_k = Φ c_{k-1} + Γ₀ f_{k-1} + Γ₁ (f_k - f_{k-1})."""
    N = A.shape[0]
    M = np.zeros((N + 2, N + 2))
    M[:N, :N], M[:N, N], M[N, N + 1] = h * A, h * B, 1.0
    E = sla.expm(M)
    Phi, G0, G1 = E[:N, :N], E[:N, N], E[:N, N + 1]
    c = f[0] * np.eye(N)[0]
    for k in range(1, len(f)):
        c = Phi @ c + (G0 - G1) * f[k - 1] + G1 * f[k]
    return c


def _run_legs(A, B, f):
    """LegS is LTI in log-time τ = ln t (dc/dτ = A c + B f): trapezoid (bilinear, α = ½) per step
    with h_k = ln(t_k/t_{k-1}) = ln((k+1)/k); A is lower triangular, so each step is a triangular
    solve and the first N entries of a larger state are exactly the size-N state."""
    N = A.shape[0]
    I = np.eye(N)
    c = f[0] * I[0]
    for k in range(1, len(f)):
        h = np.log((k + 1) / k)
        rhs = c + (h / 2) * (A @ c) + (h / 2) * B * (f[k - 1] + f[k])
        c = sla.solve_triangular(I - (h / 2) * A, rhs, lower=True, check_finite=False)
    return c


def _basis(measure: str, N: int, s: np.ndarray) -> np.ndarray:
    """(N, n_eval) basis on the window coordinate s ∈ [0, 1] (LegT/FouT: age / θ; LegS: x / t)."""
    n = np.arange(N)
    if measure == "legs":
        return np.sqrt(2 * n + 1)[:, None] * legendre.legvander(2 * s - 1, N - 1).T
    if measure == "legt":
        return np.sqrt(2 * n + 1)[:, None] * legendre.legvander(1 - 2 * s, N - 1).T
    j = ((n + 1) // 2)[:, None]  # FouT: [DC, cos 1, sin 1, cos 2, ...]
    G = np.where(n[:, None] % 2 == 1, np.sqrt(2) * np.cos(2 * np.pi * j * s), np.sqrt(2) * np.sin(2 * np.pi * j * s))
    G[0] = 1.0
    if N % 2 == 0 and N > 1:
        G[-1] = 0.0  # hippo_fout's dummy state carries no basis function
    return G


def hippo_reconstruction(measure: str, N, signal, *, theta: float = 1.0, n_eval: int = 512) -> xr.Dataset:
    """Feed `signal` (samples at t_k = (k+1)/L) online through HiPPO `measure` with state size N
    (an int or a sequence), then rebuild the history from the final state; error against N."""
    if measure not in MEASURES:
        raise SpecError("measure", measure, "one of legt, legs, fout")
    try:
        sizes = [int(n) for n in np.ravel(N)]
        ok = bool(sizes) and min(sizes) >= 1 and all(n == m for n, m in zip(sizes, np.ravel(N)))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise SpecError("N", N, "a positive integer or a non-empty sequence of them")
    f = np.asarray(signal.detach().cpu() if hasattr(signal, "detach") else signal, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or not np.isfinite(f).all():
        raise SpecError("signal", f"shape {f.shape}", "a finite 1-D array of at least 2 samples")
    if measure != "legs" and not 0 < theta <= 1:
        raise SpecError("theta", theta, "a window length in (0, 1] (units of the signal duration)")
    if int(n_eval) < 2:
        raise SpecError("n_eval", n_eval, "an integer >= 2")
    L = f.size
    window = 1.0 if measure == "legs" else float(theta)
    t_k = np.arange(1, L + 1) / L
    x = np.linspace(1 - window, 1, int(n_eval))  # reconstruction times
    s = x if measure == "legs" else (1 - x) / window  # basis coordinate (see module docstring)
    truth = np.interp(x, t_k, f)  # constant f_0 before t_0, as the state assumes

    recs = []
    if measure == "legs":  # one run at the largest N serves every N (A lower triangular)
        A, B = _matrices("legs", max(sizes))
        c = _run_legs(A, B, f)
        recs = [c[:n] @ _basis("legs", n, s) for n in sizes]
    else:
        for n in sizes:
            A, B = _matrices(measure, n)
            recs.append(_run_translated(A, B, f, 2 / (window * L)) @ _basis(measure, n, s))
    rec = np.stack(recs)
    err = np.linalg.norm(rec - truth, axis=1) / max(np.linalg.norm(truth), np.finfo(float).tiny)

    disc = "log-time trapezoid (GBT α=½)" if measure == "legs" else "first-order hold (exact expm)"
    return xr.Dataset(
        {
            "signal": ("time", truth, {"long_name": "signal f(t), linear interpolation of the samples"}),
            "reconstruction": (("d_state", "time"), rec, {"long_name": "history rebuilt from the final state"}),
            "error": (
                "d_state",
                err,
                {"long_name": "relative L2 error ||rec - f|| / ||f|| on the window", "units": "1"},
            ),
        },
        coords={
            "d_state": ("d_state", np.array(sizes), {"long_name": "state size N"}),
            "time": ("time", x, {"long_name": "time", "units": "signal duration"}),
        },
        attrs={
            "measure": measure,
            "theta": window,
            "L": L,
            "discretization": disc,
            "note": (
                "state after the last sample, history rebuilt on the window "
                + (
                    "[0, 1] (LegS scales to all history; theta unused)"
                    if measure == "legs"
                    else "[1 - theta, 1]; ODE dc/dt = (2/theta)(A c + B f)"
                )
            ),
        },
    )
