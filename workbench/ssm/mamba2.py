"""Mamba-2 mixer: SSD with a scalar A per head, conv over (x, B, C), gated RMSNorm. x (B, L, H) -> (B, L, H)."""

from __future__ import annotations

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

HALF = (torch.bfloat16, torch.float16)


class RMSNorm(nn.Module):
    """x / rms(x) · w; with `group_size` the rms is taken over each group of that many channels
    (Mamba-2's gated norm with n_groups > 1, as mamba_ssm's RMSNormGated). A half-precision x is
    normalized in float32 and rounded back before the weight, as transformers' and mamba_ssm's norms do."""

    def __init__(self, d: int, eps: float = 1e-5, group_size: int | None = None):
        super().__init__()
        self.eps, self.weight, self.group_size = eps, nn.Parameter(torch.ones(d)), group_size

    def forward(self, x):
        xf = x.float() if x.dtype in HALF else x
        if self.group_size and self.group_size != x.shape[-1]:
            g = xf.unflatten(-1, (-1, self.group_size))  # (..., G, d/G)
            n = (g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + self.eps)).flatten(-2)
        else:
            n = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return n.to(x.dtype) * self.weight


class Mamba2(nn.Module):
    def __init__(
        self,
        *,
        d_model: int,
        d_state: int = 16,
        expand: int = 2,
        heads: int = 4,
        d_conv: int = 4,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_transform: str = "softplus",
        chunk: int = 64,
        ssm_lr: float = 1e-3,
        seed: int = 0,
        n_groups: int = 1,
        bias: bool = False,
        norm_eps: float = 1e-5,
        gated_norm: bool = True,
        dt_limit: tuple[float, float] = (0.0, float("inf")),
    ):
        """n_groups: heads in G groups share B_t, C_t (and the gated norm's rms); bias: in/out projection
        biases; gated_norm=False is mamba_ssm's rmsnorm=False (y·SiLU(z), no norm); dt_limit clamps Δ_t."""
        super().__init__()
        E = expand * d_model
        if E % heads:
            raise SpecError("model.heads", heads, f"a divisor of expand·d_model = {E}")
        if heads % n_groups:
            raise SpecError("n_groups", n_groups, f"a divisor of heads = {heads}")
        gen = torch.Generator().manual_seed(seed)
        self.E, self.h, self.P, self.N, self.chunk = E, heads, E // heads, d_state, chunk
        self.G, self.dt_limit = n_groups, tuple(dt_limit)
        GN = n_groups * d_state
        self.in_proj = seeded(nn.Linear, d_model, 2 * E + 2 * GN + heads, bias=bias, gen=gen)  # z, x, B, C, Δ
        self.conv = seeded(nn.Conv1d, E + 2 * GN, E + 2 * GN, d_conv, groups=E + 2 * GN, padding=d_conv - 1, gen=gen)
        nn.init.zeros_(self.conv.bias)
        self.dt_fn, inv_dt = DT[dt_transform]
        self.dt_range = (max(dt_min, 1e-4), dt_max)
        dt0 = log_uniform_dt(heads, dt_min, dt_max, gen).clamp(min=1e-4)
        self.dt_bias = hint(nn.Parameter(inv_dt(dt0).float()), ssm_lr)
        a = 1 + 15 * torch.rand(heads, generator=gen, dtype=torch.float64)  # a ~ U(1, 16)
        self.A_log = hint(nn.Parameter(torch.log(a).float()), ssm_lr)
        self.D = nn.Parameter(torch.ones(heads))
        self.norm = RMSNorm(E, eps=norm_eps, group_size=E // n_groups) if gated_norm else None
        self.out_proj = seeded(nn.Linear, E, d_model, bias=bias, gen=gen)
        self.probes = probes("delta", "B", "C", "y", "out")

    def _split(self, zxbcdt):
        E, GN = self.E, self.G * self.N
        return zxbcdt.split([E, E + 2 * GN, self.h], dim=-1)

    def _ssm_inputs(self, xBC, dt_raw):
        E, GN = self.E, self.G * self.N
        x, B, C = F.silu(xBC).split([E, GN, GN], dim=-1)
        if self.G > 1:
            B, C = B.unflatten(-1, (self.G, self.N)), C.unflatten(-1, (self.G, self.N))  # (B, L, G, N)
        dt = self.dt_fn(dt_raw + self.dt_bias)  # (B, L, h)
        if self.dt_limit != (0.0, float("inf")):
            dt = dt.clamp(*self.dt_limit)
        return x, self.probes["delta"](dt), -torch.exp(self.A_log), self.probes["B"](B), self.probes["C"](C)

    def _grouped(self, ssd, x, dt, a, B, C):
        """Heads in G groups, each group with its own B_t, C_t: one SSD per group."""
        if self.G == 1:
            return ssd(x, dt, a, B, C, chunk=self.chunk)
        k = self.h // self.G
        return torch.cat(
            [
                ssd(
                    x[:, :, g * k : (g + 1) * k],
                    dt[..., g * k : (g + 1) * k],
                    a[g * k : (g + 1) * k],
                    B[:, :, g],
                    C[:, :, g],
                    chunk=self.chunk,
                )
                for g in range(self.G)
            ],
            dim=2,
        )

    def _out(self, y, x, z):
        y = self.probes["y"](y + x * self.D[:, None])  # (B, L, h, P)
        y = y.reshape(*y.shape[:-2], self.E)
        y = y * F.silu(z)
        return self.probes["out"](self.out_proj(self.norm(y) if self.norm is not None else y))

    def _forward(self, u, ssd):
        L = u.shape[1]
        z, xBC, dt_raw = self._split(self.in_proj(u))
        xBC = self.conv(xBC.transpose(1, 2))[..., :L].transpose(1, 2)
        x, dt, a, B, C = self._ssm_inputs(xBC, dt_raw)
        x = x.reshape(*x.shape[:2], self.h, self.P)
        return self._out(self._grouped(ssd, x, dt, a, B, C), x, z)

    def forward(self, u):
        return self._forward(u, ssd_chunked)

    def forward_ref(self, u):
        return self._forward(u, ssd_recurrent)

    def step(self, u_t, state=None):
        """u_t (B, H) -> (y_t, (conv window (B, E+2GN, d_conv), h (B, heads, P, N)))."""
        K = self.conv.kernel_size[0]
        if state is None:
            state = (
                u_t.new_zeros(u_t.shape[0], self.E + 2 * self.G * self.N, K),
                u_t.new_zeros(u_t.shape[0], self.h, self.P, self.N),
            )
        window, h = state
        z, xBC, dt_raw = self._split(self.in_proj(u_t))
        window = torch.cat([window[..., 1:], xBC[..., None]], -1)
        xBC = (window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias
        x, dt, a, B, C = self._ssm_inputs(xBC, dt_raw)
        x = x.view(-1, self.h, self.P)
        if self.G > 1:  # (B, G, N) -> per head (B, h, N)
            B, C = (t.repeat_interleave(self.h // self.G, dim=1) for t in (B, C))
        else:
            B, C = B[:, None], C[:, None]
        h = torch.exp(dt * a)[..., None, None] * h + (dt[..., None] * x)[..., None] * B[:, :, None, :]
        y = torch.einsum("bhpn,bhn->bhp", h, C)
        return self._out(y, x, z), (window, h)
