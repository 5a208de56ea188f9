"""Gated linear attention (Yang et al. 2024): S_t = diag(α_t) S_{t-1} + k_t v_tᵀ, o_t = S_tᵀ q_t.

α_t = σ(W_α x_t)^{1/16} per key dimension (the 1/16 keeps forgetting slow at init); output
gated by SiLU(W_g x). The fast path runs the state recurrence through the chunked
`linear_scan`; the reference is the step loop. x (B, L, H) -> (B, L, H).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.ssm.probe import probes
from workbench.ssm.recurrence import split_heads, step_loop
from workbench.ssm.scan import linear_scan
from workbench.ssm.seeding import seeded


class GLA(nn.Module):
    def __init__(self, *, d_model: int, heads: int = 4, expand: int = 1, seed: int = 0):
        super().__init__()
        E, self.h, self.d = split_heads(d_model, heads, expand)
        gen = torch.Generator().manual_seed(seed)
        self.qkv = seeded(nn.Linear, d_model, 3 * E, bias=False, gen=gen)
        self.alpha = seeded(nn.Linear, d_model, E, gen=gen)
        self.gate = seeded(nn.Linear, d_model, E, gen=gen)
        self.out_proj = seeded(nn.Linear, E, d_model, bias=False, gen=gen)
        self.probes = probes("alpha", "out")

    def _inputs(self, x):
        *lead, _ = x.shape
        q, k, v = self.qkv(x).view(*lead, 3, self.h, self.d).unbind(-3)  # (..., h, d)
        q = q * self.d**-0.5
        alpha = self.probes["alpha"](torch.exp(F.logsigmoid(self.alpha(x)) / 16)).view(*lead, self.h, self.d)
        return q, k, v, alpha

    def _out(self, o, x):
        return self.probes["out"](self.out_proj(F.silu(self.gate(x)) * o.flatten(-2)))

    def forward(self, x):
        q, k, v, alpha = self._inputs(x)  # (B, L, h, d)
        kv = (k[..., :, None] * v[..., None, :]).transpose(0, 1)  # (L, B, h, dk, dv)
        S = linear_scan(alpha.transpose(0, 1)[..., None].expand_as(kv), kv)  # (L, B, h, dk, dv)
        o = torch.einsum("lbhkv,lbhk->lbhv", S, q.transpose(0, 1)).transpose(0, 1)
        return self._out(o, x)

    def step(self, x_t, state=None):
        q, k, v, alpha = self._inputs(x_t)  # (B, h, d)
        S = state if state is not None else x_t.new_zeros(x_t.shape[0], self.h, self.d, self.d)
        S = alpha[..., None] * S + k[..., :, None] * v[..., None, :]
        return self._out(torch.einsum("bhkv,bhk->bhv", S, q), x_t), S

    def forward_ref(self, x):
        return step_loop(self, x)
