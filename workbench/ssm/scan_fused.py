"""Fused selective scan for Mamba's discretization (Ā = exp(ΔA), B̄u = Δ B u), forward and backward.

Time is walked in chunks of T steps; only the state entering each chunk is kept (memory
O(b·D·N·L/T) instead of O(b·D·N·L)), and backward recomputes a chunk's Ā, B̄u and states from
that state before running the reverse scan through it. Every large elementwise tensor is
chunk-sized, so it stays in cache, and lives in a buffer allocated once per call: a fresh
(T, b, D, N) tensor per chunk is above glibc's mmap threshold, and its page faults cost up to
half the time (measured at b8 D128 L1024 fwd+bwd: 130–240 ms before, ~107 ms after). Complex A
(with complex B, C) follows PyTorch's convention for complex gradients: each product's partner
enters conjugated.

Inputs are time-first: u, dt (L, b, D) real; A (D, N); B, C (L, b, N). Returns y (L, b, D) =
Σ_n C h (2·Re for complex modes), without D and the gate.
"""

from __future__ import annotations

import torch

from workbench import threads

CHUNK = 0  # steps per chunk; 0 = sized to the cache by `chunk_steps`
# A chunk's (T, b, D, N) tensors hold ~512K entries (2 MB): a parallel op splits one over the cores'
# L2s, and fewer, larger chunks mean fewer OpenMP wake-ups and less Python per step. Measured at
# b8 D128 N16 fwd+bwd on 2 cores (2^17 / 2^18 / 2^19 entries): L1024 105 / 91 / 85 ms, L4096
# 452 / 400 / 369 ms; on one thread L1024 148 / - / 134 ms. (Sizing T at all, instead of 64 steps, was 4x at b32 D128 L80.)
CHUNK_ELEMENTS = 1 << 19


def chunk_steps(b: int, D: int, N: int) -> int:
    """T: a power of two in [8, 64] keeping T·b·D·N within CHUNK_ELEMENTS (fewer steps: Python overhead wins)."""
    if CHUNK:
        return CHUNK
    T = 8
    while T < 64 and 2 * T * b * D * N <= CHUNK_ELEMENTS:
        T *= 2
    return T


def _chunk_states(dt, u, A, B, h, dA, hs):
    """Fill Ā and the states h_t, each (T, b, D, N), of one chunk from the entering state h (b, D, N)."""
    torch.mul(dt[..., None], A, out=dA).exp_()
    torch.mul((dt * u)[..., None], B[:, :, None, :], out=hs)  # B̄u, overwritten in place by the states
    hs[0].addcmul_(dA[0], h)
    for t in range(1, dt.shape[0]):
        hs[t].addcmul_(dA[t], hs[t - 1])


def _sum(a, b, dim, tmp):
    """(a·b).sum(dim) through the scratch buffer tmp (broadcast-and-sum beats tiny batched matvecs)."""
    return torch.mul(a, b, out=tmp).sum(dim)


class FusedSelectiveScan(torch.autograd.Function):
    """Both passes run under the thread policy (workbench.threads): one thread when the chunk ops are
    small or another process holds the other core, since every chunk is hundreds of short parallel ops."""

    @staticmethod
    def forward(ctx, u, dt, A, B, C):
        b, D = u.shape[1:]
        with threads.adaptive(chunk_steps(b, D, A.shape[-1]) * b * D * A.shape[-1]):
            return FusedSelectiveScan._forward(ctx, u, dt, A, B, C)

    @staticmethod
    def backward(ctx, dy, _dlast):
        u, A = ctx.saved_tensors[0], ctx.saved_tensors[2]
        with threads.adaptive(ctx.T * u.shape[1] * u.shape[2] * A.shape[-1]):
            return FusedSelectiveScan._backward(ctx, dy)

    @staticmethod
    def _forward(ctx, u, dt, A, B, C):
        u, dt, B, C = u.contiguous(), dt.contiguous(), B.contiguous(), C.contiguous()  # chunk slices stay dense
        L, b, D = u.shape
        N, cplx = A.shape[-1], A.is_complex()
        state_dtype = A.dtype if cplx else u.dtype
        T = chunk_steps(b, D, N)
        if ctx is not None:
            ctx.T = T
        dA, hs, tmp = (torch.empty(T, b, D, N, dtype=state_dtype, device=u.device) for _ in range(3))
        h = torch.zeros(b, D, N, dtype=state_dtype, device=u.device)
        y = torch.empty_like(u)
        entering = []
        for s in range(0, L, T):
            e, n = slice(s, min(s + T, L)), min(T, L - s)
            if ctx is not None:  # kept for backward's recomputation only
                entering.append(h)
            _chunk_states(dt[e], u[e], A, B[e], h, dA[:n], hs[:n])
            y_e = _sum(hs[:n], C[e][:, :, None, :], -1, tmp[:n])  # (n, b, D)
            y[e] = 2 * y_e.real if cplx else y_e
            h = hs[n - 1].clone()  # the buffer is overwritten by the next chunk
        if ctx is not None:
            ctx.save_for_backward(u, dt, A, B, C, torch.stack(entering))
            ctx.mark_non_differentiable(h)
        return y, h

    @staticmethod
    def _backward(ctx, dy):
        u, dt, A, B, C, entering = ctx.saved_tensors
        L, cplx, T = u.shape[0], A.is_complex(), ctx.T
        dy = dy.to(A.dtype) * (2 if cplx else 1)  # y = 2·Re(·): its gradient w.r.t. the complex sum
        du, ddt = torch.empty_like(u), torch.empty_like(dt)
        dB, dC = torch.empty_like(B), torch.empty_like(C)
        dA = torch.zeros_like(A)
        Abar_buf, hs_buf, g_buf, gA_buf, tmp_buf = (
            torch.empty(T, *entering.shape[1:], dtype=entering.dtype, device=u.device) for _ in range(5)
        )
        g_next = None  # Ā_{t+1}·g_{t+1} flowing into the previous chunk's last step
        starts = list(range(0, L, T))
        for k in reversed(range(len(starts))):
            e, n = slice(starts[k], min(starts[k] + T, L)), min(T, L - starts[k])
            Abar, hs, g, gA, tmp = Abar_buf[:n], hs_buf[:n], g_buf[:n], gA_buf[:n], tmp_buf[:n]
            h0 = entering[k]
            _chunk_states(dt[e], u[e], A, B[e], h0, Abar, hs)
            dy_e = dy[e][..., None]  # (n, b, D, 1)
            dC[e] = _conj_real(_sum(hs.conj(), dy_e, 2, tmp), C)
            # the reverse scan runs in place: g_t = ∂ℓ/∂h_t (read-out) + conj(Ā_{t+1}) g_{t+1}
            torch.mul(dy_e, C[e][:, :, None, :].conj(), out=g)
            if g_next is not None:
                g[-1] += g_next
            for t in range(n - 1, 0, -1):
                g[t - 1].addcmul_(Abar[t].conj(), g[t])
            g_next = Abar[0].conj() * g[0]
            # ∂ℓ/∂(ΔA) through exp: g_t · conj(h_{t-1} Ā_t); h_{-1} is the entering state
            torch.mul(g, Abar.conj(), out=gA)
            gA[1:] *= hs[:-1].conj()
            gA[0] *= h0.conj()
            dt_e = dt[e][..., None]  # (n, b, D, 1)
            dA += _sum(gA, dt_e, (0, 1), tmp)
            gBsum = _sum(g, B[e][:, :, None, :].conj(), -1, tmp)  # Σ_n g·conj(B) (n, b, D)
            ddt[e] = (_sum(gA, A.conj(), -1, tmp) + gBsum * u[e]).real
            du[e] = (gBsum * dt[e]).real
            dB[e] = _conj_real(_sum(g, (dt[e] * u[e])[..., None], 2, tmp), B)
        return du, ddt, dA, dB, dC


def _conj_real(grad, like):
    return grad if like.is_complex() else grad.real


threads.prime()  # the first load reading then needs no wait


def fused_selective_scan(u, dt, A, B, C):
    """(y (L, b, D), last state (b, D, N)); the last state carries no gradient. Without gradients
    (inference, probes) the forward runs outside autograd: no chunk's entering state is kept."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (u, dt, A, B, C)):
        return FusedSelectiveScan.apply(u, dt, A, B, C)
    b, D = u.shape[1:]
    with threads.adaptive(chunk_steps(b, D, A.shape[-1]) * b * D * A.shape[-1]):
        return FusedSelectiveScan._forward(None, u, dt, A, B, C)
