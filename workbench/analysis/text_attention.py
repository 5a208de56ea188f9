"""Hidden attention of one layer on a text (Ali et al. 2024, "The Hidden Attention of Mamba Models").

Mamba, channel d:   y_i = Σ_{j≤i} α_ij u_j + D u_i,
                    α_ij = Σ_n C_i[n] exp(A_n Σ_{k=j+1..i} Δ_k) Δ_j B_j[n]   (Mamba's discretization)
Mamba-2, head h:    y_i = Σ_{j≤i} α_ij x_j + D x_i,  α_ij = (C_i·B_j) exp(a Σ_{k=j+1..i} Δ_k) Δ_j
`alpha` is α itself (signed: it multiplies the layer's SSM input); `alpha_row` is |α_ij| / Σ_j |α_ij|,
each target row summing to 1, the form comparable with softmax attention. The averaged form
(`alpha_mean`, `alpha_row_mean`) is the mean over every channel (Mamba) or head (Mamba-2) of the layer.
"""

from __future__ import annotations

import torch
import xarray as xr

from workbench.analysis.text import _coords, _np, encode
from workbench.analysis.walk import mixer_inputs, mixers, model_attrs
from workbench.errors import SpecError
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.ssd import segsum

NORMALIZATION = (
    "alpha: raw α_ij with y_i = Σ_j α_ij u_j + D·u_i (Ali et al. 2024); alpha_row: |α_ij| / Σ_j |α_ij| per target row"
)


def _mamba_alpha(m: Mamba, x: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """α (len(channels), L, L) of Mamba channels on x (1, L, H); real modes, Mamba's discretization."""
    u, delta, A, B, C, D, z = m.scan_inputs(x)
    if m.discretization != "mamba" or A.is_complex():
        raise SpecError(
            "hidden_attention", m.discretization, "a Mamba layer with real modes and Mamba's discretization"
        )
    dt = delta[0, channels]  # (c, L)
    log_a = dt[:, None, :] * A[channels][..., None]  # (c, M, L): Δ_k A_n
    decay = torch.exp(segsum(log_a))  # (c, M, L, L): exp(A_n Σ_{k=j+1..i} Δ_k), 0 above the diagonal
    return torch.einsum("ni,cnij,nj,cj->cij", C[0], decay, B[0], dt)


def _mamba2_alpha(m: Mamba2, x: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    L = x.shape[1]
    z, xBC, dt_raw = m._split(m.in_proj(x))
    xBC = m.conv(xBC.transpose(1, 2))[..., :L].transpose(1, 2)
    _, dt, a, B, C = m._ssm_inputs(xBC, dt_raw)  # dt (1, L, h); B, C (1, L, [G,] N)
    group = heads // (m.h // m.G)
    Bh = B[0] if m.G == 1 else B[0][:, group].transpose(0, 1)  # (L, N) or (c, L, N)
    Ch = C[0] if m.G == 1 else C[0][:, group].transpose(0, 1)
    scores = Ch @ Bh.transpose(-1, -2)  # (L, L) or (c, L, L): C_i·B_j
    d = dt[0][:, heads].T  # (c, L)
    return scores * torch.exp(segsum(d * a[heads, None])) * d[:, None, :]


def _alpha(m, x, idx):
    return _mamba_alpha(m, x, idx) if isinstance(m, Mamba) else _mamba2_alpha(m, x, idx)


def _row(a: torch.Tensor) -> torch.Tensor:
    s = a.abs().sum(-1, keepdim=True)
    return a.abs() / torch.where(s > 0, s, torch.ones_like(s))


@torch.no_grad()
def text_attention(
    model, text: str, layer: int = 0, channel: int = 0, tokenizer=None, average: bool = True, block: int = 16
) -> xr.Dataset:
    """α of `layer` on `text`: one channel (head for Mamba-2) and, with `average`, the mean over all of
    them (computed `block` channels at a time to bound memory). Dims (target, source) = positions."""
    ids, words = encode(model, text, tokenizer)
    ms = mixers(model)
    if not 0 <= layer < len(ms):
        raise SpecError("layer", layer, f"an integer in [0, {len(ms) - 1}]")
    m = ms[layer]
    if not isinstance(m, (Mamba, Mamba2)):
        raise SpecError("layer", layer, "a Mamba or Mamba-2 layer")
    n = m.D.shape[0] if isinstance(m, Mamba) else m.h
    if not 0 <= channel < n:
        raise SpecError("channel", channel, f"an integer in [0, {n - 1}]")
    x = mixer_inputs(model, ids)[layer]
    one = _alpha(m, x, torch.tensor([channel]))[0]
    data = {
        "alpha": (("target", "source"), _np(one), {"long_name": "α_ij"}),
        "alpha_row": (("target", "source"), _np(_row(one)), {"long_name": "|α_ij| / Σ_j |α_ij|"}),
    }
    if average:
        tot, tot_row = torch.zeros_like(one), torch.zeros_like(one)
        for s in range(0, n, block):
            a = _alpha(m, x, torch.arange(s, min(s + block, n)))
            tot += a.sum(0)
            tot_row += _row(a).sum(0)
        data["alpha_mean"] = (("target", "source"), _np(tot / n), {"long_name": "mean over channels of α_ij"})
        data["alpha_row_mean"] = (
            ("target", "source"),
            _np(tot_row / n),
            {"long_name": "mean over channels of |α_ij| / Σ_j |α_ij|"},
        )
    c = _coords(words)
    coords = {
        "target": c["position"],
        "source": c["position"],
        "target_token": ("target", c["token"][1]),
        "source_token": ("source", c["token"][1]),
    }
    kind = "head" if isinstance(m, Mamba2) else "channel"
    return xr.Dataset(
        data,
        coords=coords,
        attrs=model_attrs(
            model, layer=layer, channel=channel, channel_kind=kind, normalization=NORMALIZATION, text=text
        ),
    )
