"""HiPPO matrices (Gu et al. 2020) and their normal-plus-low-rank split A = S - P Pᵀ.

All functions return float64 tensors: A (N, N), B (N,), and for `nplr` also P (N, r)
and the normal part S (N, N). Index n (row) and k (column) run over 0..N-1.
"""

from __future__ import annotations

import math

import torch


def hippo_legs(N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled Legendre: A[n,k] = -√(2n+1)√(2k+1) (n>k), -(n+1) (n=k), 0 (n<k); B[n] = √(2n+1)."""
    q = torch.sqrt(2 * torch.arange(N, dtype=torch.float64) + 1)  # (N,)
    A = -torch.tril(torch.outer(q, q), -1) - torch.diag(torch.arange(1, N + 1, dtype=torch.float64))
    return A, q.clone()


def hippo_legt(N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Translated Legendre: A[n,k] = -½√(2n+1)√(2k+1)·(1 if n≥k else (-1)^(n-k)); B[n] = ½√(2n+1)."""
    q = torch.sqrt(2 * torch.arange(N, dtype=torch.float64) + 1)  # (N,)
    n = torch.arange(N)
    sign = torch.where(n[:, None] >= n[None, :], 1.0, (-1.0) ** (n[:, None] - n[None, :]).double())
    return -0.5 * torch.outer(q, q) * sign, 0.5 * q


def hippo_lagt(N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Translated Laguerre: A = I/2 - tril(ones) (diagonal -½, strictly lower -1); B = ones."""
    A = 0.5 * torch.eye(N, dtype=torch.float64) - torch.tril(torch.ones(N, N, dtype=torch.float64))
    return A, torch.ones(N, dtype=torch.float64)


def hippo_fout(N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Translated Fourier on [DC, cos₁, sin₁, cos₂, sin₂, ...]: rotations at πj minus B Bᵀ.

    B = [1, √2, 0, √2, 0, ...] (the cosines and the DC term see the input). For even N the
    last cosine would have no sine partner, yet still couple to every mode through B Bᵀ and
    spoil the projection; it is kept as a decoupled dummy state (B = 0), as s4 keeps a dummy sine.
    """
    B = torch.zeros(N, dtype=torch.float64)
    B[0] = 1.0
    B[1::2] = math.sqrt(2)
    if N % 2 == 0 and N > 1:
        B[-1] = 0.0
    K = torch.zeros(N, N, dtype=torch.float64)  # skew-symmetric rotation generator
    for j in range(1, (N - 1) // 2 + 1):
        c, s = 2 * j - 1, 2 * j
        K[c, s], K[s, c] = -math.pi * j, math.pi * j
    return K - torch.outer(B, B), B


HIPPO = {"legs": hippo_legs, "legt": hippo_legt, "lagt": hippo_lagt, "fout": hippo_fout}


def low_rank_term(measure: str, N: int) -> torch.Tensor:
    """P (N, r) with A + P Pᵀ normal: r = 1 for LegS, LagT, FouT; r = 2 for LegT."""
    n = torch.arange(N, dtype=torch.float64)
    if measure == "legs":
        return torch.sqrt(n + 0.5)[:, None]
    if measure == "legt":
        q = torch.sqrt(2 * n + 1)
        return torch.stack([0.5 * q, 0.5 * q * (-1.0) ** n], 1)
    if measure == "lagt":
        return torch.full((N, 1), math.sqrt(0.5), dtype=torch.float64)
    if measure == "fout":
        return HIPPO["fout"](N)[1][:, None]
    raise KeyError(measure)


def nplr(measure: str, N: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A, B, P, S) with A = S - P Pᵀ and S normal (a multiple of I plus a skew-symmetric part)."""
    A, B = HIPPO[measure](N)
    P = low_rank_term(measure, N)  # (N, r)
    return A, B, P, A + P @ P.T


def normal_eig(S: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition S = V diag(w) V* of a normal S = cI + K (K skew) with unitary V.

    Uses the Hermitian matrix iK so V is orthonormal to machine precision even where
    eigenvalues cluster (a general `eig` loses orthogonality there).
    """
    c = torch.diagonal(S).mean()
    K = S - c * torch.eye(S.shape[0], dtype=S.dtype)
    lam, V = torch.linalg.eigh(1j * K.to(torch.complex128))  # K = V (-i lam) V*
    return c - 1j * lam, V
