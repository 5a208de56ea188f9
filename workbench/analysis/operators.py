"""A mixer's input→output operator T (y = T u per channel or head), in two forms.

`state_factors`: a diagonal state space realization, for layers that have one,
    T[r, c] = Σ_n C[r, n] · (Π_{k=c+1..r} A[k, n]) · B[c, n]      (r ≥ c; D u excluded)
with A, B, C (batch, group, L, n). Conjugate modes are listed with their conjugates, so n
counts real state dimensions (a complex pair counts twice). It costs O(L·n) per group.

`materialized_operator`: T itself (batch, group, L, L) float64, for every layer kind:
from the factors (the reference), softmax attention's probabilities, mLSTM's normalized
parallel form, a dense LTI layer's Toeplitz matrix, or a mixer's own
`materialized_operator(x)` method, the hook a new layer kind implements to take part.

Groups: channels for S4D/Mamba (T differs per channel), heads for Mamba-2/GLA/mLSTM/
attention (one T shared by all of a head's value channels). Convolutions before the SSM
(Mamba's and Mamba-2's depthwise conv), gates after it and the D skip are not part of T.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from workbench.analysis.walk import layer_modes, lti_core, mixers
from workbench.ssm.attention import Attention
from workbench.ssm.discretize import DISCRETIZE
from workbench.ssm.gla import GLA
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.mlstm import MLSTM
from workbench.ssm.probe import capture
from workbench.ssm.ssd import segsum


@dataclass
class Factors:
    A: torch.Tensor  # (b, g, L, n) per-step decay
    B: torch.Tensor  # (b, g, L, n) input map
    C: torch.Tensor  # (b, g, L, n) output map
    dim: str  # "channel" or "head"

    @property
    def state_size(self) -> int:
        return self.A.shape[-1]


def _with_conjugates(A, B, C):
    """2·Re Σ_n z_n = Σ_n z_n + conj(z_n): list every complex mode with its conjugate."""
    return (torch.cat([A, A.conj()], -1), torch.cat([B, B.conj()], -1), torch.cat([C, C.conj()], -1))


def _real_or_complex(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.complex128) if t.is_complex() else t.to(torch.float64)


@torch.no_grad()
def state_factors(m: nn.Module, x: torch.Tensor) -> Factors | None:
    """Factors of mixer `m` on its input x (b, L, H); None when the layer has no diagonal realization."""
    b, L = x.shape[0], x.shape[1]
    if isinstance(m, Mamba):
        _, delta, A, Bsel, Csel, _, _ = m.scan_inputs(x)  # Δ (b, E, L); A (E, M); B, C (b, M, L) or (E, M)
        dt = delta[..., None].to(A.dtype)  # (b, E, L, 1)
        A_bar, B_fac = DISCRETIZE[m.discretization](A[:, None, :], 1.0, dt)  # (b, E, L, M)
        Bt = Bsel.transpose(1, 2)[:, None] if Bsel.dim() == 3 else Bsel[None, :, None]  # (b|1, 1|E, L|1, M)
        Ct = Csel.transpose(1, 2)[:, None] if Csel.dim() == 3 else Csel[None, :, None]
        A_, B_, C_ = (_real_or_complex(t) for t in (A_bar, B_fac * Bt, Ct.expand_as(A_bar)))
        if m.is_complex:
            A_, B_, C_ = _with_conjugates(A_, B_, C_)
        return Factors(A_, B_, C_.expand_as(A_), "channel")
    if isinstance(m, Mamba2):
        with capture(m, ["delta", "B", "C"]) as seen:
            m(x)
        dt, Bs, Cs = (seen[k].double() for k in ("delta", "B", "C"))  # (b, L, h), (b, L, [G,] N) each
        if Bs.dim() == 4:  # n_groups > 1: each head reads its group's B_t, C_t -> (b, h, L, N)
            Bs, Cs = (t.repeat_interleave(m.h // m.G, dim=2).transpose(1, 2) for t in (Bs, Cs))
        else:
            Bs, Cs = Bs[:, None], Cs[:, None]  # (b, 1, L, N)
        a = -torch.exp(m.A_log.double())  # (h,)
        N = Bs.shape[-1]
        A_ = torch.exp(dt * a).transpose(1, 2)[..., None].expand(-1, -1, -1, N)  # (b, h, L, N)
        B_ = dt.transpose(1, 2)[..., None] * Bs  # (b, h, L, N)
        return Factors(A_, B_, Cs.expand_as(B_), "head")
    if isinstance(m, GLA):
        q, k, _, alpha = m._inputs(x)  # (b, L, h, d)
        return Factors(*(t.double().transpose(1, 2) for t in (alpha, k, q)), "head")
    modes = layer_modes(m)
    if modes is not None and modes.CB is not None:  # LTI layers: the same factors at every step
        A_, B_ = modes.A_bar, modes.CB  # (C, M) complex128
        C_ = torch.ones_like(B_)
        if bool((A_.imag != 0).any()) or bool((B_.imag != 0).any()):  # (c/2)·Σ [z + conj z]
            A_, B_, C_ = _with_conjugates(A_, B_ * (modes.c / 2), C_)
        else:  # real modes: c·Σ z
            A_, B_, C_ = A_.real, B_.real * modes.c, C_.real
        grow = lambda t: t[None, :, None].expand(b, -1, L, -1)  # (b, C, L, n)
        return Factors(grow(A_), grow(B_), grow(C_), modes.channel_dim)
    return None


def operator_from_factors(f: Factors, budget: int = 1 << 24) -> torch.Tensor:
    """The reference: T (b, g, L, L) float64 from the factors, as many groups at a time as `budget` allows."""
    b, g, L, n = f.A.shape
    step = max(1, budget // max(1, b * n * L * L))
    out = []
    for g0 in range(0, g, step):
        A, B, C = f.A[:, g0 : g0 + step], f.B[:, g0 : g0 + step], f.C[:, g0 : g0 + step]  # (b, s, L, n)
        real = not A.is_complex() and bool((A > 0).all())
        log_a = torch.log(A.double() if real else A.to(torch.complex128))  # complex: negative decays stay defined
        decay = torch.exp(segsum(log_a.transpose(-1, -2)))  # (b, s, n, L, L): Π_{k=c+1..r} A_k
        T = torch.einsum("bsrn,bsnrc,bscn->bsrc", C.to(decay.dtype), decay, B.to(decay.dtype))
        out.append(T.real if T.is_complex() else T)
    return torch.cat(out, 1)


def _mlstm_operator(m: MLSTM, x: torch.Tensor) -> torch.Tensor:
    """The normalized parallel form C̃_ij / max(|Σ_j C̃_ij|, e^{-m_i}) per head (b, h, L, L)."""
    q, k, _, i_pre, log_f = (t.double() for t in m._inputs(x))
    L = x.shape[1]
    cum = torch.cumsum(log_f, 1).transpose(1, 2)  # (b, h, L)
    logD = cum[..., :, None] - cum[..., None, :] + i_pre.transpose(1, 2)[..., None, :]
    logD = logD.masked_fill(~torch.tril(torch.ones(L, L, dtype=torch.bool, device=x.device)), -torch.inf)
    mx = logD.amax(-1, keepdim=True)
    Ct = torch.einsum("bihd,bjhd->bhij", q, k) * torch.exp(logD - mx)
    return Ct / torch.maximum(Ct.sum(-1, keepdim=True).abs(), torch.exp(-mx))


@torch.no_grad()
def materialized_operator(m: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, str]:
    """T (b, g, L, L) float64 and its group dim name, for any supported mixer."""
    own = getattr(m, "materialized_operator", None)
    if callable(own):
        T = own(x)
        return T.double(), getattr(m, "operator_dim", "head")
    if isinstance(m, Attention):
        with capture(m, "attn") as seen:
            m.forward_ref(x)
        return seen["attn"].double(), "head"
    if isinstance(m, MLSTM):
        return _mlstm_operator(m, x), "head"
    core = lti_core(m)
    if core is not None:  # Toeplitz from the layer's kernel: O(H·N·L), cheaper than the factors' O(H·N·L²)
        K = core.kernel(x.shape[1]).double()  # (H, L)
        L = K.shape[-1]
        lag = torch.arange(L)[:, None] - torch.arange(L)[None, :]  # (L, L)
        T = torch.where(lag >= 0, K[:, lag.clamp(min=0)], torch.zeros((), dtype=K.dtype))  # (H, L, L)
        return T[None].expand(x.shape[0], -1, -1, -1), "channel"
    f = state_factors(m, x)
    if f is None:
        from workbench.errors import SpecError

        raise SpecError(
            "layer",
            type(m).__name__,
            "a mixer with a materialized operator (s4d, mamba, mamba2, "
            "gla, mlstm, attention, lru, mega-ema, or one defining materialized_operator(x))",
        )
    return operator_from_factors(f), f.dim


def layer_inputs(model_or_layer: nn.Module, x: torch.Tensor) -> list[tuple[nn.Module, torch.Tensor]]:
    """(mixer, what it receives) for every layer; a bare mixer is fed x (b, L, H) itself."""
    from workbench.analysis.walk import mixer_inputs

    return list(zip(mixers(model_or_layer), mixer_inputs(model_or_layer, x)))


__all__ = ["Factors", "layer_inputs", "materialized_operator", "operator_from_factors", "state_factors"]
