"""Kernels and spectra of one LTI layer, as xarray Datasets (the S4D kernel, Gu et al. 2022; poles against the unit circle)."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from workbench.analysis.kernels import kernels, spectrum
from workbench.ssm.hippo import normal_eig, nplr
from workbench.ssm.init import s4d_legs


def _attrs(layer, spec=None) -> dict:
    a = {"init": getattr(layer, "init", ""), "spec": spec.to_json() if spec is not None else ""}
    for k, v in getattr(layer, "info", {}).items():
        a[k] = float(v)
    return a


def layer_kernels(layer, length: int, spec=None) -> xr.Dataset:
    """K (channel, lag) of one LTI layer: `kernels` without the layer dimension."""
    ds = kernels(layer, length).isel(layer=0, drop=True)
    ds.attrs.update(_attrs(layer, spec))
    return ds


def layer_spectrum(layer, spec=None) -> xr.Dataset:
    """Spectrum (channel, mode) of one LTI layer: `spectrum` without the layer dimension."""
    ds = spectrum(layer).isel(layer=0, drop=True)
    ds.attrs.update(_attrs(layer, spec))
    return ds


def legs_convergence(sizes=(16, 32, 64, 128), n_basis: int = 8, s_real: float = 1.0, omegas=None) -> xr.Dataset:
    """S4D-LegS vs LegS through their Laplace transforms (S4D paper's convergence claim).

    The basis functions e^{tA}B (full LegS) and V e^{tΛ} V*(B/2) (diagonal restriction of
    the normal part) converge weakly, not uniformly: sup-norm errors stay O(1) (Gibbs-like
    oscillations), while their Laplace transforms (sI - A)⁻¹B converge at every s with
    Re s > 0. We report max over s = s_real + iω and the first `n_basis` functions.
    """
    omegas = np.linspace(0, 20, 41) if omegas is None else np.asarray(omegas)
    s = torch.as_tensor(s_real + 1j * omegas, dtype=torch.complex128)  # (S,)
    err = []
    for N in sizes:
        A, B, _, S = nplr("legs", N)
        A, B = A.to(torch.complex128), B.to(torch.complex128)
        d = s4d_legs(1, N, None)  # the library's init: N/2 modes, one of each conjugate pair
        lam, V = normal_eig(S)
        # read-out of basis function n from mode m: row n of V, at the same modes the init kept
        keep = torch.stack([torch.argmin((lam - a).abs()) for a in d.A[0]])
        C = V[:n_basis, keep]  # (n_basis, N/2)
        CB = C * d.B[0]  # (n_basis, N/2)
        eye = torch.eye(N, dtype=torch.complex128)
        full = torch.stack([torch.linalg.solve(si * eye - A, B)[:n_basis] for si in s])  # (S, n)
        # Laplace transform of 2·Re Σ_m CB e^{λt}: both halves of each pair
        diag = torch.stack([(CB / (si - d.A[0]) + CB.conj() / (si - d.A[0].conj())).sum(-1) for si in s])
        err.append(float((full - diag).abs().max() / full.abs().max()))
    return xr.Dataset(
        {"relative_error": (("d_state",), np.array(err), {"long_name": "max |ΔF(s)| / max |F(s)|"})},
        coords={"d_state": np.array(sizes)},
        attrs={"n_basis": n_basis, "s_real": s_real, "claim": "S4D-LegS -> LegS as N grows (weakly)"},
    )
