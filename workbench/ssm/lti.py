"""The LTI SSM layer: convolution mode (`forward`), recurrent mode (`step`), `kernel`, `materialize`.

u (B, L, H) -> y (B, L, H). Parameters live in log/reparameterized space; `materialize`
is the one place they become A, B, C, Δ, Ā, B̄. Two variants share the interface:
`DiagonalSSM` (S4D/LRU/PTD modes) and `DenseSSM` (full HiPPO matrices, the reference).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench.errors import SpecError
from workbench.ssm.discretize import DISCRETIZE, DISCRETIZE_DENSE
from workbench.ssm.init import DIAGONAL, dense_hippo, log_uniform_dt
from workbench.ssm.kernel import causal_fft_conv, krylov_kernel, vandermonde_kernel
from workbench.ssm.optim_hints import hint
from workbench.ssm.params import SSMParams
from workbench.ssm.recurrence import dense_step, diagonal_step, zero_state
from workbench.ssm.reparam import DT, RE_A, re_a_range


def _dt_parameter(H, dt_min, dt_max, dt_transform, gen):
    dt = log_uniform_dt(H, dt_min, dt_max, gen)  # (H,)
    if dt_transform == "softplus":
        dt = dt.clamp(min=1e-4)  # Mamba's floor
    return DT[dt_transform][1](dt)


class LTIBase(nn.Module):
    """Shared convolution and recurrent modes over `materialize()`."""

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        L = u.shape[1]
        p = self.materialize()
        K = self._kernel(p, L)  # (H, L)
        y = causal_fft_conv(u.transpose(1, 2), K).transpose(1, 2)  # (B, L, H)
        return y + p.D * u

    def kernel(self, L: int) -> torch.Tensor:
        """K (H, L) without the D skip term."""
        return self._kernel(self.materialize(), L)

    def step(self, u_t: torch.Tensor, state: torch.Tensor | None = None, params: SSMParams | None = None):
        """One recurrent step: u_t (B, H) -> (y_t (B, H), state). Pass `params` to skip re-materializing."""
        p = params if params is not None else self.materialize()
        if state is None:
            state = zero_state(u_t.shape[0], p.A_bar, p.dense)
        return self._step(state, u_t, p.A_bar, p.B_bar, p.C, p.D, p.conjugate_pairs)


class DiagonalSSM(LTIBase):
    def __init__(
        self,
        *,
        d_model: int,
        d_state: int,
        init: str = "s4d-lin",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_transform: str = "exp",
        a_reparam: str = "exp",
        discretization: str = "zoh",
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * math.pi,
        ptd_eps: float = 1e-4,
        learn_a: bool = True,
        learn_dt: bool = True,
        ssm_lr: float = 1e-3,
        seed: int = 0,
    ):
        super().__init__()
        H, N = d_model, d_state
        gen = torch.Generator().manual_seed(seed)
        extra = {"lru-ring": dict(r_min=r_min, r_max=r_max, max_phase=max_phase), "ptd-legs": dict(eps=ptd_eps)}.get(
            init, {}
        )
        d = DIAGONAL[init](H, N, gen, **extra)
        self.conjugate, self.info, self.init = d.conjugate, d.info, init
        self.dt_range = (1.0, 1.0) if d.dt is not None else (dt_min, dt_max)  # what was asked, for audits
        self.ring = (r_min, r_max) if init == "lru-ring" else None
        self.re_a, inv_re_a = RE_A[a_reparam]
        lo, hi = re_a_range(a_reparam)
        re = d.A.real
        if not bool(((re > lo) & (re < hi)).all()):
            field, value = (
                ("ssm.ptd_eps", ptd_eps)
                if init == "ptd-legs" and float(re.max()) >= 0
                else ("ssm.a_reparam", a_reparam)
            )
            raise SpecError(
                field,
                value,
                f"Re(A) of init {init!r} spans [{float(re.min()):.3g}, {float(re.max()):.3g}] "
                f"but a_reparam {a_reparam!r} represents only ({lo:.3g}, {hi:.3g})",
            )
        M = d.A.shape[1]
        w = inv_re_a(re).float()
        if learn_a:
            self.w = nn.Parameter(w)
        else:  # a frozen A is a buffer (assigning None first would make the name an attribute)
            self.register_buffer("w", w)
        im = d.A.imag.float()
        if learn_a and bool((im != 0).any()):
            self.A_im = hint(nn.Parameter(im), ssm_lr)
        else:
            self.register_buffer("A_im", im)
        if learn_a:
            hint(self.w, ssm_lr)
        # LRU fixes Δ ≡ 1 and normalizes the input by γ = √(1-|λ|²) instead of B̄ from Δ.
        self.dt_fn = DT[dt_transform][0]
        if d.dt is not None:
            self.dt_fn = DT["exp"][0]
            self.register_buffer("dt_param", torch.zeros(H))
        elif learn_dt:
            self.dt_param = hint(nn.Parameter(_dt_parameter(H, dt_min, dt_max, dt_transform, gen).float()), ssm_lr)
        else:
            self.register_buffer("dt_param", _dt_parameter(H, dt_min, dt_max, dt_transform, gen).float())
        self.gamma_normalized = d.dt is not None
        self.discretize = DISCRETIZE[discretization]
        self.B = hint(nn.Parameter(torch.view_as_real(d.B).float()), ssm_lr)  # (H, M, 2)
        C = torch.randn(H, M, 2, generator=gen, dtype=torch.float64) * math.sqrt(0.5)  # complex normal
        if not bool((d.A.imag != 0).any()) and not d.B.imag.any():
            C[..., 1] = 0  # real modes keep a real C
        self.C = nn.Parameter(C.float())
        self.D = nn.Parameter(torch.randn(H, generator=gen, dtype=torch.float64).float())
        self._kernel = lambda p, L: vandermonde_kernel(p.B_bar * p.C, p.A_bar, L, p.conjugate_pairs)
        self._step = diagonal_step

    def materialize(self) -> SSMParams:
        A = torch.complex(self.re_a(self.w), self.A_im)  # (H, M)
        B, C = torch.view_as_complex(self.B), torch.view_as_complex(self.C)  # (H, M)
        dt = self.dt_fn(self.dt_param)  # (H,)
        A_bar, B_bar = self.discretize(A, B, dt[:, None])
        if self.gamma_normalized:
            B_bar = torch.sqrt(torch.clamp(1 - A_bar.abs() ** 2, min=0)) * B
        return SSMParams(A, B, C, self.D, dt, A_bar, B_bar, self.conjugate, False, dict(self.info))


class DenseSSM(LTIBase):
    """A full HiPPO matrix shared by the H channels, each with its own Δ and C (the reference)."""

    def __init__(
        self,
        *,
        d_model: int,
        d_state: int,
        init: str = "hippo-legs",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_transform: str = "exp",
        discretization: str = "zoh",
        learn_a: bool = True,
        learn_dt: bool = True,
        ssm_lr: float = 1e-3,
        seed: int = 0,
    ):
        super().__init__()
        H, N = d_model, d_state
        gen = torch.Generator().manual_seed(seed)
        A, B = dense_hippo(init, N)
        self.init, self.info, self.dt_range, self.ring = init, {}, (dt_min, dt_max), None
        if learn_a:
            self.A = hint(nn.Parameter(A.float()), ssm_lr)
        else:
            self.register_buffer("A", A.float())
        self.B = hint(nn.Parameter(B.float()), ssm_lr)  # (N,)
        self.dt_fn = DT[dt_transform][0]
        dtp = _dt_parameter(H, dt_min, dt_max, dt_transform, gen).float()
        if learn_dt:
            self.dt_param = hint(nn.Parameter(dtp), ssm_lr)
        else:
            self.register_buffer("dt_param", dtp)
        self.C = nn.Parameter(torch.randn(H, N, generator=gen, dtype=torch.float64).float())
        self.D = nn.Parameter(torch.randn(H, generator=gen, dtype=torch.float64).float())
        self.discretize = DISCRETIZE_DENSE[discretization]
        self._kernel = lambda p, L: krylov_kernel(p.C, p.A_bar, p.B_bar, L)
        self._step = dense_step

    def materialize(self) -> SSMParams:
        H = self.C.shape[0]
        dt = self.dt_fn(self.dt_param)  # (H,)
        A_bar, B_bar = self.discretize(self.A, self.B, dt)  # (H, N, N), (H, N)
        A = self.A.expand(H, -1, -1)
        return SSMParams(A, self.B.expand(H, -1), self.C, self.D, dt, A_bar, B_bar, False, True, {})
