"""The preview's quantities of a loaded model on a text: what every probe view draws, words on the token axes.

`preview(model, L, ids)` runs on the text's token ids as the probe input, so the kernels, spectrum,
memory and token-dynamics views show the checkpoint itself. Each token-indexed dimension (`token`,
`position`, `source`, `target`) gains a coordinate `<dim>_text`: the string each token covers,
which the figures use as tick labels. The text is cut to `max_tokens` (the preview materializes
per-token matrices), hidden attention is computed for the first `ATTENTION_GROUPS` channels or
heads only (a 1,536-channel layer's full α is (1536, L, L)), and the selective impulse response and
the ESS are skipped where they would take minutes (`skipped` says why).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from workbench.analysis.preview import NAMES, preview
from workbench.analysis.text import encode
from workbench.analysis.text_attention import _alpha
from workbench.analysis.walk import mixer_inputs, mixers, model_attrs
from workbench.errors import SpecError
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2

MAX_TOKENS = 64  # per-token matrices (ESS blocks, α) grow as L²
ATTENTION_GROUPS = 4
TOKEN_DIMS = ("token", "position", "source", "target")
# Beyond these a quantity takes minutes on a CPU and is skipped, saying why (measured on 4 Mamba layers,
# d 768, 64 tokens: the impulse response 35 s at 4e8 channel·mode·token², the ESS 43 s over 6,144 channels)
KERNEL_BUDGET = 2**25  # Σ over Mamba layers of channels · modes · L² (the selective impulse response)
ESS_BUDGET = 1024  # Σ over layers of channels | heads, each an SVD per split position


def skipped(model, L: int) -> dict[str, str]:
    """{preview name: why} of the quantities too costly for this model on L tokens."""
    ms = [m for m in mixers(model) if isinstance(m, (Mamba, Mamba2))]
    k = sum(m.D.shape[0] * m.M for m in ms if isinstance(m, Mamba)) * L * L
    g = sum(m.D.shape[0] if isinstance(m, Mamba) else m.h for m in ms)
    out = {}
    if k > KERNEL_BUDGET:
        out["kernels"] = (
            f"the impulse response of every channel is skipped for this model and text ({k:.1e} channel·mode·token² "
            f"> {KERNEL_BUDGET:.1e}, minutes on a CPU): a shorter text shows it"
        )
    if g > ESS_BUDGET:
        out["ess"] = (
            f"the effective state size is skipped for this model ({g:,} channels or heads, one SVD per split "
            f"position each, > {ESS_BUDGET:,})"
        )
    return out


def label_tokens(name: str, ds: xr.Dataset, words: list[str]) -> xr.Dataset:
    """`ds` with a `<dim>_text` coordinate on each token dimension. The ESS's split position i
    separates tokens < i from the rest: it is labelled with the last token read, i − 1."""
    shift = 1 if name == "ess" else 0
    coords = {}
    for d in TOKEN_DIMS:
        if d in ds.dims:
            idx = ds[d].values.astype(int) - (shift if d == "position" else 0)
            coords[f"{d}_text"] = (d, np.array([words[i] for i in idx], dtype=object).astype(str))
    return ds.assign_coords(coords)


@torch.no_grad()
def bounded_attention(model, ids: torch.Tensor, groups: int = ATTENTION_GROUPS) -> xr.Dataset:
    """The preview's `attention` (layer, channel|head, target, source) for the first `groups`
    channels (Mamba) or heads (Mamba-2) of every layer, on ids (1, L)."""
    ms = mixers(model)
    kinds = [m for m in ms if isinstance(m, (Mamba, Mamba2))]
    if not kinds:
        raise SpecError("attention", type(ms[0]).__name__, "a model with mamba or mamba2 layers")
    xs = mixer_inputs(model, ids)
    mats = []
    for i, (m, x) in enumerate(zip(ms, xs)):
        if isinstance(m, (Mamba, Mamba2)):
            n = m.D.shape[0] if isinstance(m, Mamba) else m.h
            mats.append((i, _alpha(m, x, torch.arange(min(groups, n))).double().cpu().numpy()))  # (c, L, L)
    dim = "head" if isinstance(kinds[0], Mamba2) else "channel"
    a = np.stack([t for _, t in mats])  # (layers, c, L, L)
    absa = np.abs(a)
    lo, hi = absa.min((-1, -2), keepdims=True), absa.max((-1, -2), keepdims=True)
    dims = ("layer", dim, "target", "source")
    L = a.shape[-1]
    return xr.Dataset(
        {
            "alpha": (dims, a, {"long_name": "α_ij"}),
            "alpha_minmax": (
                dims,
                (absa - lo) / np.where(hi > lo, hi - lo, 1.0),
                {"long_name": "(|α| − min)/(max − min)"},
            ),
        },
        coords={
            "layer": [i for i, _ in mats],
            dim: np.arange(a.shape[1]),
            "target": np.arange(L),
            "source": np.arange(L),
        },
        attrs=model_attrs(model, stored=f"first {a.shape[1]} {dim}s of each layer"),
    )


def text_preview(model, text: str, tokenizer=None, max_tokens: int = MAX_TOKENS) -> dict[str, xr.Dataset]:
    """{name: Dataset} of `preview` on the first `max_tokens` tokens of `text`, token axes labelled;
    the quantities `skipped` names are left out. Every Dataset's attrs carry `text_tokens` (tokens read) and `text_total` (tokens in the text)."""
    if not isinstance(max_tokens, int) or max_tokens < 2:
        raise SpecError("max_tokens", max_tokens, "an integer ≥ 2")
    ids, words = encode(model, text, tokenizer)
    total = ids.shape[1]
    ids, words = ids[:, :max_tokens], words[:max_tokens]
    L = ids.shape[1]
    skip = set(skipped(model, L)) | {"attention"}  # attention: bounded below
    with torch.enable_grad():  # the gradient memory differentiates through the embeddings
        out = preview(model, L, ids, names=tuple(n for n in NAMES if n not in skip))
    try:
        out["attention"] = bounded_attention(model, ids)
    except SpecError:  # no Mamba / Mamba-2 layer: no hidden attention
        pass
    return {
        name: label_tokens(name, ds, words).assign_attrs(text_tokens=L, text_total=total) for name, ds in out.items()
    }
