"""mLSTM (xLSTM, Beck et al. 2024): matrix memory with exponential input and sigmoid forget gates.

Per head, with k_t already scaled by 1/√d (as in the paper):
    m_t = max(log σ(f̃_t) + m_{t-1}, ĩ_t),  i' = exp(ĩ_t - m_t),  f' = exp(log σ(f̃_t) + m_{t-1} - m_t)
    C_t = f' C_{t-1} + i' v_t k_tᵀ,  n_t = f' n_{t-1} + i' k_t,  h_t = C_t q_t / max(|n_tᵀ q_t|, exp(-m_t))
m_0 = -∞, so the running stabilizer equals the row maximum of the parallel form's log-gate matrix
and the parallel (quadratic) form equals the recurrence exactly. x (B, L, H) -> (B, L, H).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from workbench.ssm.probe import probes
from workbench.ssm.recurrence import split_heads, step_loop
from workbench.ssm.seeding import seeded


class MLSTM(nn.Module):
    def __init__(self, *, d_model: int, heads: int = 4, expand: int = 1, seed: int = 0):
        super().__init__()
        E, self.h, self.d = split_heads(d_model, heads, expand)
        gen = torch.Generator().manual_seed(seed)
        self.qkv = seeded(nn.Linear, d_model, 3 * E, bias=False, gen=gen)
        self.gates = seeded(nn.Linear, d_model, 2 * heads, gen=gen)  # ĩ, f̃ per head
        self.out_gate = seeded(nn.Linear, d_model, E, gen=gen)
        self.out_proj = seeded(nn.Linear, E, d_model, bias=False, gen=gen)
        with torch.no_grad():
            self.gates.weight.mul_(0.1)
            self.gates.bias[:heads].fill_(-3.0)  # small input gate at init
            self.gates.bias[heads:] = torch.linspace(3.0, 6.0, heads)  # forget bias in [3, 6]
        self.probes = probes("i_gate", "f_gate", "o_gate", "out")

    def _inputs(self, x):
        *lead, _ = x.shape
        q, k, v = self.qkv(x).view(*lead, 3, self.h, self.d).unbind(-3)  # (..., h, d)
        k = k / math.sqrt(self.d)
        i_pre, f_pre = self.gates(x).chunk(2, -1)  # (..., h)
        return q, k, v, self.probes["i_gate"](i_pre), self.probes["f_gate"](F.logsigmoid(f_pre))

    def _out(self, hid, x):
        o = self.probes["o_gate"](torch.sigmoid(self.out_gate(x)))
        return self.probes["out"](self.out_proj(o * hid.flatten(-2)))

    def forward(self, x):
        """Parallel form: D_ij = exp(Σ_{k=j+1..i} log σ(f̃_k) + ĩ_j - m_i), stabilized per row."""
        q, k, v, i_pre, log_f = self._inputs(x)  # (B, L, h, d), (B, L, h)
        L = x.shape[1]
        cum = torch.cumsum(log_f, 1).transpose(1, 2)  # (B, h, L)
        logD = cum[..., :, None] - cum[..., None, :] + i_pre.transpose(1, 2)[..., None, :]  # (B, h, L, L)
        logD = logD.masked_fill(~torch.tril(torch.ones(L, L, dtype=torch.bool, device=x.device)), -torch.inf)
        m = logD.amax(-1, keepdim=True)  # (B, h, L, 1)
        Ct = torch.einsum("bihd,bjhd->bhij", q, k) * torch.exp(logD - m)
        norm = torch.maximum(Ct.sum(-1, keepdim=True).abs(), torch.exp(-m))
        hid = torch.einsum("bhij,bjhd->bihd", Ct / norm, v)
        return self._out(hid, x)

    def step(self, x_t, state=None):
        """x_t (B, H) -> (y_t, (C (B, h, d, d), n (B, h, d), m (B, h)))."""
        q, k, v, i_pre, log_f = self._inputs(x_t)  # (B, h, d), (B, h)
        if state is None:
            B = x_t.shape[0]
            state = (
                x_t.new_zeros(B, self.h, self.d, self.d),
                x_t.new_zeros(B, self.h, self.d),
                x_t.new_full((B, self.h), -torch.inf),
            )
        C, n, m = state
        m_new = torch.maximum(log_f + m, i_pre)
        i_ = torch.exp(i_pre - m_new)[..., None]
        f_ = torch.exp(log_f + m - m_new)[..., None]  # exp(-inf) = 0 at the first step
        C = f_[..., None] * C + i_[..., None] * v[..., :, None] * k[..., None, :]
        n = f_ * n + i_ * k
        denom = torch.maximum((n * q).sum(-1).abs(), torch.exp(-m_new))[..., None]
        hid = (C @ q[..., None])[..., 0] / denom
        return self._out(hid, x_t), (C, n, m_new)

    def forward_ref(self, x):
        return step_loop(self, x)
