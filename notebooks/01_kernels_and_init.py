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
# # 1. Kernels and initialization
#
# How the initialization of A (and B) shapes an LTI layer's convolution kernel K[ℓ] = C Āˡ B̄ and its
# poles; S4D-LegS converging to HiPPO-LegS as the state grows; and the conditioning trade-off of
# perturb-then-diagonalize (PTD). Set `WORKBENCH_FAST=1` for a quick pass with small sizes.

# %%
import os

import holoviews as hv
import numpy as np
import pandas as pd

import workbench
from workbench.analysis import layer_kernels, layer_spectrum, legs_convergence
from workbench.plots import OKABE_ITO, kernel_plot, kernels_figure, legs_convergence_plot, pole_plot, spectrum_figure
from workbench.specs import DENSE_INITS, DIAGONAL_INITS, SSMSpec

hv.extension("bokeh", inline=True)  # inline BokehJS: plots render with no internet
FAST = os.environ.get("WORKBENCH_FAST") == "1"
H, N, L = (4, 16, 128) if FAST else (8, 64, 1024)

# %% [markdown]
# ## Every initialization side by side
# The same four channels (hence the same Δ) of each init: diagonal S4D/LRU/PTD families and the dense
# HiPPO references. |K| on a log axis shows the decay rate, which is what an init really chooses.

# %%
layers = {init: workbench.build_layer(SSMSpec(init=init, d_state=N), H) for init in DIAGONAL_INITS + DENSE_INITS}
kern = {init: layer_kernels(layer, L) for init, layer in layers.items()}
hv.Layout(
    [
        kernel_plot(ds, log_abs=True).opts(title=init, responsive=False, width=320, height=230, show_legend=False)
        for init, ds in kern.items()
    ]
).cols(3)

# %% [markdown]
# One init in publication form (the same builder `workbench export` uses), and its poles.

# %%
kernels_figure(kern["s4d-legs"])

# %%
spectrum_figure(layer_spectrum(layers["s4d-legs"]))

# %% [markdown]
# Pole pictures of three families: S4D-Lin spreads frequencies linearly, S4D-Real has none,
# the LRU ring puts every |λ| in [r_min, r_max].

# %%
hv.Layout([pole_plot(layer_spectrum(layers[i])).opts(title=i) for i in ("s4d-lin", "s4d-real", "lru-ring")])

# %% [markdown]
# ## S4D-LegS → LegS as N grows
# The diagonal restriction's basis functions converge weakly to HiPPO-LegS's: their Laplace transforms
# converge (S4D paper). The error should fall with N.

# %%
conv = legs_convergence(sizes=(8, 16, 32) if FAST else (16, 32, 64, 128, 256))
assert np.all(np.diff(conv.relative_error.values) < 0), "the error should fall as N grows"
legs_convergence_plot(conv)

# %% [markdown]
# ## PTD: κ(V) against the perturbation
# Perturb-then-diagonalize diagonalizes A_LegS + E with ‖E‖₂ = ε‖A‖₂ (backward error ‖E‖). Small ε:
# the eigenvectors V are nearly parallel and κ(V) (the accuracy the change of basis costs) explodes;
# large ε: well conditioned, but the realized A is further from LegS and some modes leave the left
# half plane (Re A > 0).

# %%
eps = np.logspace(-6, -1, 4 if FAST else 11)
rows = []
for e in eps:
    # a_reparam "direct": a large ε can push Re A above 0, which exp/softplus cannot represent
    layer = workbench.build_layer(SSMSpec(init="ptd-legs", d_state=N, ptd_eps=float(e), a_reparam="direct"), 1)
    spec = layer_spectrum(layer)
    rows.append(
        {
            "ptd_eps": e,
            "kappa_V": layer.info["kappa_V"],
            "backward_error": layer.info["perturbation_norm"],
            "modes_re_a_positive": int((spec.A_real > 0).sum()),
        }
    )
ptd = pd.DataFrame(rows)
ptd

# %%
opts = dict(logx=True, width=380, height=300, show_grid=True, xlabel="ε = ‖E‖₂ / ‖A‖₂")
(
    hv.Curve(ptd, "ptd_eps", "kappa_V").opts(color=OKABE_ITO[0], ylabel="κ(V)", title="Conditioning", logy=True, **opts)
    * hv.Scatter(ptd, "ptd_eps", "kappa_V").opts(color=OKABE_ITO[0], size=6)
    + hv.Curve(ptd, "ptd_eps", "modes_re_a_positive").opts(
        color=OKABE_ITO[3], ylabel="modes with Re A > 0", title="Stability of the realized A", **opts
    )
    * hv.Scatter(ptd, "ptd_eps", "modes_re_a_positive").opts(color=OKABE_ITO[3], size=6)
)
