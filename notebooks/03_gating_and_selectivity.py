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
# # 3. Gating and selectivity
#
# Selective copying (Mamba paper, Table 1): reproduce the data tokens scattered among noise. An LTI
# layer (S4D) cannot choose what to keep; a selective layer (input-dependent Δ, B, C) can. We train
# S4D, Mamba, and Mamba with one selectivity switch off at a time, then look inside the trained Mamba:
# its hidden attention and its Δ_t per token. Runs go to a temporary folder.

# %%
import os
import tempfile

import holoviews as hv
import pandas as pd
import torch

from workbench.analysis import hidden_attention, selective_forgetting
from workbench.plots import selective_figure, training_figure
from workbench.specs import RunSpec
from workbench.store import open_run
from workbench.tasks import make_batch
from workbench.train import load_model, runner
from workbench.train.worker import run_worker

hv.extension("bokeh", inline=True)
FAST = os.environ.get("WORKBENCH_FAST") == "1"
ROOT = tempfile.mkdtemp(prefix="workbench-nb03-")
task = {"name": "selective-copying", **({"noise_len": 16, "n_data": 4} if FAST else {"noise_len": 64, "n_data": 8})}
model = {"d_model": 16, "n_layers": 2} if FAST else {"d_model": 64, "n_layers": 2}
train = (
    dict(steps=12, batch=8, probe_every=6, eval_every=6, checkpoint_every=12, warmup=2)
    if FAST
    else dict(steps=1500, batch=32, lr=3e-3, probe_every=150, eval_every=150, checkpoint_every=500)
)

# %%
configs = {
    "S4D (LTI)": {"layer": "s4d"},
    "Mamba (S6)": {"layer": "mamba"},
    "Mamba, constant Δ": {"layer": "mamba", "selective_delta": False},
    "Mamba, constant B, C": {"layer": "mamba", "selective_B": False, "selective_C": False},
}
runs = {}
for label, layer in configs.items():
    spec = RunSpec.from_dict({"model": {**model, **layer}, "task": task, "train": train}, name=label)
    path = runner.create(spec, ROOT)
    run_worker(path)  # in this process; runner.start would train in the background (notebook 6)
    runs[label] = open_run(path)
pd.DataFrame(
    {
        label: {
            "status": r.status,
            "steps": r.last_step,
            "test token accuracy": r.meta["final_metrics"]["test/token_accuracy"],
        }
        for label, r in runs.items()
    }
).T

# %%
hv.Layout([training_figure(r.metrics).opts(title=label) for label, r in runs.items()][:2]).cols(1)

# %% [markdown]
# ## Inside the trained Mamba
# Hidden attention α_ij (Ali et al. 2024): how much output i reads input j through the SSM, for one
# channel of the first layer. Δ_t per token and channel: large Δ resets the state (attend), small Δ
# keeps it (ignore).

# %%
mamba = load_model(runs["Mamba (S6)"])
batch = make_batch(RunSpec.from_dict(runs["Mamba (S6)"].spec).task, 2, torch.Generator().manual_seed(1))
alpha = hidden_attention(mamba, batch.inputs)
a = alpha.alpha_minmax.isel(layer=0, channel=0)
hv.Image((a.source.values, a.target.values, a.values), ["source j", "target i"], "α (min–max scaled)").opts(
    cmap="cividis",
    colorbar=True,
    invert_yaxis=True,
    width=420,
    height=380,
    title="Hidden attention, layer 0, channel 0",
)

# %%
selective_figure(selective_forgetting(mamba, batch.inputs))
