"""A model read on a text: Δ_t, gates, B_t/C_t norms, ‖h_t‖, effective memory, per-token loss.

Every Dataset has the dimension `position` with the coordinate `token` (the text each token
covers), so plots put words on the axis. Works on any SequenceModel of Mamba / Mamba-2 layers:
the pretrained loader's, or one `build_model` made (with a tokenizer passed explicitly).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from workbench.analysis.walk import mixer_inputs, mixers, model_attrs, need
from workbench.errors import SpecError
from workbench.ssm.discretize import DISCRETIZE
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.scan import linear_scan

HALF_LIFE_BINS = np.linspace(-1, 7, 33)  # log10 t½ (tokens) histogram edges


def encode(model, text: str, tokenizer=None) -> tuple[torch.Tensor, list[str]]:
    """(ids (1, L), words) of `text` with the model's tokenizer."""
    tok = tokenizer or getattr(model, "tokenizer", None)
    if tok is None:
        raise SpecError("tokenizer", None, "a model from load_pretrained, or tokenizer=...")
    if not isinstance(text, str) or not text.strip():
        raise SpecError("text", text, "a non-empty string")
    ids, words = tok.encode(text)
    if len(ids) < 2:
        raise SpecError("text", text, "a text of at least 2 tokens")
    V = model.encoder.num_embeddings
    if max(ids) >= V:
        raise SpecError("text", text, f"tokens below the model's vocabulary size {V} (got id {max(ids)})")
    dev = model.encoder.weight.device
    return torch.tensor([ids], device=dev), words


def _coords(words: list[str]) -> dict:
    return {"position": np.arange(len(words)), "token": ("position", np.array(words, dtype=object).astype(str))}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def _mamba_read(m: Mamba, x: torch.Tensor) -> dict:
    """Δ, gate, ‖B_t‖, ‖C_t‖, ‖h_t‖ of one Mamba layer on its input x (1, L, H)."""
    u, delta, A, B, C, D, z = m.scan_inputs(x)  # Δ (1, E, L); B, C (1, M, L)
    dt = delta.permute(2, 0, 1)[..., None].to(A.dtype)  # (L, 1, E, 1)
    A_bar, B_fac = DISCRETIZE[m.discretization](A, 1.0, dt)  # (L, 1, E, M)
    Bu = B_fac * B.permute(2, 0, 1)[:, :, None, :] * u.permute(2, 0, 1)[..., None].to(A_bar.dtype)
    h = linear_scan(A_bar, Bu)  # (L, 1, E, M): every state, for its norm
    return {
        "delta": delta[0],
        "gate": m.gate_fn(torch.ones_like(z), z)[0],
        "B_norm": B[0].abs().norm(dim=0),
        "C_norm": C[0].abs().norm(dim=0),
        "state_norm": h[:, 0].abs().flatten(1).norm(dim=1),
    }


def _mamba2_read(m: Mamba2, x: torch.Tensor) -> dict:
    """Δ per head, gate per channel, ‖B_t‖, ‖C_t‖ (over groups), ‖h_t‖ of one Mamba-2 layer."""
    L = x.shape[1]
    z, xBC, dt_raw = m._split(m.in_proj(x))
    xBC = m.conv(xBC.transpose(1, 2))[..., :L].transpose(1, 2)
    xs, dt, a, B, C = m._ssm_inputs(xBC, dt_raw)  # dt (1, L, h); B, C (1, L, [G,] N)
    xs = xs.reshape(1, L, m.h, m.P)
    Bh = B[:, :, None].expand(-1, -1, m.h, -1) if m.G == 1 else B.repeat_interleave(m.h // m.G, dim=2)  # (1, L, h, N)
    decay = torch.exp(dt * a)  # (1, L, h)
    h = torch.zeros(1, m.h, m.P, m.N, dtype=x.dtype, device=x.device)
    norms = []
    for t in range(L):  # ‖h_t‖ needs each state; the layer's own forward never materializes them
        h = decay[:, t, :, None, None] * h + (dt[:, t, :, None] * xs[:, t])[..., None] * Bh[:, t, :, None, :]
        norms.append(h.norm())
    return {
        "delta": dt[0].T,
        "gate": F.silu(z[0]).T,
        "B_norm": B[0].flatten(1).norm(dim=1),
        "C_norm": C[0].flatten(1).norm(dim=1),
        "state_norm": torch.stack(norms),
    }


@torch.no_grad()
def text_dynamics(model, text: str, tokenizer=None) -> xr.Dataset:
    """Per layer on `text`: Δ_t (channel or head × position), gate SiLU(z_t) (channel × position),
    ‖B_t‖, ‖C_t‖ and the state norm ‖h_t‖ (Frobenius over the layer's channels and modes) per position."""
    ids, words = encode(model, text, tokenizer)
    ms = mixers(model)
    reads = [
        (i, _mamba_read(m, x) if isinstance(m, Mamba) else _mamba2_read(m, x))
        for i, (m, x) in enumerate(zip(ms, mixer_inputs(model, ids)))
        if isinstance(m, (Mamba, Mamba2))
    ]
    need(reads, "text_dynamics", "mamba or mamba2", model)
    dim = "head" if isinstance(ms[reads[0][0]], Mamba2) else "channel"
    stack = lambda k: np.stack([_np(r[k]) for _, r in reads])
    delta, gate = stack("delta"), stack("gate")
    return xr.Dataset(
        {
            "delta": (("layer", dim, "position"), delta, {"long_name": "Δ_t"}),
            "gate": (("layer", "gate_channel", "position"), gate, {"long_name": "SiLU(z_t)"}),
            "B_norm": (("layer", "position"), stack("B_norm"), {"long_name": "‖B_t‖"}),
            "C_norm": (("layer", "position"), stack("C_norm"), {"long_name": "‖C_t‖"}),
            "state_norm": (("layer", "position"), stack("state_norm"), {"long_name": "‖h_t‖"}),
        },
        coords={
            "layer": [i for i, _ in reads],
            dim: np.arange(delta.shape[1]),
            "gate_channel": np.arange(gate.shape[1]),
            **_coords(words),
        },
        attrs=model_attrs(model, text=text),
    )


def _slowest_rate(m) -> torch.Tensor:
    """min over modes of |Re A| per channel (Mamba) or |a| per head (Mamba-2)."""
    if isinstance(m, Mamba):
        return m.A.real.abs().min(dim=-1).values.double()  # (E,)
    return torch.exp(m.A_log).double()  # (heads,)


@torch.no_grad()
def effective_memory(model, text: str, tokenizer=None, dynamics: xr.Dataset | None = None) -> xr.Dataset:
    """Per layer × channel (head for Mamba-2): half-life on this text t½ = ln 2 / (mean_t Δ_t · min_n |Re A_n|).

    exp(A Σ_t Δ_t) = exp(A · L · mean Δ) is exactly the decay of the slowest mode over the whole
    text, so t½ is its half-life in tokens. A channel is global when t½ ≥ the text length L, else local.
    """
    ds = dynamics if dynamics is not None else text_dynamics(model, text, tokenizer)
    dim = "head" if "head" in ds["delta"].dims else "channel"
    ms = mixers(model)
    mean_dt = ds["delta"].mean("position").values  # (layer, C)
    rate = np.stack([_np(_slowest_rate(ms[int(i)])) for i in ds["layer"].values])  # (layer, C)
    half = math.log(2) / np.maximum(mean_dt * rate, 1e-300)
    L = ds.sizes["position"]
    glob = half >= L
    hist = np.stack([np.histogram(np.log10(np.clip(h, 1e-1, 1e7)), HALF_LIFE_BINS)[0] for h in half])
    return xr.Dataset(
        {
            "half_life": (("layer", dim), half, {"long_name": "t½ (tokens)"}),
            "mean_delta": (("layer", dim), mean_dt, {"long_name": "mean_t Δ_t"}),
            "slowest_rate": (("layer", dim), rate, {"long_name": "min_n |Re A_n|"}),
            "is_global": (("layer", dim), glob.astype(np.int8), {"long_name": "t½ ≥ text length"}),
            "n_global": (("layer",), glob.sum(1)),
            "n_local": (("layer",), (~glob).sum(1)),
            "half_life_histogram": (("layer", "log10_half_life"), hist, {"long_name": "channels per log10 t½ bin"}),
        },
        coords={
            "layer": ds["layer"].values,
            dim: ds[dim].values,
            "log10_half_life": 0.5 * (HALF_LIFE_BINS[1:] + HALF_LIFE_BINS[:-1]),
        },
        attrs=model_attrs(model, text_length=L, threshold="t½ ≥ text length → global"),
    )


@torch.no_grad()
def token_loss(model, text: str, tokenizer=None, bins: int = 16) -> xr.Dataset:
    """Next-token cross-entropy at each position (of the token predicted), and its mean per
    log-spaced position bin: how loss behaves along the text (and past a training length)."""
    ids, words = encode(model, text, tokenizer)
    logits = model(ids)[0].double()  # (L, V)
    loss = F.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")  # predicts token t from tokens < t
    L = ids.shape[1]
    full = np.concatenate([[np.nan], _np(loss)])  # position 0 has nothing to predict it
    edges = np.unique(np.geomspace(1, L, bins + 1).astype(int))
    binned = [np.nanmean(full[lo:hi]) if hi > lo else np.nan for lo, hi in zip(edges[:-1], edges[1:])]
    binned[-1] = np.nanmean(full[edges[-2] :])
    mean = float(np.nanmean(full))
    return xr.Dataset(
        {
            "loss": (("position",), full, {"long_name": "−log p(token | earlier tokens) (nats)"}),
            "loss_by_position": (("position_bin",), np.array(binned), {"long_name": "mean loss in bin"}),
            "bin_start": (("position_bin",), edges[:-1]),
        },
        coords={**_coords(words), "position_bin": np.arange(len(binned))},
        attrs=model_attrs(model, mean_loss=mean, perplexity=math.exp(mean), text=text),
    )
