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
# # 2. Step size and discretization
#
# Δ sets each channel's time scale: a mode forgets half of its state in t½ = ln 2 / (Δ |Re A|) steps.
# The discretization (ZOH, bilinear, Euler, Mamba's mix) maps the continuous A to the poles Ā; forward
# Euler is only conditionally stable and shows it.

# %%
import os

import holoviews as hv
import numpy as np
import pandas as pd

import workbench
from workbench.analysis import layer_kernels, layer_spectrum
from workbench.plots import OKABE_ITO, kernels_figure, pole_plot, spectrum_figure
from workbench.specs import SSMSpec

hv.extension("bokeh", inline=True)
FAST = os.environ.get("WORKBENCH_FAST") == "1"
H, N, L = (8, 16, 256) if FAST else (64, 64, 2048)

# %% [markdown]
# ## Δ range against half-lives
# Three ranges [dt_min, dt_max] of the log-uniform initial Δ; every (channel, mode) as a point.
# Smaller Δ: longer memory, as t½ ∝ 1/Δ (the diagonal lines).

# %%
ranges = [(1e-4, 1e-3), (1e-3, 1e-1), (1e-2, 1.0)]
points = []
for i, (lo, hi) in enumerate(ranges):
    ds = layer_spectrum(workbench.build_layer(SSMSpec(init="s4d-lin", d_state=N, dt_min=lo, dt_max=hi), H))
    dt = np.broadcast_to(ds.dt.values[:, None], ds.half_life.shape).ravel()
    points.append(
        hv.Scatter(
            (dt, ds.half_life.values.ravel()),
            hv.Dimension("dt", label="Δ"),
            hv.Dimension("t_half", label="t½ (steps)"),
            label=f"Δ ∈ [{lo:g}, {hi:g}]",
        ).opts(color=OKABE_ITO[i], size=4, alpha=0.6)
    )
hv.Overlay(points).opts(
    logx=True,
    logy=True,
    width=520,
    height=360,
    show_grid=True,
    legend_position="top_right",
    title="Half-lives against Δ (S4D-Lin)",
)

# %% [markdown]
# ## Four discretizations of the same layer
# A large Δ range makes the difference visible. Euler's Ā = I + ΔA leaves the unit circle when
# |1 + ΔA| > 1: the spectrum records the count in `attrs["unstable_modes"]`.

# %%
DISC = ["zoh", "bilinear", "euler", "mamba"]
base = dict(init="s4d-lin", d_state=N, dt_min=1e-2, dt_max=0.5)
spectra = {d: layer_spectrum(workbench.build_layer(SSMSpec(**base, discretization=d), H)) for d in DISC}
table = pd.DataFrame(
    {
        "discretization": DISC,
        "unstable_modes": [spectra[d].attrs["unstable_modes"] for d in DISC],
        "max |Ā|": [float(spectra[d].pole_abs.max()) for d in DISC],
    }
)
assert table.set_index("discretization").loc["euler", "unstable_modes"] > 0, "Euler should be unstable here"
assert table.set_index("discretization").loc["zoh", "unstable_modes"] == 0
table

# %%
hv.Layout([pole_plot(spectra[d]).opts(title=f"{d}: {spectra[d].attrs['unstable_modes']} unstable") for d in DISC]).cols(
    2
)

# %% [markdown]
# Publication figures: the stable ZOH layer, and Euler with its unstable poles (vermillion crosses)
# and kernels that grow instead of decaying.

# %%
spectrum_figure(spectra["euler"])

# %%
kernels_figure(layer_kernels(workbench.build_layer(SSMSpec(**base, discretization="euler"), H), L // 4))

# %%
kernels_figure(layer_kernels(workbench.build_layer(SSMSpec(**base, discretization="zoh"), H), L // 4))
