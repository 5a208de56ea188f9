"""Effective state size (Parnichkun et al. 2025, "Quantifying Memory Utilization with Effective State-Size").

For a mixer y = T u with causal T (L, L), the state that must carry information across
position i is the map from past inputs u[:i] to future outputs y[i:], the block
T[i:, :i]. Its numerical rank is the ESS at i:

    ESS_i = #{k : σ_k(T[i:, :i]) > max(tol·σ_1, atol)}        (≤ min(i, L − i), and ≤ n for state n)
    entropy ESS_i = exp(−Σ_k p_k log p_k),  p_k = σ_k / Σ σ      (σ_k < 1e-6·σ_1 left out as rounding)

Two ways to the singular values, which agree (tests/test_ess.py):
- "svd": of the materialized block, for every layer kind: O(L³) per position (positions
  sub-sampled by `positions`), the reference;
- "gram": for layers with a diagonal realization T[i:, :i] = O_i R_i (observability ×
  reachability, n columns), σ² are the eigenvalues of G_r^{1/2} G_o G_r^{1/2}, with the
  Gramians G_r(i) = Σ_{c<i} R R^H and G_o(i) = Σ_{r≥i} O^H O built by one forward and one
  backward recursion: O(L·n³) per group, every position, no L×L matrix. Squaring the
  singular values (and a 1e-13 relative jitter on G_r) limits it to tol ≳ 1e-6 in float64.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch import nn

from workbench.analysis.operators import (
    Factors,
    layer_inputs,
    materialized_operator,
    state_factors,
)
from workbench.analysis.walk import model_attrs
from workbench.errors import SpecError

METHODS = ("auto", "gram", "svd")
ENTROPY_FLOOR = 1e-6  # σ_k below this fraction of σ_1 are left out of the entropy ESS (both methods)


def _count(sig: torch.Tensor, tol: float, atol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """sig (..., k) non-negative singular values -> (tolerance ESS, entropy ESS) (...,)."""
    top = sig.amax(-1, keepdim=True)
    rank = (sig > torch.clamp(tol * top, min=atol)).sum(-1).to(torch.float64)
    sig = torch.where(sig > ENTROPY_FLOOR * top, sig, 0.0)  # rounding noise is not state
    total = sig.sum(-1, keepdim=True)
    p = torch.where(total > 0, sig / torch.where(total > 0, total, 1.0), 0.0)
    ent = -(p * torch.log(torch.where(p > 0, p, 1.0))).sum(-1)
    return rank, torch.where(total[..., 0] > max(atol, 0.0), torch.exp(ent), 0.0)


def ess_svd(T: torch.Tensor, positions, tol: float, atol: float = 0.0):
    """T (..., L, L) -> (ESS, entropy ESS) (..., P) at split positions `positions` (each in 1..L-1)."""
    ranks, ents = [], []
    for i in positions:
        sig = torch.linalg.svdvals(T[..., i:, :i])  # (..., min(i, L-i))
        r, e = _count(sig, tol, atol)
        ranks.append(r)
        ents.append(e)
    return torch.stack(ranks, -1), torch.stack(ents, -1)


JITTER = 1e-13  # relative to tr(G)/n: makes a rank-deficient Gramian Cholesky-factorable


def _psd_factor(G: torch.Tensor) -> torch.Tensor:
    """S with S S^H ≈ G (..., n, n): Cholesky of G + δI, δ = JITTER·tr(G)/n (eigh is ~10× slower)."""
    n = G.shape[-1]
    scale = torch.diagonal(G, dim1=-2, dim2=-1).real.sum(-1).clamp(min=1e-300) / n  # (...,)
    eye = torch.eye(n, dtype=G.dtype)
    S, info = torch.linalg.cholesky_ex(G + (JITTER * scale)[..., None, None] * eye)
    if bool((info != 0).any()):  # not positive definite even with the jitter: the exact way
        lam, V = torch.linalg.eigh(G)
        return V * torch.sqrt(lam.clamp(min=0))[..., None, :]
    return S


EIG_CHUNK = 1024  # matrices per LAPACK batch: each batch's factor, product and spectrum stay in cache


def _hankel_sigmas(Gr: torch.Tensor, Go: torch.Tensor) -> torch.Tensor:
    """Gr, Go (m, n, n) Gramians at m splits -> σ (m, n) ascending: σ² = eig(S^H G_o S), S S^H = G_r."""
    sig = torch.empty(Gr.shape[:-1], dtype=torch.float64)  # (m, n)
    for s in range(0, Gr.shape[0], EIG_CHUNK):
        S = _psd_factor(Gr[s : s + EIG_CHUNK])
        lam = torch.linalg.eigvalsh(S.mH @ Go[s : s + EIG_CHUNK] @ S)
        sig[s : s + EIG_CHUNK] = torch.sqrt(lam.clamp(min=0))
    return sig


def _outer(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """u, v (..., n) -> u v^H (..., n, n): for a diagonal system every Gramian step is elementwise."""
    return u[..., :, None] * v.conj()[..., None, :]


def ess_gram(f: Factors, tol: float, atol: float = 0.0, budget: int = 1 << 23):
    """Every split position 1..L-1 from the factors: -> (ESS, entropy ESS) (b, g, L-1).

    Time-major: one fused step per position over every group of a pass (diagonal A makes each
    Gramian update elementwise); the observability pass hands blocks of positions to the
    eigen-solver as it goes, so only the reachability Gramians are stored."""
    b, g, L, n = f.A.shape
    dtype = torch.complex128 if any(t.is_complex() for t in (f.A, f.B, f.C)) else torch.float64
    A, B, C = (t.to(dtype).permute(2, 0, 1, 3) for t in (f.A, f.B, f.C))  # (L, b, g, n)
    step = max(1, budget // max(1, b * L * n * n))  # groups per pass: bounds the stored Gramians
    sig = torch.empty(L - 1, b, g, n, dtype=torch.float64)  # σ at split i = index + 1
    for g0 in range(0, g, step):
        a, bb, c = A[:, :, g0 : g0 + step], B[:, :, g0 : g0 + step], C[:, :, g0 : g0 + step]  # (L, b, s, n)
        Gr = torch.empty(L - 1, *a.shape[1:], n, dtype=dtype)  # (L-1, b, s, n, n): inputs 0..t, split t + 1
        Gr[0] = _outer(bb[0], bb[0])
        for t in range(1, L - 1):  # G_r(t+1) = (a_t a_t^H)∘G_r(t) + b_t b_t^H
            torch.addcmul(_outer(bb[t], bb[t]), _outer(a[t], a[t]), Gr[t - 1], out=Gr[t])
        Go = torch.zeros(*a.shape[1:], n, dtype=dtype)  # (b, s, n, n)
        block = max(1, EIG_CHUNK // (b * a.shape[2]))  # positions per eigen batch
        Gos = torch.empty(block, *Go.shape, dtype=dtype)
        for t in range(L - 1, 0, -1):  # G_o(t) = (a_t^H a_t)∘(c_t^H c_t + G_o(t+1)): outputs t.., split t
            Go = _outer(a[t], a[t]).conj() * (_outer(c[t].conj(), c[t].conj()) + Go)
            k = (t - 1) % block
            Gos[k] = Go
            if k == 0 or t == 1:  # splits t..t+block-1 are complete
                hi = min(t - 1 + block, L - 1)
                m = hi - (t - 1)
                sig[t - 1 : hi, :, g0 : g0 + step] = _hankel_sigmas(
                    Gr[t - 1 : hi].reshape(-1, n, n), Gos[k : k + m].reshape(-1, n, n)
                ).reshape(m, b, -1, n)
    return _count(sig.permute(1, 2, 0, 3), tol, atol)


def _check(tol, atol, method, positions, L):
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise SpecError("tol", tol, "a relative tolerance in (0, 1)")
    if not (isinstance(atol, (int, float)) and atol >= 0):
        raise SpecError("atol", atol, "an absolute tolerance >= 0")
    if method not in METHODS:
        raise SpecError("method", method, "one of " + ", ".join(METHODS))
    pos = list(range(1, L)) if positions is None else [int(p) for p in positions]
    if L < 2 or not pos or any(not 1 <= p <= L - 1 for p in pos):
        raise SpecError("positions", positions, f"split positions in [1, {L - 1}] (L = {L})")
    return pos


@torch.no_grad()
def effective_state_size(
    model_or_layer: nn.Module,
    x: torch.Tensor,
    tol: float = 1e-3,
    atol: float = 0.0,
    method: str = "auto",
    positions=None,
) -> xr.Dataset:
    """ESS per (layer, sample, channel|head, position) of every mixer of a model (or of one mixer).

    x: model inputs (tokens (b, L) or (b, L, d_in)), or (b, L, H) for a bare mixer.
    method "auto" uses the Gramians where a layer has a diagonal realization, else the SVD.
    """
    model_or_layer = model_or_layer.eval()
    L = x.shape[1]
    pos = _check(tol, atol, method, positions, L)
    per_layer, dims, used, sizes = [], set(), [], []
    for m, xin in layer_inputs(model_or_layer, x):
        f = state_factors(m, xin.double() if _is_float64(m) else xin) if method != "svd" else None
        if method == "gram" and f is None:
            raise SpecError(
                "method", method, f"'svd' or 'auto' for a {type(m).__name__} layer (no diagonal realization)"
            )
        if f is not None:
            r, e = ess_gram(f, tol, atol)
            idx = torch.tensor(pos) - 1
            r, e, dim, way, n = r[..., idx], e[..., idx], f.dim, "gram", f.state_size
        else:
            T, dim = materialized_operator(m, xin)
            r, e = ess_svd(T, pos, tol, atol)
            way, n = "svd", -1
        per_layer.append((r, e))
        dims.add(dim)
        used.append(way)
        sizes.append(n)
    if len(dims) > 1:
        raise SpecError("model", sorted(dims), "layers that share one group kind (channel or head)")
    dim = dims.pop()
    R = np.stack([r.cpu().numpy() for r, _ in per_layer])  # (layer, b, g, P)
    E = np.stack([e.cpu().numpy() for _, e in per_layer])
    d = ("layer", "sample", dim, "position")
    return xr.Dataset(
        {
            "ess": (
                d,
                R,
                {
                    "long_name": "effective state size",
                    "units": "state dimensions",
                    "definition": "#{σ_k(T[i:, :i]) > max(tol·σ_1, atol)}",
                },
            ),
            "ess_entropy": (
                d,
                E,
                {
                    "long_name": "entropy effective state size",
                    "units": "state dimensions",
                    "definition": "exp(entropy of σ_k / Σσ)",
                },
            ),
            "state_size": ("layer", np.asarray(sizes), {"long_name": "real state dimensions per group (-1: none)"}),
        },
        coords={
            "layer": np.arange(R.shape[0]),
            "sample": np.arange(R.shape[1]),
            dim: np.arange(R.shape[2]),
            "position": np.asarray(pos),
        },
        attrs=model_attrs(
            model_or_layer,
            tol=tol,
            atol=atol,
            method=",".join(used),
            reference="Parnichkun et al. 2025: rank of T[i:, :i]",
        ),
    )


def _is_float64(m: nn.Module) -> bool:
    p = next(m.parameters(), None)
    return p is not None and p.dtype == torch.float64


def ess_probe(model: nn.Module, x: torch.Tensor, n_positions: int = 16) -> xr.Dataset:
    """The dashboard's and a run's ESS probe: one sample, the SVD at ~n_positions split points
    (cheap for every layer kind at probe lengths; the full profile is `effective_state_size`)."""
    L = x.shape[1]
    pos = sorted({int(p) for p in np.linspace(1, L - 1, min(n_positions, L - 1))})
    return effective_state_size(model, x[:1], method="svd", positions=pos)
