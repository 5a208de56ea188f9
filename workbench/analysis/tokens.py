"""Token dynamics (Vo et al., ICLR 2025): depth as time, tokens as particles.

The residual stream after the encoder (depth 0) and after each block gives every token's
trajectory. Norms over depth give the observed regime; for selective (Mamba) layers with
B_t = S_B x_t and C_t = S_C x_t, the paper's criterion predicts it: S_Cᵀ S_B negative
definite -> tokens converge to 0; any positive eigenvalue -> divergence. Definiteness of the
non-symmetric S_Cᵀ S_B is that of its symmetric part (xᵀMx only sees it).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from workbench.analysis.walk import model_attrs
from workbench.ssm.mamba import GATES, Mamba
from workbench.ssm.probe import capture


def criterion_eigenvalues(m: Mamba) -> np.ndarray | None:
    """Eigenvalues of sym(S_Cᵀ S_B) for a Mamba mixer with input-dependent B and C (real modes)."""
    if not (m.selective[1] and m.selective[2]) or m.is_complex:
        return None
    R, nb, _ = m.split
    W = m.x_proj.weight.detach().double()  # (R + 2N, E)
    S_B, S_C = W[R : R + nb], W[R + nb :]  # (N, E) each
    M = S_C.T @ S_B
    return torch.linalg.eigvalsh((M + M.T) / 2).numpy()


def outside_paper_setting(model) -> list[str]:
    """Why the criterion is not a prediction for this model: the paper's theorem is for stacked
    selective SSM layers with input-dependent B, C and real modes, no normalization, no MLP and
    no output gate (the residual stream is the particle system). Empty: inside the setting."""
    why = []
    if not all(isinstance(b.mixer, Mamba) for b in model.layers):
        why.append("layers other than mamba")
    for b in model.layers:
        m = b.mixer
        if isinstance(m, Mamba) and not (m.selective[1] and m.selective[2]):
            why.append("B or C not input-dependent")
        if isinstance(m, Mamba) and m.is_complex:
            why.append("complex modes")
        if isinstance(m, Mamba) and m.gate_fn is not GATES["none"]:
            why.append("output gate")
        if not isinstance(b.norm, torch.nn.Identity):
            why.append("normalization")
        if b.mlp is not None:
            why.append("MLP")
    return list(dict.fromkeys(why))


def _predict(eigs: np.ndarray, tol: float = 1e-12) -> str:
    if eigs.max() > tol:
        return "divergent"
    return "convergent" if eigs.max() < -tol else "marginal"


@torch.no_grad()
def token_dynamics(model, inputs: torch.Tensor, n_components: int = 2) -> xr.Dataset:
    """Token states over depth: `state` (depth, sample, token, dim), `norm` (depth, sample, token),
    a PCA `projection` fitted over all depths (depth, sample, token, component), and per layer the
    criterion's eigenvalues and predicted regime beside the observed one (attrs)."""
    h0 = model.encoder(inputs)
    with capture(model, "resid") as seen:
        model(inputs)
    X = torch.stack([h0] + [seen[f"layers.{i}.resid"] for i in range(len(model.layers))]).double()  # (depth, B, L, H)
    norms = X.norm(dim=-1)  # (depth, B, L)
    flat = X.reshape(-1, X.shape[-1])
    ok = torch.isfinite(flat).all(-1)  # divergent tokens can overflow: fit the PCA on what is finite
    mean = flat[ok].mean(0)
    _, S, Vt = torch.linalg.svd(flat[ok] - mean, full_matrices=False)
    k = min(n_components, Vt.shape[0])
    proj = ((flat - mean) @ Vt[:k].T).reshape(*X.shape[:-1], k)
    explained = (S[:k] ** 2 / (S**2).sum()).numpy()
    # observed: growth rate of the mean log-norm per layer (least squares over the finite depths)
    depth = np.arange(X.shape[0])
    log_norm = norms.clamp(min=1e-300).log().mean((1, 2)).numpy()
    fin = np.isfinite(log_norm)
    slope = float(np.polyfit(depth[fin], log_norm[fin], 1)[0]) if fin.sum() > 1 else float("inf")
    overflow = not bool(fin.all())
    observed = "divergent" if overflow or slope > 0.01 else "convergent" if slope < -0.01 else "bounded"
    eigs = [criterion_eigenvalues(b.mixer) if isinstance(b.mixer, Mamba) else None for b in model.layers]
    predicted = [_predict(e) if e is not None else "n/a" for e in eigs]
    data = {
        "state": (("depth", "sample", "token", "dim"), X.numpy()),
        "norm": (("depth", "sample", "token"), norms.numpy(), {"long_name": "‖x‖"}),
        "projection": (
            ("depth", "sample", "token", "component"),
            proj.numpy(),
            {"long_name": "PCA projection (fitted over all depths)"},
        ),
    }
    known = [e for e in eigs if e is not None]
    if known and all(len(e) == len(known[0]) for e in known):
        data["criterion_eigenvalues"] = (
            ("layer", "eig"),
            np.stack([e if e is not None else np.full(len(known[0]), np.nan) for e in eigs]),
            {"long_name": "eig sym(S_Cᵀ S_B)"},
        )
    return xr.Dataset(
        data,
        coords={
            "depth": depth,
            "sample": np.arange(X.shape[1]),
            "token": np.arange(X.shape[2]),
            "component": np.arange(k),
            "layer": np.arange(len(model.layers)),
        },
        attrs=model_attrs(
            model,
            predicted=predicted,
            observed=observed,
            log_norm_slope=slope,
            outside_setting=", ".join(outside_paper_setting(model)),
            overflow=int(overflow),
            explained_variance=explained.tolist(),
        ),
    )
