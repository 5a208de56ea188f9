"""DeltaNet (Schlag et al. 2021; Yang et al. 2024): a linear-attention state written by the delta rule.

    S_t = S_{t−1}(I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ,   o_t = S_t q_t

q, k, v = SiLU(short causal depthwise conv(W x)) with q, k L2-normalized per head (Yang et al.
2024, §4: the feature map and the normalization that keep I − β k kᵀ a contraction for
β ∈ (0, 2)); β_t = β_max·σ(W_β x_t) per head (β_max = 1 in the paper; up to 2 lets the
transition have negative eigenvalues, Grazzi et al. 2025); per-head RMSNorm on o_t, then the
output projection. Fast path: `delta_rule_chunked`; reference: the same layer with the per-step
loop. x (B, L, H) -> (B, L, H); heads split H, state per head (H/heads)².
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import SpecError
from workbench.ssm.delta_chunked import (
    delta_rule_chunked,
    delta_rule_operator,
    delta_rule_recurrent,
    delta_rule_step,
)
from workbench.ssm.mamba2 import RMSNorm
from workbench.ssm.probe import probes
from workbench.ssm.recurrence import split_heads
from workbench.ssm.seeding import seeded


def check_beta_max(beta_max: float) -> float:
    if not 0 < beta_max <= 2:
        raise SpecError(
            "model.beta_max",
            beta_max,
            "a number in (0, 2] (β_t = β_max·σ(·); above 2 the "
            "delta-rule transition I − β k kᵀ is no longer a contraction)",
        )
    return float(beta_max)


class DeltaNet(nn.Module):
    gated = False

    def __init__(
        self, *, d_model: int, heads: int = 4, d_conv: int = 4, beta_max: float = 1.0, chunk: int = 64, seed: int = 0
    ):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)  # every random number of the initialization, locally
        self._init_common(d_model=d_model, heads=heads, d_conv=d_conv, beta_max=beta_max, chunk=chunk, gen=gen)
        self.probes = probes("q", "k", "v", "beta", "out")

    def _init_common(self, *, d_model, heads, d_conv, beta_max, chunk, gen):
        E, self.h, self.d = split_heads(d_model, heads)
        self.E, self.chunk, self.beta_max = E, chunk, check_beta_max(beta_max)
        self.qkv = seeded(nn.Linear, d_model, 3 * E, bias=False, gen=gen)
        self.conv = seeded(nn.Conv1d, 3 * E, 3 * E, d_conv, groups=3 * E, padding=d_conv - 1, gen=gen)  # short convs
        self.b_proj = seeded(nn.Linear, d_model, heads, gen=gen)
        self.o_norm = RMSNorm(self.d)
        self.out_proj = seeded(nn.Linear, E, d_model, bias=False, gen=gen)

    # -- pieces shared by forward and step -------------------------------------------------
    def _qkv(self, qkv):
        q, k, v = F.silu(qkv).view(*qkv.shape[:-1], 3, self.h, self.d).unbind(-3)  # (..., h, d)
        p = self.probes
        return p["q"](F.normalize(q, dim=-1)), p["k"](F.normalize(k, dim=-1)), p["v"](v)

    def _gates(self, x):
        """β_t (..., h) and log α_t (..., h) or None."""
        return self.probes["beta"](self.beta_max * torch.sigmoid(self.b_proj(x))), None

    def _out(self, o, x):
        return self.probes["out"](self.out_proj(self.o_norm(o).flatten(-2)))

    def _conv_full(self, x):
        L = x.shape[1]
        return self.conv(self.qkv(x).transpose(1, 2))[..., :L].transpose(1, 2)  # (B, L, 3E)

    def mixer_inputs(self, x):
        """(q, k, v, β, log α) of the delta rule for x (B, L, H); log α is None without decay."""
        q, k, v = self._qkv(self._conv_full(x))
        beta, log_alpha = self._gates(x)
        return q, k, v, beta, log_alpha

    def _forward(self, x, rule):
        q, k, v, beta, log_alpha = self.mixer_inputs(x)
        o, _ = rule(q, k, v, beta, log_alpha, chunk=self.chunk)
        return self._out(o, x)

    def forward(self, x):
        return self._forward(x, delta_rule_chunked)

    def forward_ref(self, x):
        return self._forward(x, delta_rule_recurrent)

    def step(self, x_t, state=None):
        """x_t (B, H) -> (y_t, (conv window (B, 3E, d_conv), S (B, h, d, d)))."""
        K = self.conv.kernel_size[0]
        if state is None:
            state = (x_t.new_zeros(x_t.shape[0], 3 * self.E, K), x_t.new_zeros(x_t.shape[0], self.h, self.d, self.d))
        window, S = state
        window = torch.cat([window[..., 1:], self.qkv(x_t)[..., None]], -1)
        q, k, v = self._qkv((window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)
        beta, log_alpha = self._gates(x_t)
        o, S = delta_rule_step(S, q, k, v, beta, log_alpha)
        return self._out(o, x_t), (window, S)

    # -- what analysis reads ---------------------------------------------------------------
    @torch.no_grad()
    def operator(self, x):
        """The materialized mixing matrix M (B, h, L, L): o = M v per head (before norm and gate)."""
        q, k, _, beta, log_alpha = self.mixer_inputs(x)
        return delta_rule_operator(q, k, beta, log_alpha)

    operator_dim = "head"

    def materialized_operator(self, x):
        """The input→output operator for the effective state size (analysis.ess): M per head."""
        return self.operator(x)

    @torch.no_grad()
    def state_norms(self, x):
        """‖S_t‖_F (B, h, L) along x, from the per-step recurrence."""
        q, k, v, beta, log_alpha = self.mixer_inputs(x)
        S = x.new_zeros(x.shape[0], self.h, self.d, self.d)
        las = log_alpha.unbind(1) if log_alpha is not None else [None] * x.shape[1]
        norms = []
        for q_t, k_t, v_t, b_t, la_t in zip(q.unbind(1), k.unbind(1), v.unbind(1), beta.unbind(1), las):
            _, S = delta_rule_step(S, q_t, k_t, v_t, b_t, la_t)
            norms.append(S.flatten(-2).norm(dim=-1))
        return torch.stack(norms, -1)
