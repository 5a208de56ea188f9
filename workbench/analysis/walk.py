"""Shared plumbing: which layers a model has, what each mixer sees, and its modes in one form.

Every analysis function walks a model through these, so a new layer kind is taught here once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from torch import nn

from workbench.errors import SpecError
from workbench.ssm.discretize import DISCRETIZE
from workbench.ssm.gated_deltanet import GatedDeltaNet
from workbench.ssm.lru import LRU
from workbench.ssm.lti import DenseSSM, DiagonalSSM
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.mega_ema import MegaEMA
from workbench.ssm.rg_lru import RGLRU
from workbench.ssm.s4d_block import S4DBlock


def mixers(model: nn.Module) -> list[nn.Module]:
    """The sequence mixers of a SequenceModel, or [model] for a bare mixer or LTI layer."""
    layers = getattr(model, "layers", None)
    return [b.mixer for b in layers] if layers is not None else [model]


def lti_core(m: nn.Module):
    """The LTI SSM inside a mixer (S4D block or a bare layer), else None."""
    if isinstance(m, S4DBlock):
        return m.ssm
    return m if isinstance(m, (DiagonalSSM, DenseSSM)) else None


@torch.no_grad()
def mixer_inputs(model: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """What each mixer receives (B, L, H) when `model` runs on `inputs`."""
    ms = mixers(model)
    if ms == [model]:
        return [inputs]
    seen = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args, i=i: seen.__setitem__(i, args[0])) for i, m in enumerate(ms)]
    try:
        model(inputs)
    finally:
        for h in hooks:
            h.remove()
    return [seen[i] for i in range(len(ms))]


@dataclass
class Modes:
    """A layer's modes in one form: the kernel is (c/2)·Σ_m [CB Ā^ℓ + conj(CB) conj(Ā)^ℓ]."""

    A: torch.Tensor  # (C, M) continuous-time eigenvalues (complex128)
    A_bar: torch.Tensor  # (C, M) poles
    CB: torch.Tensor | None  # (C, M) residues C·B̄, None where the layer has no fixed kernel
    dt: torch.Tensor  # (C,) Δ (at rest for selective layers)
    c: float  # 2 for conjugate pairs, else 1
    channel_dim: str = "channel"


def _c128(t):
    return t.detach().to(torch.complex128)


@torch.no_grad()
def layer_modes(m: nn.Module) -> Modes | None:
    """Modes of an LTI layer, or of a selective layer at rest (zero input); None for others."""
    core = lti_core(m)
    if isinstance(core, DiagonalSSM):
        p = core.materialize()
        return Modes(
            _c128(p.A), _c128(p.A_bar), _c128(p.C * p.B_bar), p.dt.detach().double(), 2.0 if p.conjugate_pairs else 1.0
        )
    if isinstance(core, DenseSSM):
        p = core.materialize()
        A = torch.linalg.eigvals(p.A[0].double())[None].expand(p.dt.shape[0], -1)
        return Modes(A.to(torch.complex128), torch.linalg.eigvals(p.A_bar.double()), None, p.dt.detach().double(), 1.0)
    if isinstance(m, Mamba):
        dt = m.delta_at_rest().double()  # (E,)
        A = _c128(m.A)  # (E, M)
        A_bar, _ = DISCRETIZE[m.discretization](A, 1.0, dt[:, None].to(A.dtype))
        return Modes(A, A_bar, None, dt, 2.0 if m.is_complex else 1.0)
    if isinstance(m, Mamba2):
        dt = m.dt_fn(m.dt_bias).double()  # (heads,)
        a = -torch.exp(m.A_log.double())
        return Modes(_c128(a[:, None]), _c128(torch.exp(dt * a)[:, None]), None, dt, 1.0, "head")
    if isinstance(m, GatedDeltaNet):  # α = exp(Δ a) at rest, half-life ln 2/(Δ|a|) as for Mamba-2
        dt = m.dt_at_rest().double()  # (heads,)
        a = -torch.exp(m.A_log.double())
        return Modes(_c128(a[:, None]), _c128(torch.exp(dt * a)[:, None]), None, dt, 1.0, "head")
    if isinstance(m, RGLRU):  # a_t at rest (r = σ(b_a)); Δ = 1 step so t½ = ln 2/|log a|
        a = m.a_at_rest().double()  # (E,)
        return Modes(_c128(torch.log(a)[:, None]), _c128(a[:, None]), None, torch.ones_like(a), 1.0)
    if isinstance(m, MegaEMA):
        q, p = m.coefficients()
        return Modes(_c128(torch.log(q.double())), _c128(q), _c128(p), torch.ones(q.shape[0], dtype=torch.float64), 1.0)
    if isinstance(m, LRU):
        lam = _c128(m.lam)[None]  # one state shared by all channels
        Bm, Cm = torch.view_as_complex(m.B).detach(), torch.view_as_complex(m.C).detach()  # (N, H), (H, N)
        CB = _c128(Cm * torch.exp(m.gamma_log) * Bm.T)  # (H, N): channel h's response to its own input
        return Modes(
            torch.log(lam).expand(CB.shape[0], -1),
            lam.expand(CB.shape[0], -1),
            CB,
            torch.ones(CB.shape[0], dtype=torch.float64),
            1.0,
        )
    return None


def model_attrs(model: nn.Module, **extra) -> dict:
    """Attrs every Dataset carries: the spec that produced the model, when known, and extras."""
    a = {"model_class": type(model).__name__}
    spec = getattr(model, "spec_json", None)
    if spec:
        a["spec"] = spec
    for k, v in extra.items():
        a[k] = v if isinstance(v, (int, float, str)) else json.dumps(v)
    return a


def need(found: list, what: str, kinds: str, model: nn.Module):
    if not found:
        raise SpecError(what, type(mixers(model)[0]).__name__, f"a model with {kinds} layers")
