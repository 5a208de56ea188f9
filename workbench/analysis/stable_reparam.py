"""StableSSM's experiment (Wang & Li 2023, "StableSSM: alleviating the curse of memory in state-space
models through stable reparameterization"): fit one LTI SSM channel to a linear functional with
exponential or polynomial memory under each reparameterization of Re A, and record the loss curve.

Target (task lf-memory): y_t = Σ_{s≤t} ρ(s) x_{t-s}, x_t ~ N(0, 1), ρ(s) = e^{-s} or (1 + 0.1 s)^{-1.1}.
Model: the workbench's diagonal SSM layer (one channel, ZOH, Δ ≡ 1, real modes), ŷ = K * x + D x with
K[s] = Σ_n C_n Ā_n^s B̄_n, Ā_n = e^{Re A_n} and Re A_n = f(w_n) for f in `workbench.ssm.reparam.RE_A`.

Since x is white, E(ŷ_t − y_t)² = (D + K[0] − ρ(0))² + Σ_{1≤s≤t} (K[s] − ρ(s))²: the loss is a
kernel-fitting loss. A polynomial target wants modes near Re A = 0; `direct` (Re A = w) can step
across it, after which Ā^s grows like e^{Δ Re A · s} over the sequence; the stable maps cannot.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from workbench.errors import SpecError
from workbench.ssm.lti import DiagonalSSM
from workbench.ssm.reparam import RE_A
from workbench.tasks.regression import memory_rho

MEMORIES = ("exponential", "polynomial")


def linear_rnn(reparam: str, d_state: int = 16, seed: int = 0) -> DiagonalSSM:
    """The paper's linear RNN as a workbench layer: one channel, real diagonal Ā = e^{Re A} (Δ ≡ 1, not
    learned; s4d-lin's Re A = −½ with the imaginary parts removed), so long memory needs Re A → 0⁻."""
    layer = DiagonalSSM(
        d_model=1, d_state=d_state, init="s4d-lin", a_reparam=reparam, dt_min=1.0, dt_max=1.0, learn_dt=False, seed=seed
    ).double()
    layer.A_im.requires_grad_(False).zero_()
    return layer


def population_loss(layer: DiagonalSSM, memory: str, L: int) -> float:
    """The expected MSE over white-noise inputs, averaged over t < L (the closed form the sampled loss estimates):
    (1/L) Σ_t [(D + K[0] − ρ(0))² + Σ_{1≤s≤t} (K[s] − ρ(s))²]."""
    with torch.no_grad():
        e = layer.kernel(L)[0].double() - memory_rho(memory, L)  # (L,) kernel error per lag
        e[0] += layer.D[0].double()
        weight = torch.arange(L, 0, -1, dtype=torch.float64) / L  # lag s is seen by the L − s steps t ≥ s
        return float((weight * e**2).sum())


def fit_memory(
    memory: str,
    reparam: str,
    *,
    seed: int = 0,
    L: int = 100,
    d_state: int = 16,
    steps: int = 1000,
    lr: float = 1e-2,
    batch: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Adam on one channel; -> (loss per step, max Re A per step), each (steps,), NaN after a non-finite loss.

    `seed` sets the initialization's random parts (B, C, D, Δ) and the data stream."""
    if memory not in MEMORIES:
        raise SpecError("memory", memory, "one of " + ", ".join(MEMORIES))
    if reparam not in RE_A:
        raise SpecError("reparam", reparam, "one of " + ", ".join(RE_A))
    torch.manual_seed(seed)
    layer = linear_rnn(reparam, d_state, seed)
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    rho = memory_rho(memory, L)  # (L,)
    lag = torch.arange(L)[:, None] - torch.arange(L)[None, :]  # (L, L): t − τ
    target_op = torch.where(lag >= 0, rho[lag.clamp(min=0)], 0.0)  # (L, L): y = x @ target_op.T
    gen = torch.Generator().manual_seed(seed)
    loss_at, re_a_max = np.full(steps, np.nan), np.full(steps, np.nan)
    for step in range(steps):
        x = torch.randn(batch, L, generator=gen, dtype=torch.float64)  # (B, L)
        y = x @ target_op.T  # (B, L)
        yhat = layer(x[..., None])[..., 0]  # (B, L)
        loss = (yhat - y).pow(2).mean()
        re_a_max[step] = float(layer.re_a(layer.w.detach()).max())
        if not math.isfinite(float(loss.detach())):
            break
        loss_at[step] = float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss_at, re_a_max


def reparam_sweep(
    memories=MEMORIES, reparams=tuple(RE_A), seeds=(0, 1, 2), steps: int = 1000, lr: float = 1e-2, **kw
) -> xr.Dataset:
    """Loss curves over (memory, reparam, seed, step) for `fit_memory`'s setting."""
    shape = (len(memories), len(reparams), len(seeds), steps)
    loss, re_a = np.empty(shape), np.empty(shape)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one channel, L × N tensors: a second thread only adds synchronization
    try:
        for i, m in enumerate(memories):
            for j, r in enumerate(reparams):
                for k, s in enumerate(seeds):
                    loss[i, j, k], re_a[i, j, k] = fit_memory(m, r, seed=s, steps=steps, lr=lr, **kw)
    finally:
        torch.set_num_threads(threads)
    d = ("memory", "reparam", "seed", "step")
    return xr.Dataset(
        {
            "loss": (d, loss, {"long_name": "training MSE", "note": "NaN after a non-finite loss"}),
            "re_a_max": (d, re_a, {"long_name": "max Re A over the modes"}),
        },
        coords={"memory": list(memories), "reparam": list(reparams), "seed": list(seeds), "step": np.arange(steps)},
        attrs={"lr": lr, **kw, "reference": "Wang & Li 2023 (StableSSM): lf-memory under reparameterizations of Re A"},
    )
