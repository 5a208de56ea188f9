"""Gated DeltaNet (Yang et al. 2025): the delta rule with a data-dependent decay α_t.

    S_t = S_{t−1} α_t (I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ,   o_t = S_t q_t          (their eq. 10)

α_t = exp(Δ_t a) as in Mamba-2: Δ_t = g(W_Δ x_t + b_Δ) per head with g the workbench's Δ transform
(softplus in the paper) and b_Δ initialized from Δ log-uniform on [dt_min, dt_max]; a = −exp(A_log)
per head, a ~ U(1, 16). q, k, v and β as in DeltaNet; the output is RMSNorm(o_t) ⊙ SiLU(W_g x_t + b_g),
then the output projection. Half-lives: t½ = ln 2 / (Δ_t |a|) steps, as for Mamba-2.

The gate starts open and flat: W_g = 0 and SiLU(b_g) = 1, so at initialization the layer is
DeltaNet with a decay (exactly DeltaNet where α = 1). A randomly initialized gate multiplies every
retrieved value by a token-dependent random mask; at the workbench's scale it kept the layer near
chance on MQAR (see docs/delta_rule.md). The default Δ range [1e-4, 1e-2] starts every head at
α ≥ e^{−0.16} ≈ 0.85, where Mamba-2's [1e-3, 1e-1] starts some at α ≈ 0.2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import SpecError
from workbench.specs import GDN_GATES
from workbench.ssm.deltanet import DeltaNet
from workbench.ssm.init import log_uniform_dt
from workbench.ssm.optim_hints import hint
from workbench.ssm.probe import probes
from workbench.ssm.reparam import DT
from workbench.ssm.seeding import seeded, skip_init

SILU_ONE = 1.2784645  # SiLU(b) = 1: the open gate


class GatedDeltaNet(DeltaNet):
    gated = True

    def __init__(
        self,
        *,
        d_model: int,
        heads: int = 4,
        d_conv: int = 4,
        beta_max: float = 1.0,
        dt_min: float = 1e-4,
        dt_max: float = 1e-2,
        dt_transform: str = "softplus",
        chunk: int = 64,
        ssm_lr: float = 1e-3,
        gate: str = "silu",
        seed: int = 0,
    ):
        nn.Module.__init__(self)
        gen = torch.Generator().manual_seed(seed)  # every random number of the initialization, locally
        self._init_common(d_model=d_model, heads=heads, d_conv=d_conv, beta_max=beta_max, chunk=chunk, gen=gen)
        self.dt_proj = seeded(nn.Linear, d_model, heads, bias=False, gen=gen)
        self.dt_fn, inv_dt = DT[dt_transform]
        dt0 = log_uniform_dt(heads, dt_min, dt_max, gen).clamp(min=1e-4)  # (h,)
        self.dt_bias = hint(nn.Parameter(inv_dt(dt0).float()), ssm_lr)
        a = 1 + 15 * torch.rand(heads, generator=gen, dtype=torch.float64)  # a ~ U(1, 16)
        self.A_log = hint(nn.Parameter(torch.log(a).float()), ssm_lr)
        if gate not in GDN_GATES:
            raise SpecError("model.gate", gate, f"one of {', '.join(GDN_GATES)} for layer 'gated-deltanet'")
        self.gate = gate
        if gate == "silu":
            # the gate starts open and input-independent; skip_init: no draw from the global RNG
            self.g_proj = skip_init(nn.Linear, d_model, self.E)
            nn.init.zeros_(self.g_proj.weight)
            nn.init.constant_(self.g_proj.bias, SILU_ONE)
        self.probes = probes("q", "k", "v", "beta", "delta", "alpha", "out")

    def _gates(self, x):
        beta = self.probes["beta"](self.beta_max * torch.sigmoid(self.b_proj(x)))  # (..., h)
        dt = self.probes["delta"](self.dt_fn(self.dt_proj(x) + self.dt_bias))  # (..., h)
        log_alpha = dt * -torch.exp(self.A_log)  # log α_t = Δ_t a
        self.probes["alpha"](torch.exp(log_alpha))
        return beta, log_alpha

    def _out(self, o, x):
        if self.gate == "none":
            return super()._out(o, x)
        g = F.silu(self.g_proj(x)).view(*x.shape[:-1], self.h, self.d)
        return self.probes["out"](self.out_proj((self.o_norm(o) * g).flatten(-2)))

    def dt_at_rest(self) -> torch.Tensor:
        """Δ per head for a zero input (h,)."""
        return self.dt_fn(self.dt_bias)
