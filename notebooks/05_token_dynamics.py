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
# # 5. Token dynamics
#
# Depth as time, tokens as particles (Vo et al., ICLR 2025). For selective layers with B_t = S_B x_t and
# C_t = S_C x_t, the sign of sym(S_Cᵀ S_B) predicts the regime: negative definite → every token
# converges to 0; a positive eigenvalue → tokens diverge. We configure the paper's 1-D setting (no norm,
# no gate, no skip, identity convolution, S_B = c·S_C) and compare prediction with observation.

# %%
import json
import os

import holoviews as hv
import numpy as np
import pandas as pd
import torch

from workbench.analysis import token_dynamics
from workbench.plots import OKABE_ITO, tokens_figure
from workbench.specs import ModelSpec, SSMSpec
from workbench.ssm.model import build_model
from workbench.ssm.reparam import inverse_softplus

hv.extension("bokeh", inline=True)
FAST = os.environ.get("WORKBENCH_FAST") == "1"


# %%
def one_d_model(c: float, depth: int):
    """`depth` identical 1-D selective layers with S_B = c·S_C, Δ = 0.1, A = −1, output weight ½."""
    spec = ModelSpec(
        layer="mamba", d_model=1, expand=1, d_conv=1, gate="none", norm="none", n_layers=depth, d_input=1, d_output=1
    )
    m = build_model(spec, SSMSpec(init="s4d-real", d_state=1, discretization="mamba", dt_transform="softplus"))
    m = m.double()
    with torch.no_grad():
        m.encoder.weight.fill_(1.0), m.encoder.bias.zero_()
        for block in m.layers:
            mx = block.mixer
            mx.in_proj.weight.copy_(torch.tensor([[1.0], [0.0]]))
            mx.conv.weight.fill_(1.0), mx.conv.bias.zero_()
            mx.x_proj.weight.copy_(torch.tensor([[0.0], [c], [1.0]]))  # rows: Δ (rank 1), S_B, S_C
            mx.dt_proj.weight.zero_(), mx.dt_proj.bias.fill_(float(inverse_softplus(torch.tensor(0.1))))
            mx.A_log.zero_(), mx.D.zero_()
            mx.out_proj.weight.fill_(0.5)
    return m


def predicted(ds) -> str:
    """The criterion's regime, one per layer: all layers are identical here."""
    return "/".join(sorted(set(json.loads(ds.attrs["predicted"]))))


x = torch.rand(2, 8 if FAST else 32, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.5

# %% [markdown]
# ## The two regimes

# %%
conv = token_dynamics(one_d_model(-0.5, 20 if FAST else 60), x)
div = token_dynamics(one_d_model(0.5, 10), x)
print("c = −0.5:", predicted(conv), "predicted,", conv.attrs["observed"], "observed")
print("c = +0.5:", predicted(div), "predicted,", div.attrs["observed"], "observed")
assert conv.attrs["observed"] == "convergent" and div.attrs["observed"] == "divergent"
tokens_figure(conv)

# %%
tokens_figure(div)

# %% [markdown]
# ## The criterion over c
# Observed log-norm growth per layer against the criterion's eigenvalue (here exactly c): the sign
# change at c = 0 is the regime boundary.

# %%
cs = np.linspace(-1, 1, 5 if FAST else 21)
rows = []
for c in cs:
    ds = token_dynamics(one_d_model(float(c), 10), x)
    rows.append(
        {
            "c": c,
            "eigenvalue": float(ds.criterion_eigenvalues.max()),
            "predicted": predicted(ds),
            "observed": ds.attrs["observed"],
            "log-norm slope": ds.attrs["log_norm_slope"],
        }
    )
table = pd.DataFrame(rows)
table

# %%
(
    hv.Curve(table, "eigenvalue", "log-norm slope")
    * hv.Scatter(table, "eigenvalue", "log-norm slope").opts(size=6)
    * hv.VLine(0).opts(color="gray", line_dash="dashed")
).opts(
    hv.opts.Curve(color=OKABE_ITO[0]),
    hv.opts.Scatter(color=OKABE_ITO[0]),
    hv.opts.Overlay(
        width=450,
        height=320,
        show_grid=True,
        title="Observed growth against the criterion",
        xlabel="max eig sym(S_Cᵀ S_B)",
        ylabel="d log‖x‖ / d depth",
    ),
)
