"""Recurrent mode: one step x_k = Ā x_{k-1} + B̄ u_k, y_k = c·Re(C x_k) + D u_k, and the
slow sequential reference that runs it over a whole sequence."""

from __future__ import annotations

import torch


def diagonal_step(x, u_t, A_bar, B_bar, C, D, conjugate):
    """x (B, H, M) complex, u_t (B, H) -> (y_t (B, H), x)."""
    x = A_bar * x + B_bar * u_t[..., None].to(B_bar.dtype)
    y = (C * x).sum(-1).real
    return (2 * y if conjugate else y) + D * u_t, x


def dense_step(x, u_t, A_bar, B_bar, C, D, conjugate=False):
    """x (B, H, N) real; Ā (H, N, N)."""
    x = torch.einsum("hnk,bhk->bhn", A_bar, x) + B_bar * u_t[..., None]
    return (C * x).sum(-1) + D * u_t, x


def zero_state(batch, A_bar, dense):
    H, M = A_bar.shape[0], A_bar.shape[-1]
    return torch.zeros(batch, H, M, dtype=A_bar.dtype, device=A_bar.device)


def run_recurrence(u, p):
    """Sequential reference: u (B, L, H) through the record `p` (from `materialize`) -> (B, L, H)."""
    step = dense_step if p.dense else diagonal_step
    x = zero_state(u.shape[0], p.A_bar, p.dense)
    ys = []
    for t in range(u.shape[1]):
        y, x = step(x, u[:, t], p.A_bar, p.B_bar, p.C, p.D, p.conjugate_pairs)
        ys.append(y)
    return torch.stack(ys, 1)


def split_heads(d_model: int, heads: int, expand: int = 1) -> tuple[int, int, int]:
    """(E = expand·d_model, heads, head size), or the one-line error when heads does not divide E."""
    E = expand * d_model
    if E % heads:
        from workbench.errors import SpecError

        raise SpecError("model.heads", heads, f"a divisor of expand·d_model = {E}")
    return E, heads, E // heads


def step_loop(layer, x):
    """Any layer's sequential reference: its `step` run over x (B, L, H) -> (B, L, H)."""
    state, ys = None, []
    for x_t in x.unbind(1):
        y, state = layer.step(x_t, state)
        ys.append(y)
    return torch.stack(ys, 1)
