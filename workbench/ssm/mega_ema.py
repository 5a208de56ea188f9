"""Mega's damped multi-dimensional EMA (Ma et al. 2023), an LTI filter per channel.

Per channel d and EMA dimension j: h_t = α⊙β x_t + (1 - α⊙δ)⊙h_{t-1}, y_t = Σ_j η_j h_t,j,
so K[t] = Σ_j η_j α_j β_j (1 - α_j δ_j)^t with α, δ = sigmoid(params). Fast path: that kernel
and an FFT convolution; reference: the recurrence. Mixer: out_proj(SiLU(EMA(x) + ω⊙x)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.ssm.kernel import causal_fft_conv, vandermonde_kernel
from workbench.ssm.probe import probes
from workbench.ssm.recurrence import step_loop
from workbench.ssm.seeding import seeded


class MegaEMA(nn.Module):
    def __init__(self, *, d_model: int, d_state: int = 16, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        H, N = d_model, d_state
        self.alpha_raw = nn.Parameter(torch.randn(H, N, generator=gen) * 0.2)
        self.delta_raw = nn.Parameter(torch.randn(H, N, generator=gen) * 0.2)
        # β: alternating signs as in Mega's init, so the EMA dims span different responses
        sign = torch.where(torch.arange(N) % 2 == 0, 1.0, -1.0)
        self.beta = nn.Parameter(sign * (1 + 0.02 * torch.randn(H, N, generator=gen)))
        self.eta = nn.Parameter(torch.randn(H, N, generator=gen) / N**0.5)
        self.omega = nn.Parameter(torch.ones(H))
        self.out_proj = seeded(nn.Linear, H, H, gen=gen)
        self.probes = probes("ema", "out")

    def coefficients(self):
        """(q = 1 - α⊙δ, p = η⊙α⊙β), each (H, N): K[t] = Σ_j p_j q_j^t."""
        alpha, delta = torch.sigmoid(self.alpha_raw), torch.sigmoid(self.delta_raw)
        return 1 - alpha * delta, self.eta * alpha * self.beta

    def kernel(self, L: int) -> torch.Tensor:
        q, p = self.coefficients()
        return vandermonde_kernel(
            p.to(torch.complex64 if p.dtype == torch.float32 else torch.complex128),
            q.to(torch.complex64 if q.dtype == torch.float32 else torch.complex128),
            L,
            False,
        )

    def _out(self, ema, x):
        return self.probes["out"](self.out_proj(F.silu(self.probes["ema"](ema) + self.omega * x)))

    def forward(self, x):
        K = self.kernel(x.shape[1])  # (H, L)
        return self._out(causal_fft_conv(x.transpose(1, 2), K).transpose(1, 2), x)

    def step(self, x_t, state=None):
        q, p = self.coefficients()
        h = state if state is not None else x_t.new_zeros(*x_t.shape, q.shape[-1])
        alpha = torch.sigmoid(self.alpha_raw)
        h = q * h + alpha * self.beta * x_t[..., None]  # (B, H, N)
        return self._out((self.eta * h).sum(-1), x_t), h

    def forward_ref(self, x):
        return step_loop(self, x)
