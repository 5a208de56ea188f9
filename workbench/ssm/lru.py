"""Linear recurrent unit (Orvieto et al. 2023): x_t = λ⊙x_{t-1} + γ⊙(B u_t), y_t = Re(C x_t) + D⊙u_t.

λ = exp(-e^ν + i e^θ) from the ring init (|λ|² uniform on [r_min², r_max²], phase on
[0, max_phase]); γ starts at √(1-|λ|²). Complex state of size N shared by the H channels.
Fast path: the chunked complex `linear_scan`; reference: the step loop. u (B, L, H) -> (B, L, H).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench.ssm.init import lru_ring
from workbench.ssm.optim_hints import hint
from workbench.ssm.probe import probes
from workbench.ssm.recurrence import step_loop
from workbench.ssm.scan import linear_scan


class LRU(nn.Module):
    def __init__(
        self,
        *,
        d_model: int,
        d_state: int = 64,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * math.pi,
        ssm_lr: float = 1e-3,
        seed: int = 0,
    ):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        H, N = d_model, d_state
        self.ring = (r_min, r_max)
        log_lam = lru_ring(1, N, gen, r_min, r_max, max_phase).A[0]  # (N,) = -e^ν + i e^θ
        self.nu_log = hint(nn.Parameter(torch.log(-log_lam.real).float()), ssm_lr)
        self.theta_log = hint(nn.Parameter(torch.log(log_lam.imag.clamp(min=1e-8)).float()), ssm_lr)
        self.gamma_log = hint(nn.Parameter(0.5 * torch.log(1 - torch.exp(2 * log_lam.real)).float()), ssm_lr)
        B = torch.randn(N, H, 2, generator=gen, dtype=torch.float64) / math.sqrt(2 * H)
        C = torch.randn(H, N, 2, generator=gen, dtype=torch.float64) / math.sqrt(N)
        self.B, self.C = nn.Parameter(B.float()), nn.Parameter(C.float())
        self.D = nn.Parameter(torch.randn(H, generator=gen).float())
        self.probes = probes("state", "out")

    @property
    def lam(self) -> torch.Tensor:
        return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))  # (N,)

    def _input(self, u):
        Bm = torch.view_as_complex(self.B)  # (N, H)
        return torch.exp(self.gamma_log) * (u.to(Bm.dtype) @ Bm.T)  # (..., N)

    def _out(self, x, u):
        return self.probes["out"]((x @ torch.view_as_complex(self.C).T).real + self.D * u)

    def forward(self, u):
        Bu = self._input(u).transpose(0, 1)  # (L, B, N)
        x = linear_scan(self.lam.expand_as(Bu), Bu).transpose(0, 1)  # (B, L, N)
        return self._out(self.probes["state"](x), u)

    def step(self, u_t, state=None):
        Bu = self._input(u_t)
        x = self.lam * state + Bu if state is not None else Bu
        return self._out(x, u_t), x

    def forward_ref(self, u):
        return step_loop(self, u)
