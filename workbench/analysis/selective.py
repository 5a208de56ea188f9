"""Input-dependent quantities of selective and gated layers: Δ_t, decay, gates, hidden attention."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from workbench.analysis.walk import mixer_inputs, mixers, model_attrs, need
from workbench.ssm.attention import Attention
from workbench.ssm.deltanet import DeltaNet
from workbench.ssm.discretize import DISCRETIZE
from workbench.ssm.gla import GLA
from workbench.ssm.hidden_attention import hidden_attention as mamba_alpha
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.mlstm import MLSTM
from workbench.ssm.probe import capture
from workbench.ssm.rg_lru import RGLRU
from workbench.ssm.ssd import segsum


@torch.no_grad()
def selective_forgetting(model, inputs: torch.Tensor) -> xr.Dataset:
    """Per (layer, sample, channel|head, token): Δ_t and the decay from each token to the end,
    mean over modes of |Π_{k>j} Ā_k|; gate activations for mLSTM (input, forget) and GLA (α);
    for the delta rule β_t, α_t (gated), the decay to the end and the state norm ‖S_t‖_F per head;
    for the RG-LRU r_t, i_t, a_t and the decay to the end per channel."""
    ms, xs, out = mixers(model), mixer_inputs(model, inputs), {}
    for i, (m, x) in enumerate(zip(ms, xs)):
        if isinstance(m, Mamba):
            _, delta, A, *_ = m.scan_inputs(x)  # Δ (B, E, L)
            A_bar, _ = DISCRETIZE[m.discretization](A[:, None, :], 1.0, delta[..., None].to(A.dtype))
            out.setdefault("delta", []).append((i, delta, "channel"))
            out.setdefault("decay_to_end", []).append((i, _decay_to_end(A_bar.abs().log()), "channel"))
        elif isinstance(m, Mamba2):
            with capture(m, "delta") as seen:
                m(x)
            d = seen["delta"].transpose(1, 2)  # (B, h, L)
            la = d * -torch.exp(m.A_log)[:, None]
            out.setdefault("delta", []).append((i, d, "head"))
            out.setdefault("decay_to_end", []).append((i, _decay_to_end(la[..., None]), "head"))
        elif isinstance(m, (MLSTM, GLA)):
            names = ["i_gate", "f_gate"] if isinstance(m, MLSTM) else ["alpha"]
            with capture(m, names) as seen:
                m(x)
            for n in names:
                g = seen[n]
                g = torch.exp(g) if n == "f_gate" else g  # σ(f̃), not its log
                dim = "head" if isinstance(m, MLSTM) else "channel"
                out.setdefault({"i_gate": "input_gate", "f_gate": "forget_gate", "alpha": "alpha"}[n], []).append(
                    (i, g.reshape(*g.shape[:2], -1).transpose(1, 2), dim)
                )
        elif isinstance(m, DeltaNet):
            _, _, _, beta, log_alpha = m.mixer_inputs(x)  # (B, L, h)
            out.setdefault("beta", []).append((i, beta.transpose(1, 2), "head"))
            if log_alpha is not None:
                la = log_alpha.transpose(1, 2)  # (B, h, L)
                out.setdefault("alpha", []).append((i, torch.exp(la), "head"))
                out.setdefault("delta", []).append((i, m.dt_fn(m.dt_proj(x) + m.dt_bias).transpose(1, 2), "head"))
                out.setdefault("decay_to_end", []).append((i, _decay_to_end(la[..., None]), "head"))
            out.setdefault("state_norm", []).append((i, m.state_norms(x), "head"))
        elif isinstance(m, RGLRU):
            xc, log_a, _ = m.recurrence_inputs(x)  # (B, L, E)
            r, ig, _ = m.gates(xc)
            for name, g in (("recurrence_gate", r), ("input_gate", ig), ("a", torch.exp(log_a))):
                out.setdefault(name, []).append((i, g.transpose(1, 2), "channel"))
            out.setdefault("decay_to_end", []).append((i, _decay_to_end(log_a.transpose(1, 2)[..., None]), "channel"))
    need(out, "selective_forgetting", "mamba, mamba2, mlstm, gla, deltanet, gated-deltanet or rg-lru", model)
    data, coords = {}, {}
    for name, items in out.items():
        dim = items[0][2]
        arr = np.stack([t.double().cpu().numpy() for _, t, _ in items])  # (layers, B, C, L)
        data[name] = (("layer", "sample", dim, "token"), arr, {"long_name": _LONG[name]})
        coords.update({"layer": [i for i, _, _ in items], dim: np.arange(arr.shape[2])})
    coords.update({"sample": np.arange(inputs.shape[0]), "token": np.arange(inputs.shape[1])})
    return xr.Dataset(data, coords=coords, attrs=model_attrs(model))


_LONG = {
    "delta": "Δ_t",
    "decay_to_end": "mean_n |Π_{k>j} Ā_k|",
    "input_gate": "ĩ_t (pre-activation)",
    "forget_gate": "σ(f̃_t)",
    "alpha": "α_t",
    "beta": "β_t",
    "state_norm": "‖S_t‖_F",
    "recurrence_gate": "r_t",
    "a": "a_t = a^{c·r_t}",
}


def _decay_to_end(log_abs: torch.Tensor) -> torch.Tensor:
    """log|Ā| (..., L, N) -> mean over modes of exp(Σ_{k>j} log|Ā_k|) (..., L)."""
    after = log_abs.flip(-2).cumsum(-2).flip(-2) - log_abs  # Σ_{k=j+1..L-1}
    return torch.exp(after).mean(-1)


@torch.no_grad()
def hidden_attention(model, inputs: torch.Tensor, sample: int = 0) -> xr.Dataset:
    """α_ij per (layer, channel|head, target i, source j) on one sample: Mamba's implicit attention
    (Ali et al. 2024), Mamba-2's quadratic-form scores, the delta rule's materialized operator
    (Q Kᵀ ⊙ Γ)(I + A)⁻¹ diag(β) on v, the RG-LRU's Π a_k·√(1 − a_j²)·i_j on its conv output,
    softmax attention's probabilities.
    `alpha_minmax` rescales |α| to [0, 1] per matrix (raw scores can be negative)."""
    ms, xs, mats = mixers(model), mixer_inputs(model, inputs[sample : sample + 1]), []
    for i, (m, x) in enumerate(zip(ms, xs)):
        if isinstance(m, Mamba):
            mats.append((i, mamba_alpha(m, x)[0], "channel"))
        elif isinstance(m, Mamba2):
            mats.append((i, _ssd_scores(m, x), "head"))
        elif isinstance(m, DeltaNet):
            mats.append((i, m.operator(x)[0], "head"))
        elif isinstance(m, RGLRU):
            mats.append((i, m.operator(x)[0], "channel"))
        elif isinstance(m, Attention):
            with capture(m, "attn") as seen:
                m.forward_ref(x)
            mats.append((i, seen["attn"][0], "head"))
    need(mats, "hidden_attention", "mamba, mamba2, deltanet, gated-deltanet, rg-lru or attention", model)
    dim = mats[0][2]
    a = np.stack([t.double().cpu().numpy() for _, t, _ in mats])  # (layers, C, L, L)
    absa = np.abs(a)
    lo, hi = absa.min((-1, -2), keepdims=True), absa.max((-1, -2), keepdims=True)
    mm = (absa - lo) / np.where(hi > lo, hi - lo, 1.0)
    dims = ("layer", dim, "target", "source")
    return xr.Dataset(
        {
            "alpha": (dims, a, {"long_name": "α_ij"}),
            "alpha_minmax": (dims, mm, {"long_name": "(|α| − min)/(max − min)"}),
        },
        coords={
            "layer": [i for i, _, _ in mats],
            dim: np.arange(a.shape[1]),
            "target": np.arange(a.shape[2]),
            "source": np.arange(a.shape[3]),
        },
        attrs=model_attrs(model, sample=sample),
    )


def _ssd_scores(m: Mamba2, x: torch.Tensor) -> torch.Tensor:
    """(C_i·B_j)·exp(Σ_{k=j+1..i} Δ_k a)·Δ_j per head (h, L, L) for one sample."""
    with capture(m, ["delta", "B", "C"]) as seen:
        m(x)
    dt, B, C = seen["delta"][0], seen["B"][0], seen["C"][0]  # (L, h), (L, [G,] N) each
    if B.dim() == 3:  # n_groups > 1: each head reads its group's B_t, C_t -> (h, L, N)
        B, C = (t.repeat_interleave(m.h // m.G, dim=1).transpose(0, 1) for t in (B, C))
    scores = C @ B.transpose(-1, -2)  # (L, L) or (h, L, L): C_i·B_j
    la = (dt * -torch.exp(m.A_log)).T  # (h, L)
    return (scores if scores.dim() == 3 else scores[None]) * torch.exp(segsum(la)) * dt.T[:, None, :]
