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
# # 4. Memory decay
#
# How fast a layer forgets: the StableSSM memory function ρ(t) = |y_t − y_{t−1}| for a step input (for
# an LTI layer, |K[t]|), on log-log axes where exponential decay bends down and a power law is straight.
# Then StableSSM's experiment: learn a target with exponential or polynomial memory (task `lf-memory`)
# under each reparameterization of Re A (`ssm.a_reparam`), from S4D-Lin (Re A = −½, inside the range of
# every reparameterization, including `best`'s (−1/b, 0)).

# %%
import os
import tempfile

import holoviews as hv
import pandas as pd

import workbench
from workbench.analysis import memory_function
from workbench.plots import OKABE_ITO, memory_figure
from workbench.specs import RunSpec, SSMSpec
from workbench.store import open_run
from workbench.train import runner
from workbench.train.worker import run_worker

hv.extension("bokeh", inline=True)
FAST = os.environ.get("WORKBENCH_FAST") == "1"
ROOT = tempfile.mkdtemp(prefix="workbench-nb04-")
H, N, L = (4, 16, 256) if FAST else (8, 64, 4096)

# %% [markdown]
# ## Memory functions of untrained layers

# %%
hv.Layout(
    [
        memory_figure(memory_function(workbench.build_layer(SSMSpec(init=i, d_state=N), H), L)).opts(title=i)
        for i in ("s4d-lin", "s4d-real", "lru-ring", "hippo-legs")
    ]
).cols(2)

# %% [markdown]
# ## StableSSM: reparameterizations on exponential and polynomial memory
# `direct` (Re A = w) can leave the stable half plane; `exp`, `softplus` and `best` (−1/(w² + b))
# cannot. StableSSM reports that polynomial memory trains stably only under a stable reparameterization.

# %%
REPARAMS = ["direct", "exp", "softplus", "best"]
train = (
    dict(steps=10, batch=8, probe_every=0, eval_every=5, checkpoint_every=10, warmup=1)
    if FAST
    else dict(steps=2000, batch=32, lr=3e-3, probe_every=0, eval_every=100, checkpoint_every=1000)
)
runs = {}
for rho in ("exponential", "polynomial"):
    for rep in REPARAMS:
        spec = RunSpec.from_dict(
            {
                "model": {"layer": "s4d", "d_model": 8 if FAST else 32, "n_layers": 1},
                "ssm": {"init": "s4d-lin", "d_state": 8 if FAST else 32, "a_reparam": rep},
                "task": {"name": "lf-memory", "rho": rho, "seq_len": 32 if FAST else 100},
                "train": train,
            },
            name=f"{rho} {rep}",
        )
        path = runner.create(spec, ROOT)
        run_worker(path)
        runs[rho, rep] = open_run(path)

table = pd.DataFrame(
    [
        {
            "memory": rho,
            "a_reparam": rep,
            "status": r.status,
            "test MSE": r.meta.get("final_metrics", {}).get("test/mse", float("nan")),
        }
        for (rho, rep), r in runs.items()
    ]
)
table.pivot(index="a_reparam", columns="memory", values="test MSE")


# %%
def curves(rho):
    return hv.Overlay(
        [
            hv.Curve(runs[rho, rep].metrics["loss"].to_series().dropna(), "step", "loss", label=rep).opts(
                color=OKABE_ITO[i]
            )
            for i, rep in enumerate(REPARAMS)
        ]
    ).opts(logy=True, title=f"{rho} memory", width=420, height=300, show_grid=True, legend_position="top_right")


curves("exponential") + curves("polynomial")
