"""Continuous memory tasks: adding, linear functionals with long memory (lf-memory), delay.

adding (Hochreiter & Schmidhuber 1997; as in Le et al. 2015 / Arjovsky et al. 2016): each
step is (value ~ U[0, 1], marker ∈ {0, 1}); exactly two markers, one in each half; the
target at the last step is the sum of the two marked values. Predicting the mean (1)
scores MSE = Var(U1 + U2) = 1/6 ≈ 0.167, the bar a model must beat.

lf-memory (Wang & Li, StableSSM 2023): x_t white noise N(0, 1) and
y_t = Σ_{s=0}^{t} ρ(s) x_{t-s}, with ρ(s) = e^{-s} (exponential memory) or
(1 + 0.1 s)^{-1.1} (polynomial memory), s in steps; regression at every step.

delay (HiPPO/LMU-style): u is band-limited white noise (Gaussian Fourier coefficients up
to `cutoff` × Nyquist, unit RMS per sequence); the target at step t is u_{t-lag}, scored
for t >= lag.
"""

from __future__ import annotations

import math

import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch


def adding(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L = spec.length()
    half = L // 2
    values = torch.rand(batch, L, generator=gen)  # (B, L) in [0, 1)
    first = torch.randint(0, half, (batch, 1), generator=gen)  # (B, 1) in the first half
    second = torch.randint(half, L, (batch, 1), generator=gen)  # (B, 1) in the second half
    markers = torch.zeros(batch, L).scatter_(1, first, 1.0).scatter_(1, second, 1.0)
    inputs = torch.stack([values, markers], -1)  # (B, L, 2)
    targets = torch.zeros(batch, L, 1)
    targets[:, -1, 0] = values.gather(1, first)[:, 0] + values.gather(1, second)[:, 0]
    mask = torch.zeros(batch, L, dtype=torch.bool)
    mask[:, -1] = True
    return Batch(inputs, targets, mask)


def memory_rho(kind: str, L: int) -> torch.Tensor:
    """ρ(s) for s = 0..L-1 (float64): the memory of the target functional."""
    s = torch.arange(L, dtype=torch.float64)
    if kind == "exponential":
        return torch.exp(-s)
    return (1 + 0.1 * s) ** -1.1


def lf_memory(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L = spec.length()
    x = torch.randn(batch, L, generator=gen, dtype=torch.float64)  # (B, L)
    rho = memory_rho(spec.rho, L)  # (L,)
    lag = torch.arange(L)[:, None] - torch.arange(L)[None, :]  # (L, L): t - τ
    toeplitz = torch.where(lag >= 0, rho[lag.clamp(min=0)], 0.0)  # (L, L): ρ(t - τ), causal
    y = x @ toeplitz.T  # (B, L): y_t = Σ_τ ρ(t-τ) x_τ
    mask = torch.ones(batch, L, dtype=torch.bool)
    return Batch(x.float()[..., None], y.float()[..., None], mask)


def band_limited_noise(batch: int, L: int, cutoff: float, gen: torch.Generator) -> torch.Tensor:
    """(B, L) zero-mean noise with energy only below cutoff·Nyquist, unit RMS per row.

    Drawn at length 2L and cropped, so a sequence is not periodic with period L.
    """
    n = 2 * L
    kmax = max(1, math.floor(cutoff * n / 2))  # highest kept frequency bin
    coef = torch.randn(batch, kmax, 2, generator=gen)  # (B, kmax, re/im)
    spectrum = torch.zeros(batch, n // 2 + 1, dtype=torch.complex64)
    spectrum[:, 1 : kmax + 1] = torch.complex(coef[..., 0], coef[..., 1])  # DC stays 0
    u = torch.fft.irfft(spectrum, n=n)[:, :L]  # (B, L)
    return u / u.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-12)


def delay(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L, lag = spec.length(), spec.lag
    u = band_limited_noise(batch, L, spec.cutoff, gen)  # (B, L)
    targets = torch.zeros(batch, L)
    targets[:, lag:] = u[:, :-lag]  # target_t = u_{t-lag}
    mask = torch.zeros(batch, L, dtype=torch.bool)
    mask[:, lag:] = True
    return Batch(u[..., None], targets[..., None], mask)
