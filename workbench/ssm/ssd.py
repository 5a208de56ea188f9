"""Mamba-2's state space duality (Dao & Gu 2024): one scalar decay a per head.

    h_t = exp(Δ_t a) h_{t-1} + Δ_t x_t B_tᵀ,   y_t = h_t C_t
    y_i = Σ_{j≤i} (C_i·B_j) exp(Σ_{k=j+1..i} Δ_k a) Δ_j x_j          (quadratic form)

x (b, L, h, P), dt (b, L, h), a (h,) negative, B, C (b, L, N) -> y (b, L, h, P).
`ssd_chunked` (quadratic inside chunks, recurrent states between them) is the fast path;
`ssd_quadratic` and `ssd_recurrent` are references with the same signature.
"""

from __future__ import annotations

import torch


def segsum(x: torch.Tensor) -> torch.Tensor:
    """S[..., i, j] = Σ_{k=j+1..i} x[..., k] for j ≤ i, -inf above the diagonal. x (..., T) -> (..., T, T).

    Built from masked cumulative sums (not differences of one long cumsum) so it stays exact.
    """
    T = x.shape[-1]
    rep = x[..., None, :].expand(*x.shape, T).transpose(-1, -2)  # rep[..., i, j] = x[..., i]
    strict = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device), -1)
    S = torch.cumsum(rep.masked_fill(~strict, 0), dim=-2)
    return S.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device)), -torch.inf)


def ssd_quadratic(x, dt, a, B, C, chunk=None):
    """The matrix (attention-like) form, O(L²) memory: the reference for one chunk of `ssd_chunked`."""
    decay = torch.exp(segsum((dt * a).transpose(1, 2)))  # (b, h, L, L)
    scores = torch.einsum("bin,bjn->bij", C, B)[:, None] * decay  # (b, h, L, L)
    return torch.einsum("bhij,bjh,bjhp->bihp", scores, dt, x)


def ssd_recurrent(x, dt, a, B, C, chunk=None):
    b, L, h, P = x.shape
    state = x.new_zeros(b, h, P, B.shape[-1])
    ys = []
    for t in range(L):
        state = (
            torch.exp(dt[:, t] * a)[..., None, None] * state
            + (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, None, None, :]
        )
        ys.append(torch.einsum("bhpn,bn->bhp", state, C[:, t]))
    return torch.stack(ys, 1)


def ssd_chunked(x, dt, a, B, C, chunk: int = 64):
    b, L, h, P = x.shape
    Q = min(chunk, L)
    pad = (-L) % Q
    if pad:  # zero Δ and x past the end change nothing before it
        x, dt = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad)), torch.nn.functional.pad(dt, (0, 0, 0, pad))
        B, C = torch.nn.functional.pad(B, (0, 0, 0, pad)), torch.nn.functional.pad(C, (0, 0, 0, pad))
    c = x.shape[1] // Q
    x, dt = x.view(b, c, Q, h, P), dt.view(b, c, Q, h)
    B, C = B.view(b, c, Q, -1), C.view(b, c, Q, -1)
    la = (dt * a).permute(0, 3, 1, 2)  # (b, h, c, Q) log-decay per step
    cum = torch.cumsum(la, -1)  # (b, h, c, Q)
    # 1. inside each chunk: the quadratic form
    scores = torch.einsum("bcin,bcjn->bcij", C, B)[:, None] * torch.exp(segsum(la))  # (b, h, c, Q, Q)
    y = torch.einsum("bhcij,bcjh,bcjhp->bcihp", scores, dt, x)
    # 2. the state each chunk leaves behind (from its own inputs)
    to_end = torch.exp(cum[..., -1:] - cum)  # (b, h, c, Q)
    states = torch.einsum("bhcj,bcjh,bcjhp,bcjn->bchpn", to_end, dt, x, B)  # (b, c, h, P, N)
    # 3. carry states across chunks (c is small: a short loop)
    chunk_decay = torch.exp(cum[..., -1])  # (b, h, c)
    carried, run = [], torch.zeros_like(states[:, 0])
    for k in range(c):
        carried.append(run)
        run = chunk_decay[:, :, k, None, None] * run + states[:, k]
    carried = torch.stack(carried, 1)  # (b, c, h, P, N) state entering each chunk
    # 4. what the entering state contributes inside the chunk
    y = y + torch.einsum("bcin,bchpn,bhci->bcihp", C, carried, torch.exp(cum))
    return y.reshape(b, c * Q, h, P)[:, :L]
