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
  reachability, n columns), σ² are the eigenvalues of M = S^H G_o S (S S^H = G_r), with the
  Gramians G_r(i) = Σ_{c<i} R R^H and G_o(i) = Σ_{r≥i} O^H O built by one forward and one
  backward recursion: O(L·n³) per group, no L×L matrix. Squaring the singular values (and a
  1e-13 relative jitter on G_r) limits it to tol ≳ 1e-6 in float64. The rank (gram_ranks.py)
  needs no spectrum where it is full: runs of consecutive splits are certified ESS = n by one
  Cholesky test, and only the others take eigvalsh, split by split; the entropy ESS (measure
  "entropy" or "both") takes every spectrum from eigvalsh.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch import nn

from workbench.analysis.gram_ranks import gram_ranks, hankel_products, outer
from workbench.analysis.operators import (
    Factors,
    layer_inputs,
    materialized_operator,
    state_factors,
)
from workbench.analysis.walk import lti_core, mixers, model_attrs
from workbench.errors import SpecError
from workbench.threads import adaptive

METHODS = ("auto", "gram", "svd")
MEASURES = ("rank", "entropy", "both")
ENTROPY_FLOOR = 1e-6  # σ_k below this fraction of σ_1 are left out of the entropy ESS (both methods)


def _rank(sig: torch.Tensor, tol: float, atol: float) -> torch.Tensor:
    """sig (..., k) non-negative singular values -> tolerance ESS (...,) float64."""
    top = sig.amax(-1, keepdim=True)
    return (sig > torch.clamp(tol * top, min=atol)).sum(-1).to(torch.float64)


def _entropy(sig: torch.Tensor, atol: float) -> torch.Tensor:
    """sig (..., k) non-negative singular values -> entropy ESS (...,)."""
    top = sig.amax(-1, keepdim=True)
    sig = torch.where(sig > ENTROPY_FLOOR * top, sig, 0.0)  # rounding noise is not state
    total = sig.sum(-1, keepdim=True)
    p = torch.where(total > 0, sig / torch.where(total > 0, total, 1.0), 0.0)
    ent = -(p * torch.log(torch.where(p > 0, p, 1.0))).sum(-1)
    return torch.where(total[..., 0] > max(atol, 0.0), torch.exp(ent), 0.0)


def _measures(sig: torch.Tensor, tol: float, atol: float, measure: str):
    """sig (..., k) -> (ESS or None, entropy ESS or None) (...,), as `measure` asks."""
    rank = _rank(sig, tol, atol) if measure != "entropy" else None
    return rank, (_entropy(sig, atol) if measure != "rank" else None)


def ess_svd(T: torch.Tensor, positions, tol: float, atol: float = 0.0, measure: str = "both"):
    """T (..., L, L) -> (ESS, entropy ESS) (..., P) at split positions `positions` (each in 1..L-1);
    None for a measure not asked for."""
    out = [_measures(torch.linalg.svdvals(T[..., i:, :i]), tol, atol, measure) for i in positions]
    return tuple(None if out[0][k] is None else torch.stack([o[k] for o in out], -1) for k in range(2))


EIG_CHUNK = 1024  # matrices per batch: each batch's factor, product and spectrum stay in cache
STEPS = 8  # time steps whose Gramian update factors (a a^H, b b^H, ...) are formed at once: they stay in cache


def _hankel_sigmas(Gr: torch.Tensor, Go: torch.Tensor) -> torch.Tensor:
    """Gr, Go (m, n, n) Gramians at m splits -> σ (m, n) ascending, by LAPACK's eigvalsh."""
    return torch.sqrt(torch.linalg.eigvalsh(hankel_products(Gr, Go)).clamp(min=0))


def ess_gram(f: Factors, tol: float, atol: float = 0.0, positions=None, measure: str = "rank", budget: int = 1 << 24):
    """(ESS or None, entropy ESS or None) (b, g, P) at split positions (default: every one, 1..L-1).

    measure "rank": gram_ranks.py (runs of splits certified full rank by one test, the rest split by
    split). An entropy needs every spectrum: time-major, one fused step per position over every group
    of a pass (diagonal A makes each Gramian update elementwise); the reachability pass stores G_r at
    the asked splits only, the observability pass hands blocks of splits to eigvalsh as it goes."""
    b, g, L, n = f.A.shape
    want = list(range(1, L)) if positions is None else [int(p) for p in positions]
    splits = sorted(set(want))  # (P,) ascending
    slot = [-1] * (L + 1)  # split -> its index in `splits`
    for k, i in enumerate(splits):
        slot[i] = k
    P = len(splits)
    dtype = torch.complex128 if any(t.is_complex() for t in (f.A, f.B, f.C)) else torch.float64
    A, B, C = (t.to(dtype).permute(2, 0, 1, 3) for t in (f.A, f.B, f.C))  # (L, b, g, n)
    back = torch.tensor([slot[i] for i in want])  # (P_asked,) in the caller's order
    if measure == "rank":
        return gram_ranks(A, B, C, splits, tol, atol, budget)[back].permute(1, 2, 0), None
    step = max(1, budget // max(1, b * P * n * n))  # groups per pass: bounds the stored Gramians
    sig = torch.empty(P, b, g, n, dtype=torch.float64)
    for g0 in range(0, g, step):
        a, bb, c = A[:, :, g0 : g0 + step], B[:, :, g0 : g0 + step], C[:, :, g0 : g0 + step]  # (L, b, s, n)
        s = a.shape[2]
        Gr = torch.empty(P, b, s, n, n, dtype=dtype)  # G_r at each split
        cur = outer(bb[0], bb[0])  # G_r(1): input 0
        if slot[1] >= 0:
            Gr[slot[1]] = cur
        for t0 in range(1, splits[-1], STEPS):  # G_r(t+1) = (a_t a_t^H)∘G_r(t) + b_t b_t^H
            t1 = min(t0 + STEPS, splits[-1])
            AA, BB = outer(a[t0:t1], a[t0:t1]), outer(bb[t0:t1], bb[t0:t1])  # (T, b, s, n, n): one op per step left
            for t in range(t0, t1):  # written in place where the split is asked for
                cur = torch.addcmul(BB[t - t0], AA[t - t0], cur, out=Gr[slot[t + 1]] if slot[t + 1] >= 0 else None)
        Go = torch.zeros(b, s, n, n, dtype=dtype)
        block = max(1, EIG_CHUNK // (b * s))  # splits per solver batch
        Gos = torch.empty(block, b, s, n, n, dtype=dtype)  # G_o at splits hi-1, hi-2, ... (descending)
        hi = P  # splits[hi:] are solved
        for t1 in range(L - 1, splits[0] - 1, -STEPS):  # G_o(t) = (a_t^H a_t)∘(c_t^H c_t + G_o(t+1)): outputs t..
            t0 = max(t1 - STEPS + 1, splits[0])
            AA = outer(a[t0 : t1 + 1], a[t0 : t1 + 1]).conj()  # (T, b, s, n, n)
            AC = AA * outer(c[t0 : t1 + 1].conj(), c[t0 : t1 + 1].conj())
            for t in range(t1, t0 - 1, -1):
                k = slot[t]
                out = Gos[hi - 1 - k] if k >= 0 else None
                if out is not None and out.data_ptr() == Go.data_ptr():
                    Go = Go.clone()
                Go = torch.addcmul(AC[t - t0], AA[t - t0], Go, out=out)
                if k < 0 or (hi - k < block and k > 0):
                    continue
                m = hi - k  # solve splits k..hi-1
                G1, G2 = Gr[k:hi].reshape(-1, n, n), Gos[:m].flip(0).reshape(-1, n, n)
                sig[k:hi, :, g0 : g0 + s] = _hankel_sigmas(G1, G2).reshape(m, b, s, n)
                hi = k
    return _measures(sig[back].permute(1, 2, 0, 3), tol, atol, measure)


def _check(tol, atol, method, measure, positions, L):
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise SpecError("tol", tol, "a relative tolerance in (0, 1)")
    if not (isinstance(atol, (int, float)) and atol >= 0):
        raise SpecError("atol", atol, "an absolute tolerance >= 0")
    if method not in METHODS:
        raise SpecError("method", method, "one of " + ", ".join(METHODS))
    if measure not in MEASURES:
        raise SpecError("measure", measure, "one of " + ", ".join(MEASURES))
    pos = list(range(1, L)) if positions is None else [int(p) for p in positions]
    if L < 2 or not pos or any(not 1 <= p <= L - 1 for p in pos):
        raise SpecError("positions", positions, f"split positions in [1, {L - 1}] (L = {L})")
    return pos


_VARS = {
    "ess": {
        "long_name": "effective state size",
        "units": "state dimensions",
        "definition": "#{σ_k(T[i:, :i]) > max(tol·σ_1, atol)}",
    },
    "ess_entropy": {
        "long_name": "entropy effective state size",
        "units": "state dimensions",
        "definition": "exp(entropy of σ_k / Σσ)",
    },
}


@torch.no_grad()
def effective_state_size(
    model_or_layer: nn.Module,
    x: torch.Tensor,
    tol: float = 1e-3,
    atol: float = 0.0,
    method: str = "auto",
    positions=None,
    measure: str = "rank",
) -> xr.Dataset:
    """ESS per (layer, sample, channel|head, position) of every mixer of a model (or of one mixer).

    x: model inputs (tokens (b, L) or (b, L, d_in)), or (b, L, H) for a bare mixer.
    method "auto" uses the Gramians where a layer has a diagonal realization, else the SVD.
    measure: "rank" (`ess`), "entropy" (`ess_entropy`) or "both"; only "rank" spares the
    Gramian path every spectrum.
    """
    model_or_layer = model_or_layer.eval()
    L = x.shape[1]
    pos = _check(tol, atol, method, measure, positions, L)
    # the forward's ops are about b·L·width elements each: on a busy machine one thread, since every
    # parallel region waits for the thread on the busy core (0.27 against 0.017 s for this model's forward
    # at L 1024); the Gramian passes take as many worker threads as this leaves (gram_ranks.py)
    width = max((p.shape[-1] for m in mixers(model_or_layer) for p in m.parameters() if p.dim() == 2), default=1)
    with adaptive(x.shape[0] * L * width):
        return _ess_dataset(model_or_layer, x, tol, atol, method, measure, pos)


def _ess_dataset(model_or_layer, x, tol, atol, method, measure, pos) -> xr.Dataset:
    per_layer, dims, used, sizes = [], set(), [], []
    for m, xin in layer_inputs(model_or_layer, x):
        f = state_factors(m, xin.double() if _is_float64(m) else xin) if method != "svd" else None
        if method == "gram" and f is None:
            raise SpecError(
                "method", method, f"'svd' or 'auto' for a {type(m).__name__} layer (no diagonal realization)"
            )
        if f is not None:
            r, e = ess_gram(f, tol, atol, pos, measure)
            dim, way, n = f.dim, "gram", f.state_size
        else:
            T, dim = materialized_operator(m, xin)
            r, e = ess_svd(T, pos, tol, atol, measure)
            way, n = "svd", -1
        per_layer.append({"ess": r, "ess_entropy": e})
        dims.add(dim)
        used.append(way)
        sizes.append(n)
    if len(dims) > 1:
        raise SpecError("model", sorted(dims), "layers that share one group kind (channel or head)")
    dim = dims.pop()
    d = ("layer", "sample", dim, "position")
    data = {
        k: (d, np.stack([p[k].cpu().numpy() for p in per_layer]), attrs)  # (layer, b, g, P)
        for k, attrs in _VARS.items()
        if per_layer[0][k] is not None
    }
    shape = next(iter(data.values()))[1].shape
    data["state_size"] = ("layer", np.asarray(sizes), {"long_name": "real state dimensions per group (-1: none)"})
    return xr.Dataset(
        data,
        coords={
            "layer": np.arange(shape[0]),
            "sample": np.arange(shape[1]),
            dim: np.arange(shape[2]),
            "position": np.asarray(pos),
        },
        attrs=model_attrs(
            model_or_layer,
            tol=tol,
            atol=atol,
            method=",".join(used),
            measure=measure,
            reference="Parnichkun et al. 2025: rank of T[i:, :i]",
        ),
    )


def _is_float64(m: nn.Module) -> bool:
    p = next(m.parameters(), None)
    return p is not None and p.dtype == torch.float64


def ess_probe(model: nn.Module, x: torch.Tensor, n_positions: int = 16) -> xr.Dataset:
    """The dashboard's and a run's ESS probe: one sample, ~n_positions split points. The Gramians
    (they solve only those splits) where a layer has a diagonal realization, as for Mamba, whose
    materialized operator costs O(L²·n) per channel; LTI models take the SVD of their Toeplitz
    block, cheaper at probe lengths than Gramians of n ~ 64 complex modes."""
    L = x.shape[1]
    pos = sorted({int(p) for p in np.linspace(1, L - 1, min(n_positions, L - 1))})
    lti = all(lti_core(m) is not None for m in mixers(model))
    return effective_state_size(model, x[:1], method="svd" if lti else "auto", positions=pos)
