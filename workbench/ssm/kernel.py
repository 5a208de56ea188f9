"""SSM convolution kernels K[ℓ] and the causal FFT convolution (S4D, Gu et al. 2022: the Vandermonde kernel).

Fast paths and their references share signatures:
  vandermonde_kernel        vs vandermonde_kernel_naive   (diagonal modes)
  krylov_kernel             vs dense_kernel_reference     (full matrices, loop over ℓ)
"""

from __future__ import annotations

import torch


def _powers(A_bar: torch.Tensor, n: int) -> torch.Tensor:
    """[Ā⁰, Ā¹, ..., Āⁿ⁻¹] (..., M, n) by doubling: exact products, no log(Ā) (Ā may be 0 or < 0)."""
    V = torch.ones(*A_bar.shape, 1, dtype=A_bar.dtype, device=A_bar.device)  # (..., M, 1)
    step = A_bar[..., None]  # Ā^k for the current width k
    while V.shape[-1] < n:
        V = torch.cat([V, V * step], -1)
        step = step * step
    return V[..., :n]


def vandermonde_kernel(
    CB: torch.Tensor, A_bar: torch.Tensor, L: int, conjugate: bool, chunk: int = 512
) -> torch.Tensor:
    """K[h, ℓ] = c·Re Σ_m CB[h,m] Ā[h,m]^ℓ with c = 2 for conjugate pairs, else 1.

    CB = C ⊙ B̄ (H, M) and Ā (H, M) complex. Chunked over ℓ so memory is O(H·M·chunk),
    not O(H·M·L): the chunk's powers are reused and Ā^{ℓ₀} is carried between chunks.
    """
    V = _powers(A_bar, min(chunk, L))  # (H, M, c)
    step = A_bar ** V.shape[-1]  # Ā^c (H, M)
    carry, out = CB, []
    for start in range(0, L, V.shape[-1]):
        width = min(V.shape[-1], L - start)
        out.append(torch.einsum("hm,hml->hl", carry, V[..., :width]))  # (H, width)
        carry = carry * step
    K = torch.cat(out, -1).real  # (H, L)
    return 2 * K if conjugate else K


def vandermonde_kernel_naive(CB, A_bar, L, conjugate, chunk=None):
    """The two-line reference: materializes Ā^ℓ as (H, M, L)."""
    ell = torch.arange(L, device=A_bar.device)
    K = (CB[..., None] * A_bar[..., None] ** ell).sum(-2).real  # (H, L)
    return 2 * K if conjugate else K


def krylov_kernel(C: torch.Tensor, A_bar: torch.Tensor, B_bar: torch.Tensor, L: int, chunk: int = 256) -> torch.Tensor:
    """K[h, ℓ] = C_h Ā_h^ℓ B̄_h for full matrices Ā (H, N, N), B̄, C (H, N).

    Within a chunk the Krylov block [B̄, ĀB̄, Ā²B̄, ...] is built by doubling (log₂ chunk
    batched matmuls); between chunks the row vector C Ā^{ℓ₀} is carried.
    """
    X = B_bar[..., None]  # (H, N, 1)
    P = A_bar  # Ā^k for the current width k
    c = min(chunk, L)
    while X.shape[-1] < c:
        X = torch.cat([X, P @ X], -1)
        P = P @ P
    X = X[..., :c]  # (H, N, c)
    Ac = torch.linalg.matrix_power(A_bar, c)  # (H, N, N)
    row, out = C[:, None, :], []  # (H, 1, N)
    for start in range(0, L, c):
        width = min(c, L - start)
        out.append((row @ X[..., :width])[:, 0])  # (H, width)
        row = row @ Ac
    return torch.cat(out, -1)


def dense_kernel_reference(C, A_bar, B_bar, L, chunk=None):
    """K[h, ℓ] = C_h Ā_h^ℓ B̄_h by iterating x ← Ā x, one ℓ at a time."""
    x, out = B_bar, []
    for _ in range(L):
        out.append((C * x).sum(-1))
        x = (A_bar @ x[..., None])[..., 0]
    return torch.stack(out, -1)  # (H, L)


def diagonal_as_dense(A_bar, B_bar, C, conjugate):
    """A diagonal complex system as a real dense one with the same kernel.

    Each mode a+ib becomes the block [[a, -b], [b, a]] on (Re x, Im x); the output
    c·Re(C x) becomes c·(Re C·Re x - Im C·Im x), with c = 2 for conjugate pairs.
    Returns (Ā (H, 2M, 2M), B̄ (H, 2M), C (H, 2M)), all real: an independent check of
    the 2·Re convention and of the Vandermonde sum.
    """
    H, M = A_bar.shape
    a, b = A_bar.real, A_bar.imag
    Ad = torch.zeros(H, 2 * M, 2 * M, dtype=a.dtype, device=a.device)
    i = torch.arange(M, device=a.device)
    Ad[:, 2 * i, 2 * i], Ad[:, 2 * i, 2 * i + 1] = a, -b
    Ad[:, 2 * i + 1, 2 * i], Ad[:, 2 * i + 1, 2 * i + 1] = b, a
    Bd = torch.stack([B_bar.real, B_bar.imag], -1).reshape(H, 2 * M)
    scale = 2.0 if conjugate else 1.0
    Cd = scale * torch.stack([C.real, -C.imag], -1).reshape(H, 2 * M)
    return Ad, Bd, Cd


def causal_fft_conv(u: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """y[..., h, t] = Σ_{s≤t} K[h, t-s] u[..., h, s] via FFTs of length 2L (no wrap-around).

    u (B, H, L), K (H, L) -> (B, H, L).
    """
    L = u.shape[-1]
    n = 2 * L
    y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(K, n=n), n=n)  # (B, H, 2L)
    return y[..., :L]
