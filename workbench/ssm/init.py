"""Initializations of A and B (HiPPO, Gu et al. 2020; S4D, Gu et al. 2022; LRU, Orvieto et al. 2023; PTD, Yu et al. 2023). Pure functions returning float64/complex128.

A diagonal init returns `DiagonalInit`: A (H, M) complex continuous-time modes, B (H, M),
`conjugate` (True: M = N/2 modes and the kernel takes 2·Re; False: M = N modes, Re), and
`info` (numbers worth showing, e.g. PTD's eigenvector condition number).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from workbench.ssm.hippo import HIPPO, normal_eig, nplr


@dataclass
class DiagonalInit:
    A: torch.Tensor  # (H, M) complex128
    B: torch.Tensor  # (H, M) complex128
    conjugate: bool
    info: dict = field(default_factory=dict)
    dt: torch.Tensor | None = None  # (H,) when the init fixes Δ itself (LRU: Δ ≡ 1)


def _tile(v: torch.Tensor, H: int) -> torch.Tensor:
    return v.to(torch.complex128)[None].expand(H, -1).clone()


def s4d_lin(H, N, gen):
    """A_n = -½ + iπn: a damped Fourier basis."""
    n = torch.arange(N // 2, dtype=torch.float64)
    return DiagonalInit(_tile(-0.5 + 1j * math.pi * n, H), _tile(torch.ones(N // 2), H), True)


def s4d_inv(H, N, gen):
    """A_n = -½ + i(N/π)(N/(2n+1) - 1): approximates S4D-LegS' imaginary parts."""
    n = torch.arange(N // 2, dtype=torch.float64)
    A = -0.5 + 1j * (N / math.pi) * (N / (2 * n + 1) - 1)
    return DiagonalInit(_tile(A, H), _tile(torch.ones(N // 2), H), True)


def s4d_legs(H, N, gen):
    """Eigenvalues of LegS' normal part S (real part -½); B = V*(B_LegS/2).

    With this B the diagonal basis e^{tS}·B/2 converges (weakly) to LegS' e^{tA}B as N grows.
    """
    _, B, _, S = nplr("legs", N)
    w, V = normal_eig(S)  # (N,), (N, N)
    Bm = V.conj().T @ (B.to(torch.complex128) / 2)  # (N,)
    keep = torch.argsort(w.imag, descending=True)[: N // 2]  # one of each conjugate pair
    keep = keep[torch.argsort(w.imag[keep])]  # slowest oscillation first
    return DiagonalInit(_tile(w[keep], H), _tile(Bm[keep], H), True)


def s4d_real(H, N, gen):
    """A_n = -(n+1), N real modes (Mamba's choice); B = 1."""
    n = torch.arange(N, dtype=torch.float64)
    return DiagonalInit(_tile(-(n + 1), H), _tile(torch.ones(N), H), False)


def random_init(H, N, gen):
    """A_n = -½ + iπ·U(0, N/2) per channel: the s4d-lin range with random frequencies."""
    im = math.pi * (N // 2) * torch.rand(H, N // 2, generator=gen, dtype=torch.float64)
    im = torch.sort(im, dim=1).values
    return DiagonalInit((-0.5 + 1j * im).to(torch.complex128), _tile(torch.ones(N // 2), H), True)


def lru_ring(H, N, gen, r_min=0.9, r_max=0.999, max_phase=2 * math.pi):
    """LRU (Orvieto et al. 2023): |λ|² ~ U[r_min², r_max²], arg λ ~ U[0, max_phase].

    Returned as the continuous A = log λ with Δ ≡ 1, so ZOH gives back λ exactly;
    N complex modes with y = Re(C x), as in the LRU. The γ = √(1-|λ|²) input
    normalization is applied by the layer.
    """
    u1 = torch.rand(H, N, generator=gen, dtype=torch.float64)
    u2 = torch.rand(H, N, generator=gen, dtype=torch.float64)
    mag2 = r_min**2 + u1 * (r_max**2 - r_min**2)
    A = 0.5 * torch.log(mag2) + 1j * max_phase * u2  # log λ
    return DiagonalInit(A.to(torch.complex128), _tile(torch.ones(N), H), False, dt=torch.ones(H, dtype=torch.float64))


def ptd_legs(H, N, gen, eps=1e-4):
    """Perturb-then-diagonalize (Yu, Mahoney, Erichson 2023): eig of A_LegS + E.

    E is a seeded Gaussian matrix scaled to ‖E‖₂ = eps·‖A‖₂. The diagonal system
    (Λ, V⁻¹B) realizes A+E exactly; κ(V) says how much accuracy the change of basis costs.
    All N modes are kept (no conjugate pairing assumed), so the kernel takes Re.
    """
    A, B = HIPPO["legs"](N)
    G = torch.randn(N, N, generator=gen, dtype=torch.float64)
    E = eps * torch.linalg.matrix_norm(A, 2) * G / torch.linalg.matrix_norm(G, 2)
    w, V = torch.linalg.eig(A + E)  # (N,), (N, N) with unit columns
    Bm = torch.linalg.solve(V, B.to(torch.complex128))
    order = torch.argsort(w.imag)
    info = {
        "kappa_V": float(torch.linalg.cond(V)),
        "perturbation_norm": float(torch.linalg.matrix_norm(E, 2)),
        "relative_perturbation": eps,
    }
    return DiagonalInit(_tile(w[order], H), _tile(Bm[order], H), False, info)


DIAGONAL = {
    "s4d-lin": s4d_lin,
    "s4d-inv": s4d_inv,
    "s4d-legs": s4d_legs,
    "s4d-real": s4d_real,
    "random": random_init,
    "lru-ring": lru_ring,
    "ptd-legs": ptd_legs,
}


def dense_hippo(init: str, N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A (N, N), B (N,) for a dense 'hippo-<measure>' init."""
    return HIPPO[init.removeprefix("hippo-")](N)


def log_uniform_dt(H: int, dt_min: float, dt_max: float, gen: torch.Generator) -> torch.Tensor:
    """Δ (H,) log-uniform on [dt_min, dt_max]."""
    u = torch.rand(H, generator=gen, dtype=torch.float64)
    return torch.exp(math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min)))
