"""The sequential reference of the selective scan, written from mamba_ssm's `selective_scan_ref` semantics
and sharing no code with the fast paths (it reads B and C's layouts itself).

    h_t = Ā_t h_{t-1} + B̄_t u_t,  y_t = c·Re(C_t·h_t) + D u_t,  out = y·SiLU(z)
with (Ā_t, B̄_t) from Δ_t by `discretization` (default Mamba's Ā = e^{ΔA}, B̄ = ΔB) and c = 2 for
complex A (conjugate pairs), 1 otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.ssm.discretize import DISCRETIZE


def _read_bc(X, D, cplx):
    """Any accepted layout -> (batch|1, D|1, L|1, N): the value each channel sees at each step."""
    if cplx and not X.is_complex():
        X = X if X.dtype in (torch.float32, torch.float64) else X.float()
        # (D, N): real values; otherwise mamba_ssm's interleaved parts, even positions real, odd imaginary
        X = torch.complex(X, torch.zeros_like(X)) if X.dim() == 2 else torch.complex(X[..., 0::2], X[..., 1::2])
    if X.dim() == 2:  # (D, N)
        return X[None, :, None, :]
    if X.dim() == 3:  # (batch, N, L): one row for every channel
        return X.transpose(1, 2)[:, None]
    groups = torch.arange(D, device=X.device) // (D // X.shape[1])  # (batch, G, N, L): channel d, group d // (D/G)
    return X[:, groups].transpose(2, 3)


def selective_scan_ref(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    discretization="mamba",
):
    """u, delta, z (batch, D, L); A (D, N); B, C as `selective_scan` takes them -> y (batch, D, L)."""
    batch, Dch, L = u.shape
    cplx = A.is_complex()
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    dt = delta[..., None]  # (b, D, L, 1)
    A_bar, B_fac = DISCRETIZE[discretization](A[:, None, :], 1.0, dt.to(A.dtype) if cplx else dt)  # (b, D, L, N)
    Bu = B_fac * _read_bc(B, Dch, cplx) * u[..., None]  # (b, D, L, N)
    Cs = _read_bc(C, Dch, cplx)  # (b|1, D|1, L|1, N)
    h = torch.zeros(batch, Dch, A.shape[1], dtype=A_bar.dtype, device=u.device)  # (b, D, N)
    # per-step slices by unbind: its backward stacks the L gradients once, where indexing [:, :, t]
    # would allocate a whole (b, D, L, N) gradient per step (quadratic in L: 70 s at L 1024)
    A_t, Bu_t = A_bar.expand(-1, -1, L, -1).unbind(2), Bu.expand(-1, -1, L, -1).unbind(2)
    C_t = Cs.expand(-1, -1, L, -1).unbind(2)
    ys = []
    for t in range(L):
        h = A_t[t] * h + Bu_t[t]
        y = (h * C_t[t]).sum(-1)  # (b, D)
        ys.append(2 * y.real if cplx else y)
    y = torch.stack(ys, -1)  # (b, D, L)
    if D is not None:
        y = y + D[:, None] * u
    if z is not None:
        y = y * F.silu(z)
    return (y, h) if return_last_state else y
