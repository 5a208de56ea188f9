"""Continuous (A, B, Δ) to discrete (Ā, B̄) for x' = Ax + Bu sampled every Δ.

    zoh       Ā = e^{ΔA},                  B̄ = A⁻¹(e^{ΔA} - I)B   (exact for piecewise-constant u;
                                                                   Gu & Dao 2023, Mamba, eq. 4)
    bilinear  Ā = (I - ΔA/2)⁻¹(I + ΔA/2),  B̄ = (I - ΔA/2)⁻¹ΔB      (Tustin; Gu et al. 2022, S4, eq. 3)
    euler     Ā = I + ΔA,                  B̄ = ΔB                 (forward Euler, generalized bilinear α = 0)
    mamba     Ā = e^{ΔA},                  B̄ = ΔB                 (Mamba's reference code: ZOH's Ā,
                                                                   the first-order term of ZOH's B̄)
The first three are scipy.signal.cont2discrete's 'zoh', 'bilinear' and 'euler' (tests check that).

Diagonal versions work elementwise: A, B and dt broadcast together (e.g. A (H, M), dt (H, 1);
or per token in a selective scan, A (D, N), dt (L, b, D, 1)).
Dense versions take A (N, N), B (N,), dt (H,) and return Ā (H, N, N), B̄ (H, N), allocated
on A's device with A's dtype.
"""

from __future__ import annotations

import torch


def discretize_zoh(A, B, dt):
    """Ā = e^{ΔA}, B̄ = (e^{ΔA} - 1)/A · B (exact for piecewise-constant input)."""
    dtA = dt * A
    A_bar = torch.exp(dtA)
    return A_bar, (A_bar - 1) / A * B


def discretize_bilinear(A, B, dt):
    """Ā = (1 + ΔA/2)/(1 - ΔA/2), B̄ = Δ/(1 - ΔA/2) · B (Tustin)."""
    dtA = dt * A
    return (1 + dtA / 2) / (1 - dtA / 2), dt / (1 - dtA / 2) * B


def discretize_euler(A, B, dt):
    """Ā = 1 + ΔA, B̄ = ΔB (unstable where |1 + ΔA| > 1)."""
    return 1 + dt * A, dt * B


def discretize_mamba(A, B, dt):
    """Mamba's mix: Ā = e^{ΔA}, B̄ = ΔB."""
    return torch.exp(dt * A), dt * B


def discretize_zoh_dense(A, B, dt):
    """Ā = expm(ΔA); B̄ from the top-right block of expm([[A, B], [0, 0]]·Δ) (no A⁻¹ needed)."""
    N = A.shape[0]
    M = A.new_zeros(N + 1, N + 1)  # (N+1, N+1)
    M[:N, :N], M[:N, N] = A, B
    E = torch.linalg.matrix_exp(dt[:, None, None] * M)  # (H, N+1, N+1)
    return E[:, :N, :N], E[:, :N, N]


def discretize_bilinear_dense(A, B, dt):
    """Ā = (I - ΔA/2)⁻¹(I + ΔA/2), B̄ = (I - ΔA/2)⁻¹ ΔB."""
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)  # (N, N)
    half = dt[:, None, None] * A / 2  # ΔA/2 (H, N, N)
    left = eye - half
    return torch.linalg.solve(left, eye + half), torch.linalg.solve(left, dt[:, None] * B)


def discretize_euler_dense(A, B, dt):
    """Ā = I + ΔA, B̄ = ΔB."""
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)  # (N, N)
    return eye + dt[:, None, None] * A, dt[:, None] * B


def discretize_mamba_dense(A, B, dt):
    """Ā = expm(ΔA), B̄ = ΔB."""
    return torch.linalg.matrix_exp(dt[:, None, None] * A), dt[:, None] * B


DISCRETIZE = {
    "zoh": discretize_zoh,
    "bilinear": discretize_bilinear,
    "euler": discretize_euler,
    "mamba": discretize_mamba,
}
DISCRETIZE_DENSE = {
    "zoh": discretize_zoh_dense,
    "bilinear": discretize_bilinear_dense,
    "euler": discretize_euler_dense,
    "mamba": discretize_mamba_dense,
}
