"""The (gated) delta rule and its chunked parallel form (WY representation / UT transform).

With the state stored keys-by-values, S_t (d_k, d_v) = the transpose of the papers' S_t:

    S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ,     o_t = S_tᵀ q_t

(DeltaNet: Schlag et al. 2021, Yang et al. 2024, eq. 1 with α_t = 1; Gated DeltaNet: Yang et
al. 2025, eq. 10). Writing u_t = β_t (v_t − α_t S_{t−1}ᵀ k_t) turns it into S_t = α_t S_{t−1} +
k_t u_tᵀ. Inside a chunk with γ_t = Π_{s≤t} α_s and entering state S_0, the u_t solve one unit
lower-triangular system (the UT transform of Yang et al. 2024, §3):

    (I + A) U = diag(β) V − diag(βγ) K S_0,   A[t, j] = β_t (γ_t/γ_j) k_tᵀ k_j  (j < t)
    O = diag(γ) Q S_0 + (Q Kᵀ ⊙ Γ) U,          Γ[t, j] = γ_t/γ_j (j ≤ t), 0 above
    S_C = γ_C S_0 + Kᵀ diag(γ_C/γ) U

All chunks solve their systems at once; only the (d_k, d_v) state hops from chunk to chunk.
Shapes: q, k (b, L, h, d_k), v (b, L, h, d_v), β and log α (b, L, h) -> o (b, L, h, d_v).
`delta_rule_recurrent` (a per-step loop) is the reference with the same signature.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.ssm.ssd import segsum


def delta_rule_step(S, q_t, k_t, v_t, beta_t, log_alpha_t=None):
    """One step: S (b, h, d_k, d_v), q_t, k_t (b, h, d_k), v_t (b, h, d_v), β_t (b, h) -> (o_t, S)."""
    b = beta_t[..., None]
    kS = torch.einsum("bhk,bhkv->bhv", k_t, S)  # k_tᵀ S_{t−1}
    if log_alpha_t is not None:
        S, kS = torch.exp(log_alpha_t)[..., None, None] * S, torch.exp(log_alpha_t)[..., None] * kS
    S = S + k_t[..., :, None] * (b * (v_t - kS))[..., None, :]  # α S + β k (v − α Sᵀk)ᵀ
    return torch.einsum("bhkv,bhk->bhv", S, q_t), S


def delta_rule_recurrent(q, k, v, beta, log_alpha=None, chunk=None, state=None):
    """The sequential reference: one `delta_rule_step` per token. -> (o (b, L, h, d_v), S_L)."""
    b, L, h, dk = k.shape
    S = state if state is not None else k.new_zeros(b, h, dk, v.shape[-1])  # (b, h, d_k, d_v)
    las = log_alpha.unbind(1) if log_alpha is not None else [None] * L
    out = []
    for q_t, k_t, v_t, b_t, la_t in zip(q.unbind(1), k.unbind(1), v.unbind(1), beta.unbind(1), las):
        o_t, S = delta_rule_step(S, q_t, k_t, v_t, b_t, la_t)
        out.append(o_t)
    return torch.stack(out, 1), S


def _chunks(x, Q, n):
    """(b, L, h, ...) zero-padded to n·Q -> (b, h, n, Q, ...), contiguous: one copy here, where a
    strided view would be copied again by every batched matrix product that reads it (and saved so)."""
    pad = n * Q - x.shape[1]
    if pad:
        x = F.pad(x, (0, 0) * (x.dim() - 2) + (0, pad))
    x = x.view(x.shape[0], n, Q, *x.shape[2:])
    return x.movedim(3, 1).contiguous()


def _decay_matrix(g):
    """Γ[..., t, j] = exp(g_t − g_j) for j ≤ t, 0 above; g (..., Q) cumulative log-decays in a chunk."""
    Q = g.shape[-1]
    upper = torch.ones(Q, Q, dtype=torch.bool, device=g.device).triu(1)
    return torch.exp((g[..., :, None] - g[..., None, :]).masked_fill(upper, -torch.inf))


SEGMENT_BYTES = 8 << 20  # the size of one (b, h, chunks, Q, Q) temporary in a segment


def segment_length(b: int, h: int, Q: int, itemsize: int, budget: int = SEGMENT_BYTES) -> int:
    """Tokens per segment: a whole number of chunks whose (Q, Q) temporaries take at most `budget`
    bytes each (one chunk at least)."""
    return Q * max(1, budget // (b * h * Q * Q * itemsize))


def delta_rule_chunked(q, k, v, beta, log_alpha=None, chunk: int = 64, state=None, segment: int | None = None):
    """The chunked parallel form; same signature and results as `delta_rule_recurrent`.

    Long sequences go through in segments of whole chunks (`segment` tokens; by default as many as
    keep each (Q, Q) temporary within SEGMENT_BYTES), the state carried from one to the next. The
    work is the same; what changes is that no temporary grows with L. Tensors beyond the C
    allocator's mmap threshold (32 MiB in glibc) are fresh pages on every call, so unsegmented the
    kernel's page zeroing grew to half the time of a long fwd+bwd.
    """
    b, L, h, dk = k.shape
    Q = min(chunk, L)
    seg = segment or segment_length(b, h, Q, k.element_size())
    seg = max(Q, seg // Q * Q)
    if L <= seg:
        return _chunked_segment(q, k, v, beta, log_alpha, Q, state)
    # split (not slicing): the backward of a slice is a zero tensor as long as the whole input with
    # the slice's gradient in it, so slicing made backward O(L²/segment); split's is one concatenation
    las = log_alpha.split(seg, 1) if log_alpha is not None else [None] * -(-L // seg)
    outs = []
    for q_s, k_s, v_s, b_s, la_s in zip(q.split(seg, 1), k.split(seg, 1), v.split(seg, 1), beta.split(seg, 1), las):
        o, state = _chunked_segment(q_s, k_s, v_s, b_s, la_s, Q, state)
        outs.append(o)
    return torch.cat(outs, 1), state


def _chunked_segment(q, k, v, beta, log_alpha, Q, state):
    """One segment (or the whole sequence) in n = ⌈L/Q⌉ chunks of Q."""
    b, L, h, dk = k.shape
    Q = min(Q, L)
    n = -(-L // Q)
    # padded steps have k = v = β = 0 and log α = 0: they leave the state unchanged
    q, k, v, beta = _chunks(q, Q, n), _chunks(k, Q, n), _chunks(v, Q, n), _chunks(beta, Q, n)  # (b, h, n, Q, ·)
    la = _chunks(log_alpha, Q, n) if log_alpha is not None else torch.zeros_like(beta)  # (b, h, n, Q)
    g = torch.cumsum(la, -1)  # log γ_t inside each chunk
    Gam = _decay_matrix(g)  # (b, h, n, Q, Q) γ_t/γ_j on and below the diagonal, 0 above
    # I + A: the solve reads only the strict lower triangle (unitriangular), so the diagonal and the
    # zeros above it need no masking
    A = beta[..., None] * (k @ k.transpose(-1, -2)) * Gam  # (b, h, n, Q, Q)
    rhs = torch.cat([beta[..., None] * v, (beta * torch.exp(g))[..., None] * k], -1)  # (b, h, n, Q, d_v + d_k)
    low = k.dtype in (torch.float16, torch.bfloat16)  # triangular solves want float32 or better (autocast)
    UW = torch.linalg.solve_triangular(
        A.float() if low else A, rhs.float() if low else rhs, upper=False, unitriangular=True
    ).to(rhs.dtype)
    U, W = UW.split([v.shape[-1], dk], -1)  # U = T β V, W = T βγ K (the WY factors)
    attn = (q @ k.transpose(-1, -2)) * Gam  # (b, h, n, Q, Q)
    k_out = (k * torch.exp(g[..., -1:] - g)[..., None]).transpose(-1, -2)  # (b, h, n, d_k, Q) γ_C/γ_j k_j
    S = state if state is not None else k.new_zeros(b, h, dk, v.shape[-1])  # (b, h, d_k, d_v)
    entering, Us = [], []
    # n = L/Q sequential hops of the state only; unbind (not indexing) keeps backward to one buffer
    for U_c, W_c, k_c, a_c in zip(U.unbind(2), W.unbind(2), k_out.unbind(2), torch.exp(g[..., -1]).unbind(2)):
        entering.append(S)
        u = U_c - W_c @ S  # (b, h, Q, d_v)
        Us.append(u)
        S = a_c[..., None, None] * S + k_c @ u
    S0, U = torch.stack(entering, 2), torch.stack(Us, 2)  # (b, h, n, d_k, d_v), (b, h, n, Q, d_v)
    o = (q * torch.exp(g)[..., None]) @ S0 + attn @ U  # (b, h, n, Q, d_v)
    return o.movedim(1, 3).reshape(b, n * Q, h, -1)[:, :L], S


def delta_rule_operator(q, k, beta, log_alpha=None):
    """The materialized operator M (b, h, L, L), o = M v per head (zero initial state): the whole
    sequence as one chunk, M = (Q Kᵀ ⊙ Γ)(I + A)⁻¹ diag(β). Linear in v given q, k, β, α."""
    L = k.shape[1]
    q, k, beta = q.transpose(1, 2), k.transpose(1, 2), beta.transpose(1, 2)  # (b, h, L, ·)
    la = log_alpha.transpose(1, 2) if log_alpha is not None else torch.zeros_like(beta)
    Gam = torch.exp(segsum(la))  # (b, h, L, L), exact over the whole sequence
    A = torch.tril(beta[..., None] * (k @ k.transpose(-1, -2)) * Gam, -1)
    eye = torch.eye(L, dtype=k.dtype, device=k.device)
    T = torch.linalg.solve_triangular(A + eye, torch.diag_embed(beta), upper=False, unitriangular=True)
    return ((q @ k.transpose(-1, -2)) * Gam) @ T
