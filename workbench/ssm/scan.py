"""The selective scan h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t, y_t = C_t·h_t + D u_t (Gu & Dao 2023, Alg. 2).

Calling convention of mamba_ssm's `selective_scan_fn`, so the two can be swapped:
    u, delta, z: (batch, D, L)   A: (D, N)   D: (D,)
    B, C: (D, N), (batch, N, L) or grouped (batch, G, N, L) (channel d reads group d // (D/G))
returns y (batch, D, L). A complex A runs in complex arithmetic and returns 2·Re, as mamba_ssm
does; its input-dependent B, C are then mamba_ssm's real (…, 2L) with real and imaginary parts
interleaved per step, or complex (…, L). `scan_args` converts at the boundary (and back to
mamba_ssm's own form for its CUDA kernel). `discretization` (an extra keyword, default Mamba's
mix Ā = e^{ΔA}, B̄ = ΔB) takes any of workbench.ssm.discretize's diagonal rules.

Fast paths: for Mamba's discretization with input-dependent B and C (the common case),
`scan_fused.fused_selective_scan`, which walks time in cache-sized chunks and recomputes in
backward (grouped B, C with G > 1 are expanded per channel and take the next path); otherwise
`linear_scan`, a two-level chunked scan (√L sequential steps within
chunks, then √L across chunk carries) whose backward is the same scan run in reverse.
Reference: `scan_ref.selective_scan_ref`, the plain sequential loop (re-exported here).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from workbench.ssm.discretize import DISCRETIZE
from workbench.ssm.scan_args import canonical, for_mamba_ssm, per_channel
from workbench.ssm.scan_fused import fused_selective_scan
from workbench.ssm.scan_ref import selective_scan_ref  # noqa: F401  (callers import it from here)


def _chunked_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t over the leading (time) dim. a, b (L, *S) -> h (L, *S)."""
    L = a.shape[0]
    T = max(1, math.isqrt(L - 1) + 1)  # chunk length ≈ √L
    n_chunks = -(-L // T)
    pad = n_chunks * T - L
    if pad:
        a = torch.cat([a, a.new_ones(pad, *a.shape[1:])])
        b = torch.cat([b, b.new_zeros(pad, *b.shape[1:])])
    a = a.view(n_chunks, T, *a.shape[1:])  # (C, T, *S)
    b = b.view(n_chunks, T, *b.shape[1:])
    h = torch.empty_like(b)
    P = torch.empty_like(a)  # prefix products of a within each chunk
    h[:, 0], P[:, 0] = b[:, 0], a[:, 0]
    for j in range(1, T):  # all chunks advance together
        torch.addcmul(b[:, j], a[:, j], h[:, j - 1], out=h[:, j])
        torch.mul(P[:, j - 1], a[:, j], out=P[:, j])
    # carries between chunks: H_c = P_c,last · H_{c-1} + h_c,last
    carry = h0 if h0 is not None else torch.zeros_like(b[0, 0])
    carries = []
    for c in range(n_chunks):
        carries.append(carry)
        carry = torch.addcmul(h[c, -1], P[c, -1], carry)
    h += P * torch.stack(carries)[:, None]  # (C, T, *S)
    return h.view(n_chunks * T, *h.shape[2:])[:L]


class LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0):
        h = _chunked_scan(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        a, h, h0 = ctx.saved_tensors
        # g_t = ∂ℓ/∂h_t + conj(a_{t+1}) g_{t+1}: the same scan, run backwards in time
        a_next = torch.cat([a[1:], torch.zeros_like(a[:1])]).conj()
        g = _chunked_scan(a_next.flip(0), grad_h.flip(0), None).flip(0)
        h_prev = torch.cat([(h0 if h0 is not None else torch.zeros_like(h[0]))[None], h[:-1]])
        grad_a = g * h_prev.conj()
        grad_h0 = (a[0].conj() * g[0]) if h0 is not None else None
        return grad_a, g, grad_h0


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t with time the leading dim: a, b (L, *S) -> (L, *S)."""
    return LinearScan.apply(a.contiguous(), b.contiguous(), h0)


def linear_scan_ref(a, b, h0=None):
    """The sequential loop over contiguous time slices."""
    h = h0 if h0 is not None else torch.zeros_like(b[0])
    out = []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0)):  # unbind: one gradient buffer, not one per step
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out)


def _time_first(X):
    """(b, N, L) -> (L, b, 1, N); (b, D, N, L) -> (L, b, D, N); (D, N) -> (1, 1, D, N)."""
    if X.dim() == 3:
        return X.permute(2, 0, 1)[:, :, None, :]
    return X.permute(3, 0, 1, 2) if X.dim() == 4 else X[None, None]


def _prepare(u, delta, A, B, C, delta_bias, delta_softplus, discretization):
    """Time-first Ā (L, b, D, N), B̄u (L, b, D, N) and C (L, b, 1|D, N) or (1, 1, D, N)."""
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    dt = delta.permute(2, 0, 1)[..., None]  # (L, b, D, 1)
    complex_ = A.is_complex()
    if complex_:
        dt = dt.to(A.dtype)
    A_bar, B_fac = DISCRETIZE[discretization](A, 1.0, dt)  # (L, b, D, N), (L, b, D, N|1)
    Bt, Ct = _time_first(B), _time_first(C)  # (L, b, 1|D, N) | (1, 1, D, N)
    Bu = B_fac * Bt * u.permute(2, 0, 1)[..., None].to(dt.dtype)  # (L, b, D, N)
    return A_bar, Bu, Ct


def _finish(y, u, D, z):
    """y (L, b, D) complex or real -> (b, D, L) with skip and gate."""
    return _finish_real(2 * y.real if y.is_complex() else y, u, D, z)


def _finish_real(y, u, D, z):
    y = y.permute(1, 2, 0)
    if D is not None:
        y = y + D[:, None] * u
    if z is not None:
        y = y * F.silu(z)
    return y


def _mamba_ssm_kernel():
    """mamba_ssm's CUDA selective scan when it is installed, else None (looked up once)."""
    global _CUDA_KERNEL
    if _CUDA_KERNEL is None:
        try:
            from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
        except ImportError:  # not installed, or built without CUDA
            selective_scan_fn = False
        _CUDA_KERNEL = selective_scan_fn
    return _CUDA_KERNEL or None


_CUDA_KERNEL = None


def _cuda_kernel_for(u, A, discretization):
    """mamba_ssm's kernel where it computes exactly this scan (CUDA, Mamba's rule, fp32 weights), else None."""
    if u.is_cuda and discretization == "mamba" and A.dtype in (torch.float32, torch.complex64):
        return _mamba_ssm_kernel()
    return None


def selective_scan(
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
    Dch = u.shape[1]
    B, C = canonical("B", B, u, A), canonical("C", C, u, A)  # (D, N) | (b, G, N, L), complex iff A is
    if (kernel := _cuda_kernel_for(u, A, discretization)) is not None:
        return kernel(
            u,
            delta,
            A,
            for_mamba_ssm(B),
            for_mamba_ssm(C),
            D=D,
            z=z,
            delta_bias=delta_bias,
            delta_softplus=delta_softplus,
            return_last_state=return_last_state,
        )
    B, C = per_channel(B, Dch), per_channel(C, Dch)  # (D, N) | (b, N, L) | (b, D, N, L) for G > 1
    if discretization == "mamba" and B.dim() == 3 and C.dim() == 3:
        if delta_bias is not None:
            delta = delta + delta_bias[:, None]
        if delta_softplus:
            delta = F.softplus(delta)
        t_first = lambda x: x.permute(2, 0, 1)  # (b, ·, L) -> (L, b, ·)
        y, last = fused_selective_scan(t_first(u), t_first(delta), A, t_first(B), t_first(C))
        y = _finish_real(y, u, D, z)
        return (y, last) if return_last_state else y
    A_bar, Bu, Ct = _prepare(u, delta, A, B, C, delta_bias, delta_softplus, discretization)
    h = linear_scan(A_bar, Bu)  # (L, b, D, N)
    y = _finish((h * Ct).sum(-1), u, D, z)
    return (y, h[-1]) if return_last_state else y
