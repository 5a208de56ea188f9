"""Mamba-2 mixer: SSD with a scalar A per head, conv over (x, B, C), gated RMSNorm. x (B, L, H) -> (B, L, H)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import SpecError
from workbench.ssm.init import log_uniform_dt
from workbench.ssm.optim_hints import hint
from workbench.ssm.probe import probes
from workbench.ssm.reparam import DT
from workbench.ssm.seeding import seeded
from workbench.ssm.ssd import ssd_chunked, ssd_recurrent


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mamba2(nn.Module):
    def __init__(self, *, d_model: int, d_state: int = 16, expand: int = 2, heads: int = 4, d_conv: int = 4,
                 dt_min: float = 1e-3, dt_max: float = 1e-1, dt_transform: str = "softplus",
                 chunk: int = 64, ssm_lr: float = 1e-3, seed: int = 0):
        super().__init__()
        E = expand * d_model
        if E % heads:
            raise SpecError("model.heads", heads, f"a divisor of expand·d_model = {E}")
        gen = torch.Generator().manual_seed(seed)
        self.E, self.h, self.P, self.N, self.chunk = E, heads, E // heads, d_state, chunk
        self.in_proj = seeded(nn.Linear, d_model, 2 * E + 2 * d_state + heads, bias=False, gen=gen)  # z, x, B, C, Δ
        self.conv = seeded(nn.Conv1d, E + 2 * d_state, E + 2 * d_state, d_conv, groups=E + 2 * d_state,
                           padding=d_conv - 1, gen=gen)
        nn.init.zeros_(self.conv.bias)
        self.dt_fn, inv_dt = DT[dt_transform]
        self.dt_range = (max(dt_min, 1e-4), dt_max)
        dt0 = log_uniform_dt(heads, dt_min, dt_max, gen).clamp(min=1e-4)
        self.dt_bias = hint(nn.Parameter(inv_dt(dt0).float()), ssm_lr)
        a = 1 + 15 * torch.rand(heads, generator=gen, dtype=torch.float64)  # a ~ U(1, 16)
        self.A_log = hint(nn.Parameter(torch.log(a).float()), ssm_lr)
        self.D = nn.Parameter(torch.ones(heads))
        self.norm = RMSNorm(E)
        self.out_proj = seeded(nn.Linear, E, d_model, bias=False, gen=gen)
        self.probes = probes("delta", "B", "C", "y", "out")

    def _split(self, zxbcdt):
        E, N = self.E, self.N
        return zxbcdt.split([E, E + 2 * N, self.h], dim=-1)

    def _ssm_inputs(self, xBC, dt_raw):
        E, N = self.E, self.N
        x, B, C = F.silu(xBC).split([E, N, N], dim=-1)
        dt = self.probes["delta"](self.dt_fn(dt_raw + self.dt_bias))  # (B, L, h)
        return x, dt, -torch.exp(self.A_log), self.probes["B"](B), self.probes["C"](C)

    def _out(self, y, x, z):
        y = self.probes["y"](y + x * self.D[:, None])  # (B, L, h, P)
        y = y.reshape(*y.shape[:-2], self.E)
        return self.probes["out"](self.out_proj(self.norm(y * F.silu(z))))

    def _forward(self, u, ssd):
        L = u.shape[1]
        z, xBC, dt_raw = self._split(self.in_proj(u))
        xBC = self.conv(xBC.transpose(1, 2))[..., :L].transpose(1, 2)
        x, dt, a, B, C = self._ssm_inputs(xBC, dt_raw)
        x = x.reshape(*x.shape[:2], self.h, self.P)
        return self._out(ssd(x, dt, a, B, C, chunk=self.chunk), x, z)

    def forward(self, u):
        return self._forward(u, ssd_chunked)

    def forward_ref(self, u):
        return self._forward(u, ssd_recurrent)

    def step(self, u_t, state=None):
        """u_t (B, H) -> (y_t, (conv window (B, E+2N, d_conv), h (B, heads, P, N)))."""
        K = self.conv.kernel_size[0]
        if state is None:
            state = (u_t.new_zeros(u_t.shape[0], self.E + 2 * self.N, K),
                     u_t.new_zeros(u_t.shape[0], self.h, self.P, self.N))
        window, h = state
        z, xBC, dt_raw = self._split(self.in_proj(u_t))
        window = torch.cat([window[..., 1:], xBC[..., None]], -1)
        xBC = (window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias
        x, dt, a, B, C = self._ssm_inputs(xBC, dt_raw)
        x = x.view(-1, self.h, self.P)
        h = torch.exp(dt * a)[..., None, None] * h + (dt[..., None] * x)[..., None] * B[:, None, None, :]
        y = torch.einsum("bhpn,bn->bhp", h, C)
        return self._out(y, x, z), (window, h)
