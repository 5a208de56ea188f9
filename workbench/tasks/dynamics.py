"""Forecasting continuous dynamics: AR(p) processes and the Lorenz-63 attractor.

ar-p: every sequence draws its own stable AR(p), x_t = Σ_i a_i x_{t-i} + ε_t, ε ~ N(0, 1),
from random roots of z^p - a_1 z^{p-1} - ... - a_p inside the disc |z| <= 0.95 (conjugate
pairs, plus one real root when p is odd), so forecasting means identifying the process in
context. A burn-in reaches stationarity and x is divided by its stationary standard
deviation (from the impulse response), never by statistics of the sequence itself.
The input at t is x_t, the target x_{t+1}, scored everywhere.

lorenz: dx/dt = σ(y - x), dy/dt = x(ρ - z) - y, dz/dt = xy - βz with σ = 10, ρ = 28,
β = 8/3, integrated by RK4 at dt = 0.01 from random starts, burned in onto the attractor,
sampled every 5 steps (Δ = 0.05), standardized with fixed attractor statistics; the input
at t is the state s_t (3-dim), the target s_{t+1}.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch, numpy_rng

AR_ROOT_RADIUS = 0.95  # roots strictly inside the unit disc: a stable process
AR_BURN_IN = 200  # 0.95^200 ≈ 4e-5: the start is forgotten


def ar_roots(batch: int, p: int, gen: torch.Generator) -> torch.Tensor:
    """(B, p) complex128 roots: conjugate pairs uniform on the disc of radius 0.95, one real root if p is odd."""
    pairs = p // 2
    r = AR_ROOT_RADIUS * torch.rand(batch, pairs, generator=gen, dtype=torch.float64).sqrt()
    theta = math.pi * torch.rand(batch, pairs, generator=gen, dtype=torch.float64)
    z = torch.polar(r, theta)  # (B, p//2)
    roots = [z, z.conj()]
    if p % 2:
        real = AR_ROOT_RADIUS * (2 * torch.rand(batch, 1, generator=gen, dtype=torch.float64) - 1)
        roots.append(real.to(torch.complex128))
    return torch.cat(roots, 1)


def ar_coefficients(roots: torch.Tensor) -> torch.Tensor:
    """(B, p) real a_1..a_p with Π_j (z - r_j) = z^p - a_1 z^{p-1} - ... - a_p."""
    B, p = roots.shape
    c = torch.zeros(B, p + 1, dtype=torch.complex128)
    c[:, 0] = 1  # monic polynomial
    for j in range(p):  # multiply by (z - r_j)
        c[:, 1:] = c[:, 1:] - roots[:, j : j + 1] * c[:, :-1].clone()
    return -c[:, 1:].real


def ar_p(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L, p = spec.length(), spec.ar_order
    a = ar_coefficients(ar_roots(batch, p, gen))  # (B, p)
    steps = AR_BURN_IN + L + 1
    eps = torch.randn(batch, steps, generator=gen, dtype=torch.float64)  # (B, T)
    x = torch.zeros(batch, steps + p, dtype=torch.float64)  # p leading zeros as history
    h = torch.zeros(steps + p, dtype=torch.float64).repeat(batch, 1)  # impulse response, same recursion
    h[:, p] = 1.0
    for t in range(p, steps + p):
        past = x[:, t - p : t].flip(1)  # (B, p): x_{t-1} .. x_{t-p}
        x[:, t] = (a * past).sum(1) + eps[:, t - p]
        if t > p:
            h[:, t] = (a * h[:, t - p : t].flip(1)).sum(1)
    std = h.pow(2).sum(1, keepdim=True).sqrt()  # (B, 1) stationary std
    x = (x[:, -(L + 1) :] / std).float()  # (B, L+1)
    mask = torch.ones(batch, L, dtype=torch.bool)
    return Batch(x[:, :-1, None], x[:, 1:, None], mask)


SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
LORENZ_DT, LORENZ_EVERY, LORENZ_BURN_IN = 0.01, 5, 300  # 3 time units: starts fall onto the attractor
# Long-run mean and std of (x, y, z) on the attractor (256 × 20000 RK4 steps; x, y are symmetric).
LORENZ_MEAN = np.array([0.0, 0.0, 23.55])
LORENZ_STD = np.array([7.93, 9.01, 8.62])


def lorenz_field(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx/dt, dy/dt, dz/dt) for states given per component (B,)."""
    return SIGMA * (y - x), x * (RHO - z) - y, x * y - BETA * z


def rk4_step(s: tuple, dt: float) -> tuple:
    """One classical Runge-Kutta step; NumPy on (B,) components, as small-array ops are cheap there."""
    k1 = lorenz_field(*s)
    k2 = lorenz_field(*(v + 0.5 * dt * k for v, k in zip(s, k1)))
    k3 = lorenz_field(*(v + 0.5 * dt * k for v, k in zip(s, k2)))
    k4 = lorenz_field(*(v + dt * k for v, k in zip(s, k3)))
    return tuple(v + dt / 6 * (a + 2 * b + 2 * c + d) for v, a, b, c, d in zip(s, k1, k2, k3, k4))


def lorenz(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L = spec.length()
    rng = numpy_rng(gen)
    lo, hi = np.array([-20.0, -25.0, 5.0]), np.array([20.0, 25.0, 45.0])
    s = tuple((lo + (hi - lo) * rng.random((batch, 3))).T)  # 3 × (B,) starts in a box
    for _ in range(LORENZ_BURN_IN):
        s = rk4_step(s, LORENZ_DT)
    traj = np.empty((batch, L + 1, 3))  # (B, L+1, 3)
    for t in range(L + 1):
        for _ in range(LORENZ_EVERY):
            s = rk4_step(s, LORENZ_DT)
        traj[:, t] = np.stack(s, -1)
    traj = torch.from_numpy((traj - LORENZ_MEAN) / LORENZ_STD).float()
    mask = torch.ones(batch, L, dtype=torch.bool)
    return Batch(traj[:, :-1], traj[:, 1:], mask)
