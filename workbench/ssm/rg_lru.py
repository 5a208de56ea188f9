"""Hawk's recurrent block around the RG-LRU (De et al. 2024, "Griffin", §2.4).

    r_t = σ(W_a x_t + b_a)         recurrence gate        i_t = σ(W_x x_t + b_x)   input gate
    a_t = a^{c·r_t},  a = σ(Λ)     log a_t = −c·softplus(−Λ)·r_t
    h_t = a_t ⊙ h_{t−1} + √(1 − a_t²) ⊙ (i_t ⊙ x_t)

c = 8 and Λ initialized so that a^c is uniform on [r_min, r_max] = [0.9, 0.999] (their §2.4);
W_a, W_x block-diagonal (one block per head). The block: y = W_out(GeLU(W_1 u) ⊙ RG-LRU(conv_4(W_2 u)))
with a causal depthwise convolution of width d_conv. The first token's input is not normalized
(Griffin resets the √(1 − a²) factor at the start of a sequence). Fast path: `linear_scan`;
reference: the step loop. u (B, L, H) -> (B, L, H); the state is h (B, E), E = expand·H.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import SpecError
from workbench.ssm.optim_hints import hint
from workbench.ssm.probe import probes
from workbench.ssm.recurrence import split_heads, step_loop
from workbench.ssm.scan import linear_scan
from workbench.ssm.seeding import seeded


def rg_lru_lambda_init(E: int, c: float, r_min: float, r_max: float, gen: torch.Generator) -> torch.Tensor:
    """Λ (E,) with a^c = σ(Λ)^c uniform on [r_min, r_max]: Λ = logit(u^{1/c})."""
    if not 0 < r_min <= r_max < 1:
        raise SpecError("ssm.r_min", r_min, f"0 < r_min <= r_max < 1 (r_max = {r_max}): a^c is a decay in (0, 1)")
    u = r_min + (r_max - r_min) * torch.rand(E, generator=gen, dtype=torch.float64)  # (E,) a^c
    log_a = torch.log(u) / c
    return log_a - torch.log(-torch.expm1(log_a))  # logit(a)


class RGLRU(nn.Module):
    def __init__(
        self,
        *,
        d_model: int,
        expand: int = 1,
        heads: int = 4,
        d_conv: int = 4,
        c: float = 8.0,
        r_min: float = 0.9,
        r_max: float = 0.999,
        ssm_lr: float = 1e-3,
        seed: int = 0,
    ):
        super().__init__()
        if not c > 0:
            raise SpecError("model.rg_lru_c", c, "a positive number (a_t = a^{c·r_t}; Griffin uses 8)")
        E, self.h, bs = split_heads(d_model, heads, expand)
        gen = torch.Generator().manual_seed(seed)
        self.E, self.c = E, float(c)
        self.in_gate = seeded(nn.Linear, d_model, E, gen=gen)  # GeLU branch
        self.in_x = seeded(nn.Linear, d_model, E, gen=gen)  # recurrent branch
        self.conv = seeded(nn.Conv1d, E, E, d_conv, groups=E, padding=d_conv - 1, gen=gen)
        w = lambda: torch.randn(heads, bs, bs, generator=gen) / math.sqrt(bs)  # (h, bs, bs) LeCun normal
        self.W_a, self.W_x = nn.Parameter(w()), nn.Parameter(w())
        self.b_a, self.b_x = nn.Parameter(torch.zeros(E)), nn.Parameter(torch.zeros(E))
        self.Lambda = hint(nn.Parameter(rg_lru_lambda_init(E, c, r_min, r_max, gen).float()), ssm_lr)
        self.out_proj = seeded(nn.Linear, E, d_model, gen=gen)
        self.probes = probes("r_gate", "i_gate", "a", "state", "out")

    def _block_diag(self, W, b, x):
        xs = x.view(*x.shape[:-1], self.h, -1)  # (..., h, bs)
        return torch.einsum("...hi,hij->...hj", xs, W).flatten(-2) + b

    def gates(self, x):
        """x (..., E) (after the conv) -> r_t, i_t, log a_t, each (..., E)."""
        r = self.probes["r_gate"](torch.sigmoid(self._block_diag(self.W_a, self.b_a, x)))
        i = self.probes["i_gate"](torch.sigmoid(self._block_diag(self.W_x, self.b_x, x)))
        log_a = -self.c * F.softplus(-self.Lambda) * r  # log a_t = c·r_t·log σ(Λ)
        self.probes["a"](torch.exp(log_a))
        return r, i, log_a

    @staticmethod
    def _norm(log_a):
        """√(1 − a_t²), from log a_t without cancellation."""
        return torch.sqrt(-torch.expm1(2 * log_a).clamp(max=-1e-12))

    def recurrence_inputs(self, u):
        """(x after the conv, log a_t, the input scale √(1 − a_t²)·i_t), each (B, L, E)."""
        L = u.shape[1]
        x = self.conv(self.in_x(u).transpose(1, 2))[..., :L].transpose(1, 2)  # (B, L, E)
        _, i, log_a = self.gates(x)
        norm = torch.cat([torch.ones_like(log_a[:, :1]), self._norm(log_a[:, 1:])], 1)  # 1 on the first token
        return x, log_a, norm * i

    def _out(self, h, u):
        return self.probes["out"](self.out_proj(F.gelu(self.in_gate(u)) * self.probes["state"](h)))

    def forward(self, u):
        x, log_a, scale = self.recurrence_inputs(u)
        h = linear_scan(torch.exp(log_a).transpose(0, 1), (scale * x).transpose(0, 1)).transpose(0, 1)  # (B, L, E)
        return self._out(h, u)

    def step(self, u_t, state=None):
        """u_t (B, H) -> (y_t, (conv window (B, E, d_conv), h (B, E)))."""
        K = self.conv.kernel_size[0]
        first = state is None
        if first:
            state = (u_t.new_zeros(u_t.shape[0], self.E, K), u_t.new_zeros(u_t.shape[0], self.E))
        window, h = state
        window = torch.cat([window[..., 1:], self.in_x(u_t)[..., None]], -1)
        x = (window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias
        _, i, log_a = self.gates(x)
        h = torch.exp(log_a) * h + (1.0 if first else self._norm(log_a)) * i * x
        return self._out(h, u_t), (window, h)

    def forward_ref(self, u):
        return step_loop(self, u)

    @torch.no_grad()
    def operator(self, u):
        """The mixing matrix M (B, E, L, L) on the conv output x: h_i = Σ_j M_ij x_j per channel,
        M_ij = Π_{k=j+1..i} a_k · √(1 − a_j²) i_j (linear in x given the gates)."""
        from workbench.ssm.ssd import segsum

        _, log_a, scale = self.recurrence_inputs(u)
        decay = torch.exp(segsum(log_a.transpose(1, 2)))  # (B, E, L, L)
        return decay * scale.transpose(1, 2)[:, :, None, :]

    operator_dim = "channel"

    def materialized_operator(self, x):
        """The input→output operator for the effective state size (analysis.ess): M per channel."""
        return self.operator(x)

    @torch.no_grad()
    def a_at_rest(self) -> torch.Tensor:
        """a_t for a zero input (E,): r = σ(b_a), a^{c·r}."""
        return torch.exp(-self.c * F.softplus(-self.Lambda) * torch.sigmoid(self.b_a))
