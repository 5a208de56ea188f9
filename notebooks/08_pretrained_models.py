# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Pretrained models on real text
#
# Open a pretrained Mamba or Mamba-2 checkpoint (a Hugging Face `MambaForCausalLM` /
# `Mamba2ForCausalLM` folder, a `mamba_ssm` `MambaLMHeadModel` folder, or a model id already in the
# local Hugging Face cache; nothing is downloaded) as a model made of the workbench's own layers,
# then read a sentence with it: Δ_t and gates per token, the state norm ‖h_t‖, the hidden attention
# of one channel (Ali et al. 2024), which channels keep memory longer than the text, whether the
# Δ initialization the config claims survived construction, and the loss along the text.
#
# Set `WORKBENCH_CHECKPOINT` to a folder or cached id (e.g. `state-spaces/mamba-130m-hf`). Without
# one, the notebook saves a small randomly initialized Hugging Face Mamba checkpoint and opens that:
# every step is the same, only the numbers mean less.

# %%
import os
import tempfile
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
from IPython.display import display

from workbench.analysis.delta_audit import delta_audit
from workbench.analysis.text import effective_memory, text_dynamics, token_loss
from workbench.analysis.text_attention import text_attention
from workbench.errors import SpecError
from workbench.plots.views_text import (
    attention_text_view,
    audit_text_view,
    delta_text_view,
    loss_text_view,
    memory_text_view,
    norms_text_view,
)
from workbench.pretrained import load_pretrained

hv.extension("bokeh", inline=True)
FAST = os.environ.get("WORKBENCH_FAST") == "1"
TMP = Path(tempfile.mkdtemp(prefix="wb-pretrained-"))

# %% [markdown]
# ## Open a checkpoint

# %%
SOURCE = os.environ.get("WORKBENCH_CHECKPOINT", "state-spaces/mamba-130m-hf")
try:
    model = load_pretrained(SOURCE)
except SpecError as err:
    print(f"{SOURCE}: not available here ({err.allowed[:60]}…); saving a small random checkpoint instead")
    import torch
    from transformers import MambaConfig, MambaForCausalLM

    torch.manual_seed(0)
    size = dict(hidden_size=64, num_hidden_layers=4) if FAST else dict(hidden_size=256, num_hidden_layers=8)
    MambaForCausalLM(MambaConfig(vocab_size=512, state_size=16, **size)).save_pretrained(TMP / "demo-mamba")
    model = load_pretrained(TMP / "demo-mamba")
pd.Series({k: model.meta[k] for k in ("format", "source", "parameters", "dtype", "tokenizer")})

# %% [markdown]
# The model is a `SequenceModel` of workbench `Mamba` (or `Mamba2`) layers: `capture`, every probe and
# every analysis of the other notebooks apply unchanged. The tokenizer is the checkpoint's own
# `tokenizer.json` when it ships one, else UTF-8 bytes (said in `meta['tokenizer']`).

# %%
TEXT = ("The cat sat on the mat. The dog sat on the log. " * (1 if FAST else 3)).strip()
dyn = text_dynamics(model, TEXT)
layer = len(model.layers) // 2
(delta_text_view(dyn, layer) + norms_text_view(dyn)).cols(1)

# %% [markdown]
# ## Hidden attention of one channel
#
# α_ij = Σ_n C_i[n] exp(A_n Σ_{k=j+1..i} Δ_k) Δ_j B_j[n], so that y_i = Σ_j α_ij u_j + D u_i exactly.
# Shown row-normalized (|α_ij| / Σ_j |α_ij|), the form comparable with softmax attention.

# %%
channel = int(dyn["delta"].sel(layer=layer).mean("position").argmax())  # the channel with the largest mean Δ
att = text_attention(model, TEXT, layer=layer, channel=channel, average=not FAST)
attention_text_view(att)

# %% [markdown]
# ## Which channels keep long memory on this text?
#
# t½ = ln 2 / (mean_t Δ_t · min_n |Re A_n|): exp(A Σ_t Δ_t) is exactly how much of the slowest mode
# survives the whole text, so t½ is its half-life in tokens. Channels with t½ at least the text length
# are *global*, the rest *local*.

# %%
mem = effective_memory(model, TEXT, dynamics=dyn)
top = mem["half_life"].to_dataframe().reset_index().sort_values("half_life", ascending=False)
display(
    pd.DataFrame(
        {"local": mem["n_local"].values, "global": mem["n_global"].values},
        index=pd.Index(mem["layer"].values, name="layer"),
    ).T
)
display(top.head(8))
memory_text_view(mem)

# %% [markdown]
# ## The Δ audit
#
# With zero input Δ = softplus(bias): the bias alone says what the initialization realized. It should
# lie in the config's [max(dt_min, dt_init_floor), dt_max] (log-uniform). A re-initialization after
# construction (a blanket zeroing of Linear biases, say) moves it to softplus(0) ≈ 0.69; training
# moves it too, so on a trained checkpoint the verdict says *where* Δ went, not *why*.

# %%
audit = delta_audit(model)
print(audit.attrs["verdict"], audit.attrs["flags"])
broken = load_pretrained(model.meta["folder"])
first = broken.layers[0].mixer
bias = first.dt_proj.bias if hasattr(first, "dt_proj") else first.dt_bias
bias.data.zero_()  # what an init routine that zeroes every bias would do after construction
bad = delta_audit(broken)
print(bad.attrs["verdict"], bad.attrs["flags"])
audit_text_view(bad)

# %% [markdown]
# ## Loss along the text
#
# Next-token loss per position and its mean in log-spaced position bins: with a long text this is how
# a model behaves past the length it was trained on.

# %%
loss = token_loss(model, TEXT)
print(f"mean loss {loss.attrs['mean_loss']:.3f} nats, perplexity {loss.attrs['perplexity']:.1f}")
assert np.isfinite(loss["loss"].values[1:]).all()
loss_text_view(loss)
