"""The implicit attention of a selective SSM (Ali et al. 2024): y_i = Σ_j α_ij u_j + D u_i.

α_ij[d] = c·Re Σ_n C_i[n] (Π_{k=j+1..i} Ā_k[d,n]) B̄_j[d,n], with Ā, B̄ from the layer's
discretization (Mamba's mix: exp(A_n Σ Δ_k) and Δ_j B_j[n]); c = 2 for complex modes.
"""

from __future__ import annotations

import torch

from workbench.ssm.discretize import DISCRETIZE
from workbench.ssm.ssd import segsum


def _discrete(layer, x: torch.Tensor):
    """A (D, N), Ā and B̄ (B, D, L, N), C (B|1, 1|D, L|1, N) of a Mamba mixer on its input x (B, L, H)."""
    u, delta, A, B, C, D, z = layer.scan_inputs(x)  # u, Δ (B, D, L); A (D, N); B, C (B, N, L) or (D, N)
    dt = delta[..., None].to(A.dtype)  # (B, D, L, 1)
    A_bar, B_fac = DISCRETIZE[layer.discretization](A[:, None, :], 1.0, dt)  # (B, D, L, N)
    Bt = B.transpose(1, 2)[:, None] if B.dim() == 3 else B[None, :, None]  # (B|1, 1|D, L|1, N)
    Ct = C.transpose(1, 2)[:, None] if C.dim() == 3 else C[None, :, None]
    return A, A_bar, (B_fac * Bt).expand_as(A_bar), Ct


@torch.no_grad()
def hidden_attention(layer, x: torch.Tensor) -> torch.Tensor:
    """α (B, D, L, L) of a Mamba mixer on its input x (B, L, H); zero above the diagonal."""
    A, A_bar, B_bar, Ct = _discrete(layer, x)
    log_a = (
        torch.log(A_bar.to(torch.complex128 if A_bar.dtype == torch.float64 else torch.complex64))
        if (not A_bar.is_complex() and bool((A_bar <= 0).any()))
        else torch.log(A_bar)
    )
    decay = torch.exp(segsum(log_a.transpose(-1, -2)))  # (B, D, N, L, L): Π_{k=j+1..i} Ā_k
    alpha = torch.einsum("bdin,bdnij,bdjn->bdij", Ct.expand_as(B_bar).to(decay.dtype), decay, B_bar.to(decay.dtype))
    return 2 * alpha.real if A.is_complex() else alpha.real


@torch.no_grad()
def impulse_response(layer, x: torch.Tensor) -> torch.Tensor:
    """α[:, :, :, 0] (B, D, L) of `hidden_attention`: the response at every position to position 0.

    One column needs only the running product Π_{k=1..i} Ā_k (a cumulative product, O(D·N·L)),
    not the (B, D, N, L, L) decay tensor: the dashboard's kernel view of a selective layer waits on it."""
    A, A_bar, B_bar, Ct = _discrete(layer, x)
    B_bar0 = B_bar[:, :, :1]  # (B, D, 1, N): the source at position 0
    decay = torch.cat([torch.ones_like(A_bar[:, :, :1]), torch.cumprod(A_bar[:, :, 1:], dim=2)], dim=2)
    alpha = (Ct.expand_as(A_bar).to(decay.dtype) * decay * B_bar0.to(decay.dtype)).sum(-1)  # (B, D, L)
    return 2 * alpha.real if A.is_complex() else alpha.real
