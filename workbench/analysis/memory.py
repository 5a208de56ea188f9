"""How fast a model forgets: the StableSSM memory function and the gradient memory (StableSSM, Wang & Li 2024, Definition 3.1)."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from workbench.analysis.walk import model_attrs
from workbench.errors import SpecError


def _input_size(model) -> int:
    enc = getattr(model, "encoder", None)
    if isinstance(enc, torch.nn.Embedding):
        raise SpecError(
            "memory_function",
            "token model",
            "a model with continuous inputs, or a single layer (use gradient_memory for token models)",
        )
    if isinstance(enc, torch.nn.Linear):
        return enc.in_features
    return model.D.shape[0]  # a bare layer: one input per channel


@torch.no_grad()
def memory_function(model, length: int) -> xr.Dataset:
    """ρ(t) = |y_t − y_{t−1}| (y_{−1} = 0) for the Heaviside input u_t = x·1[t ≥ 0], per output channel.

    x is the unit vector along all input dimensions. For an LTI layer ρ(t) = |K[t]| for t ≥ 1
    (lag 0 also carries the skip term D).
    """
    d_in = _input_size(model)
    p = next(model.parameters())
    u = torch.full((1, length, d_in), d_in**-0.5, dtype=p.dtype, device=p.device)
    y = model(u)[0].double()  # (L, d_out)
    rho = torch.diff(y, dim=0, prepend=torch.zeros_like(y[:1])).abs().T.cpu().numpy()  # (d_out, L)
    return xr.Dataset(
        {"rho": (("channel", "lag"), rho, {"long_name": "ρ(t) = |y_t − y_{t−1}|"})},
        coords={"channel": np.arange(rho.shape[0]), "lag": ("lag", np.arange(length), {"units": "steps"})},
        attrs=model_attrs(model, input="Heaviside x·1[t≥0], x = ones/√d"),
    )


def gradient_memory(model, inputs: torch.Tensor, n_projections: int | None = None) -> xr.Dataset:
    """‖∂y_T/∂u_{T−t}‖ (Frobenius over output and input dims, mean over samples) against lag t.

    Token models are differentiated w.r.t. their embeddings. Exact: one backward pass per output
    dimension of y_T. With `n_projections` = k: the unbiased estimate ‖J‖²_F ≈ (1/k)Σ‖vᵢᵀJ‖²
    with seeded Gaussian vᵢ (E[vvᵀ] = I), k backward passes whatever the vocabulary.
    """
    enc = getattr(model, "encoder", None)
    with torch.enable_grad():
        u = (enc(inputs) if isinstance(enc, torch.nn.Embedding) else inputs).detach().requires_grad_()
        run = model.run_layers if isinstance(enc, torch.nn.Embedding) else model
        yT = run(u)[:, -1]  # (B, d_out)
        if n_projections is None:
            dirs = torch.eye(yT.shape[1], dtype=yT.dtype, device=yT.device)  # (d_out, d_out)
        else:
            g0 = torch.Generator().manual_seed(0)
            dirs = torch.randn(n_projections, yT.shape[1], generator=g0, dtype=yT.dtype) / n_projections**0.5
        sq = torch.zeros_like(u)
        for k, v in enumerate(dirs.to(yT.device)):
            (g,) = torch.autograd.grad((yT * v).sum(), u, retain_graph=k + 1 < len(dirs))
            sq += g.square()  # samples are independent, so one summed backward gives every row
    norm = sq.sum(-1).sqrt().mean(0).flip(0).double().cpu().numpy()  # (L,) by lag t = T − position
    return xr.Dataset(
        {"grad_norm": (("lag",), norm, {"long_name": "‖∂y_T/∂u_{T−t}‖"})},
        coords={"lag": ("lag", np.arange(norm.shape[0]), {"units": "steps"})},
        attrs=model_attrs(
            model,
            samples=int(inputs.shape[0]),
            estimate="exact" if n_projections is None else f"{n_projections} projections",
        ),
    )
