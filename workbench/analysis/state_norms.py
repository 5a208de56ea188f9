"""‖h_t‖ against position, per layer and channel or head: what a recurrent state carries past training length.

The states come from each mixer's own `step` (the recurrent mode), so no L×L matrix is built.
Norms are of the state as the layer stores it:
  s4d/lti, mamba, lru, mega-ema   h (b, channel, modes): ‖h_t‖ over modes (complex modulus;
                                  a conjugate pair stores one mode, so the real norm is √2× it)
  mamba2                          h (b, head, P, N): Frobenius norm per head
  gla                             S (b, head, d_k, d_v): Frobenius norm per head
  deltanet, gated-deltanet        S (b, head, d_v, d_k): Frobenius norm per head
  rg-lru                          h (b, channel): |h_t| per channel (one real state each)
  mlstm                           C (b, head, d, d) in stabilized form (the true C is e^{m_t}·C)
  attention                       the key/value cache (b, head, t, d): grows with t (no fixed state)
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch import nn

from workbench.analysis.operators import layer_inputs
from workbench.analysis.walk import model_attrs
from workbench.ssm.attention import Attention
from workbench.ssm.mlstm import MLSTM


def _norm(m: nn.Module, state) -> tuple[torch.Tensor, str]:
    """(b, g) norm of one layer's state, and the group dim name."""
    if isinstance(m, Attention):
        k, v = state  # (b, h, t, d)
        return torch.sqrt(k.abs().pow(2).sum((-1, -2)) + v.abs().pow(2).sum((-1, -2))), "head"
    if isinstance(m, MLSTM):
        return torch.linalg.matrix_norm(state[0]), "head"
    h = state[-1] if isinstance(state, tuple) else state  # mamba, mamba2: (conv window, h)
    if h.dim() == 4:  # (b, head, ., .)
        return torch.linalg.matrix_norm(h), "head"
    if h.dim() == 2:  # rg-lru: one real state per channel (b, channel)
        return h.abs(), "channel"
    return torch.linalg.vector_norm(h, dim=-1), "channel"  # (b, channel, modes)


@torch.no_grad()
def state_norms(model_or_layer: nn.Module, x: torch.Tensor) -> xr.Dataset:
    """norm (layer, sample, channel|head, position): ‖h_t‖ after reading x[:, t], each layer fed what it
    receives in the full model (x: model inputs, or (b, L, H) for a bare mixer)."""
    model_or_layer = model_or_layer.eval()
    out, dims = [], set()
    for m, xin in layer_inputs(model_or_layer, x):
        state, norms = None, []
        for t in range(xin.shape[1]):
            _, state = m.step(xin[:, t], state)
            n, dim = _norm(m, state)
            norms.append(n.double())
        out.append(torch.stack(norms, -1).cpu().numpy())  # (b, g, L)
        dims.add(dim)
    dim = dims.pop() if len(dims) == 1 else "group"
    arr = np.stack(out)  # (layer, b, g, L)
    return xr.Dataset(
        {
            "norm": (
                ("layer", "sample", dim, "position"),
                arr,
                {"long_name": "‖h_t‖", "units": "state norm (layer's own units)"},
            )
        },
        coords={
            "layer": np.arange(arr.shape[0]),
            "sample": np.arange(arr.shape[1]),
            dim: np.arange(arr.shape[2]),
            "position": np.arange(arr.shape[3]),
        },
        attrs=model_attrs(model_or_layer),
    )
