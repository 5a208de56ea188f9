"""Mamba's selective SSM block (S6, Gu & Dao 2023), with switches that turn S4D into S6 one step at a time.

in_proj -> (x, z); causal depthwise conv (width d_conv) on x; SiLU; selective SSM with
Δ_t = dt(W_Δ x_t + b), B_t = W_B x_t, C_t = W_C x_t; output gate on z; out_proj.
Each of Δ, B, C is input-dependent (`selective_*=True`) or a learned constant per
channel, and `gate` is none, silu (y·SiLU(z)) or glu (y·σ(z)). SSMSpec's init,
reparameterization, Δ transform and discretization apply to A and Δ. x (B, L, H) -> (B, L, H).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import SpecError
from workbench.ssm.discretize import DISCRETIZE
from workbench.ssm.init import DIAGONAL, log_uniform_dt
from workbench.ssm.optim_hints import hint
from workbench.ssm.probe import probes
from workbench.ssm.reparam import DT, RE_A
from workbench.ssm.scan import selective_scan, selective_scan_ref
from workbench.ssm.seeding import seeded, skip_init

MAMBA_INITS = ("s4d-real", "s4d-lin", "s4d-inv", "s4d-legs", "random")
GATES = {"none": lambda y, z: y, "silu": lambda y, z: y * F.silu(z), "glu": lambda y, z: y * torch.sigmoid(z)}


class Mamba(nn.Module):
    def __init__(
        self,
        *,
        d_model: int,
        d_state: int = 16,
        expand: int = 2,
        d_conv: int = 4,
        dt_rank: int | None = None,
        init: str = "s4d-real",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_transform: str = "softplus",
        a_reparam: str = "exp",
        discretization: str = "mamba",
        selective_delta: bool = True,
        selective_B: bool = True,
        selective_C: bool = True,
        gate: str = "silu",
        learn_a: bool = True,
        ssm_lr: float = 1e-3,
        seed: int = 0,
        proj_bias: bool = False,
    ):
        super().__init__()
        if init not in MAMBA_INITS:
            raise SpecError("ssm.init", init, "for a mamba layer one of " + ", ".join(MAMBA_INITS))
        gen = torch.Generator().manual_seed(seed)
        H, E = d_model, expand * d_model
        self.R = dt_rank or math.ceil(H / 16)
        d = DIAGONAL[init](E, d_state, gen)
        self.M = d.A.shape[1]
        self.is_complex = bool((d.A.imag != 0).any())
        n_bc = 2 * self.M if self.is_complex else self.M  # real numbers per B_t (complex as pairs)
        self.selective = (selective_delta, selective_B, selective_C)
        self.split = [self.R if selective_delta else 0, n_bc if selective_B else 0, n_bc if selective_C else 0]

        self.in_proj = seeded(nn.Linear, H, 2 * E, bias=proj_bias, gen=gen)  # Hugging Face use_bias
        self.conv = seeded(nn.Conv1d, E, E, d_conv, groups=E, padding=d_conv - 1, gen=gen)
        nn.init.zeros_(self.conv.bias)  # zero input realizes exactly the initialized Δ
        self.x_proj = seeded(nn.Linear, E, sum(self.split), bias=False, gen=gen) if sum(self.split) else None
        self.dt_fn, inv_dt = DT[dt_transform]
        self.init, self.dt_range = init, (max(dt_min, 1e-4) if dt_transform == "softplus" else dt_min, dt_max)
        dt0 = log_uniform_dt(E, dt_min, dt_max, gen)
        if dt_transform == "softplus":
            dt0 = dt0.clamp(min=1e-4)
        bias = inv_dt(dt0).float()  # (E,)
        if selective_delta:
            self.dt_proj = skip_init(nn.Linear, self.R, E)
            with torch.no_grad():
                self.dt_proj.weight.uniform_(-(self.R**-0.5), self.R**-0.5, generator=gen)
                self.dt_proj.bias.copy_(bias)
            hint(self.dt_proj.bias, ssm_lr)
        else:
            self.dt_bias = hint(nn.Parameter(bias), ssm_lr)
        as_param = (lambda t: torch.view_as_real(t).float()) if self.is_complex else (lambda t: t.real.float())
        if not selective_B:
            self.B = hint(nn.Parameter(as_param(d.B)), ssm_lr)  # (E, M[, 2])
        if not selective_C:
            C = torch.randn(E, self.M, dtype=torch.complex128 if self.is_complex else torch.float64, generator=gen)
            self.C = nn.Parameter(as_param(C * (math.sqrt(0.5) if self.is_complex else 1.0)))
        self.re_a, inv_re_a = RE_A[a_reparam]
        w = inv_re_a(d.A.real).float()  # Mamba's A_log = log(1..N) under the exp reparameterization
        if learn_a:
            self.A_log = hint(nn.Parameter(w), ssm_lr)
        else:  # a frozen A is a buffer (assigning None first would make the name an attribute)
            self.register_buffer("A_log", w)
        if self.is_complex:
            im = d.A.imag.float()
            if learn_a:
                self.A_im = hint(nn.Parameter(im), ssm_lr)
            else:
                self.register_buffer("A_im", im)
        self.D = nn.Parameter(torch.ones(E))
        self.out_proj = seeded(nn.Linear, E, H, bias=proj_bias, gen=gen)
        self.discretization = discretization
        self.gate_fn = GATES[gate]
        self.probes = probes("u", "delta", "B", "C", "z", "y", "out")

    @property
    def A(self) -> torch.Tensor:
        re = self.re_a(self.A_log)
        return torch.complex(re, self.A_im) if self.is_complex else re  # (E, M)

    def _bc(self, t: torch.Tensor) -> torch.Tensor:
        """(B, L, n_bc) real -> (B, M, L), complex when the modes are."""
        t = t.transpose(1, 2)
        if self.is_complex:
            t = torch.view_as_complex(t.reshape(t.shape[0], self.M, 2, t.shape[-1]).transpose(2, 3).contiguous())
        return t

    def _const(self, p: torch.Tensor) -> torch.Tensor:
        return torch.view_as_complex(p) if self.is_complex else p  # (E, M)

    def delta_at_rest(self) -> torch.Tensor:
        """Δ (E,) for a zero SSM input: what the initialization realized."""
        return self.dt_fn(self.dt_proj.bias if self.selective[0] else self.dt_bias)

    def scan_inputs(self, x: torch.Tensor):
        """Everything the selective scan sees: u, Δ (B, E, L), A (E, M), B, C, D, z."""
        L = x.shape[1]
        xs, z = self.in_proj(x).chunk(2, dim=-1)  # (B, L, E) each
        xs = F.silu(self.conv(xs.transpose(1, 2))[..., :L])  # (B, E, L)
        u = self.probes["u"](xs)
        parts = self.x_proj(xs.transpose(1, 2)).split(self.split, dim=-1) if self.x_proj is not None else [None] * 3
        sd, sb, sc = self.selective
        if sd:
            delta = self.dt_fn(self.dt_proj(parts[0])).transpose(1, 2)  # (B, E, L)
        else:
            delta = self.dt_fn(self.dt_bias)[None, :, None].expand(x.shape[0], -1, L)
        B = self._bc(parts[1]) if sb else self._const(self.B)
        C = self._bc(parts[2]) if sc else self._const(self.C)
        p = self.probes
        return u, p["delta"](delta), self.A, p["B"](B), p["C"](C), self.D, p["z"](z.transpose(1, 2))

    def _mix(self, x, scan):
        u, delta, A, B, C, D, z = self.scan_inputs(x)
        y = self.probes["y"](scan(u, delta, A, B, C, D, discretization=self.discretization))  # (B, E, L)
        out = self.out_proj(self.gate_fn(y, z).transpose(1, 2))
        return self.probes["out"](out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix(x, selective_scan)

    def forward_ref(self, x: torch.Tensor) -> torch.Tensor:
        """Same block through the sequential reference scan."""
        return self._mix(x, selective_scan_ref)

    def step(self, x_t: torch.Tensor, state=None):
        """x_t (B, H) -> (y_t (B, H), (conv window (B, E, d_conv), h (B, E, M)))."""
        Bsz = x_t.shape[0]
        E, K = self.D.shape[0], self.conv.kernel_size[0]
        if state is None:
            cplx = {torch.float64: torch.complex128}.get(x_t.dtype, torch.complex64)
            h = x_t.new_zeros(Bsz, E, self.M, dtype=cplx if self.is_complex else x_t.dtype)  # (B, E, M) on x_t's device
            state = (x_t.new_zeros(Bsz, E, K), h)
        window, h = state
        xs, z = self.in_proj(x_t).chunk(2, dim=-1)  # (B, E)
        window = torch.cat([window[..., 1:], xs[..., None]], -1)
        xs = F.silu((window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)  # (B, E)
        parts = self.x_proj(xs).split(self.split, dim=-1) if self.x_proj is not None else [None] * 3
        sd, sb, sc = self.selective
        delta = self.dt_fn(self.dt_proj(parts[0])) if sd else self.dt_fn(self.dt_bias).expand(Bsz, -1)  # (B, E)
        B = self._bc(parts[1][:, None])[..., 0][:, None] if sb else self._const(self.B)[None]  # (B|1, 1|E, M)
        C = self._bc(parts[2][:, None])[..., 0][:, None] if sc else self._const(self.C)[None]
        A = self.A
        dt = delta[..., None].to(A.dtype)  # (B, E, 1)
        A_bar, B_fac = DISCRETIZE[self.discretization](A, 1.0, dt)
        h = A_bar * h + B_fac * B * xs[..., None].to(A_bar.dtype)  # (B, E, M)
        y = (h * C).sum(-1)
        y = (2 * y.real if y.is_complex() else y) + self.D * xs
        return self.out_proj(self.gate_fn(y, z)), (window, h)
