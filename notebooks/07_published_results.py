# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Published results beside this workbench's
#
# The papers' numbers next to runs computed here: Mamba's Table 1 (selective copying) and Table 11
# (induction heads past the training length), Zoology's Figure 2 (MQAR at d 64), the S4D paper's
# convergence claim, HiPPO's online reconstruction, the effective state size (Parnichkun et al. 2025) and StableSSM's
# reparameterizations (Wang & Li 2023). Shapes should agree
# (selective beats LTI, attention solves MQAR, the error falls with N); the exact numbers need the full
# settings (the default: tens of minutes on a CPU). `WORKBENCH_FAST=1` runs tiny versions in seconds,
# whose numbers mean nothing beyond "the pipeline works".

# %%
import os
import tempfile

import holoviews as hv
import numpy as np
import pandas as pd

from workbench.analysis import legs_convergence
from workbench.plots import legs_convergence_plot
from workbench.specs import RunSpec
from workbench.store import open_run
from workbench.train import runner
from workbench.train.worker import run_worker

hv.extension("bokeh", inline=True)
FAST = os.environ.get("WORKBENCH_FAST") == "1"
ROOT = tempfile.mkdtemp(prefix="workbench-nb07-")


RUNS = {}  # (layer, task) -> run folder, for the analyses below


def train(
    model: dict, task: dict, steps: int, metric: str = "test/token_accuracy", ssm: dict | None = None, **extra
) -> float:
    """Train one run in this process; its final held-out accuracy (%)."""
    t = {
        "steps": steps,
        "batch": 4 if FAST else 32,
        "probe_every": 0,
        "eval_every": max(steps // 4, 1),
        "checkpoint_every": steps,
        "warmup": 1 if FAST else 100,
        **extra,  # e.g. lr, or a warm-up of its own
    }
    spec = {"model": model, "task": task, "train": t, **({"ssm": ssm} if ssm else {})}
    path = runner.create(RunSpec.from_dict(spec), ROOT)
    run_worker(path)
    RUNS[model["layer"], task["name"]] = path
    final = open_run(path).meta["final_metrics"]
    return 100 * final[metric]


# %% [markdown]
# The papers' numbers (accuracy, %): Gu & Dao 2023, Table 1; Arora et al. 2023, Figure 2. Zoology's Figure 2 has no S4D or
# Mamba point: its gated convolutions (H3, Hyena, ...) are the nearest LTI relatives.

# %%
MAMBA_TABLE_1 = {("no gate", "S4"): 18.3, ("no gate", "S6"): 97.0, ("Mamba", "S4"): 56.4, ("Mamba", "S6"): 99.8}
ZOOLOGY_FIG_2 = {"attention": 97.0, "H3": 90.0, "RWKV": 74.0, "BaseConv": 69.0, "Hyena": 51.0}
rows = []


def row(result: str, paper, ours, claim: str = "", holds=None) -> None:
    fmt = lambda v: f"{v:.1f}%" if isinstance(v, float) else v
    rows.append(
        {
            "result": result,
            "paper": fmt(paper),
            "workbench": fmt(ours),
            "shape in the paper": claim,
            "holds here": "" if holds is None else ("yes" if holds else "no"),
        }
    )


# %% [markdown]
# ## Mamba, Table 1: selective copying
# S4 here is the same Mamba block with Δ, B, C made input-independent; S6 is the selective one. "No gate"
# drops the output gate y·SiLU(z).

# %%
copy_task = {
    "name": "selective-copying",
    **({"noise_len": 6, "n_data": 2} if FAST else {"noise_len": 64, "n_data": 8}),
}
size = {"d_model": 8, "n_layers": 1} if FAST else {"d_model": 64, "n_layers": 2}
S4 = {"selective_delta": False, "selective_B": False, "selective_C": False}
steps = 4 if FAST else 2000
acc = {
    (arch, layer): train({"layer": "mamba", "gate": gate, **size, **sel}, copy_task, steps)
    for arch, gate in (("no gate", "none"), ("Mamba", "silu"))
    for layer, sel in (("S4", S4), ("S6", {}))
}
print(
    f"here: noise {copy_task['noise_len']}, {copy_task['n_data']} data tokens, {size['n_layers']} layers, "
    f"d {size['d_model']}, {steps} steps"
)
for arch in ("no gate", "Mamba"):
    row(f"Mamba Table 1, selective copying, {arch} architecture, S4", MAMBA_TABLE_1[arch, "S4"], acc[arch, "S4"])
    row(
        f"Mamba Table 1, selective copying, {arch} architecture, S6",
        MAMBA_TABLE_1[arch, "S6"],
        acc[arch, "S6"],
        "S6 ≫ S4",
        acc[arch, "S6"] > acc[arch, "S4"],
    )

# %% [markdown]
# ## Zoology, Figure 2: MQAR at one size
# The paper's smallest point is L 64, d 64 with a vocabulary of 8192; attention solves it, gated
# convolutions do not. We train attention, S4D (LTI) and Mamba (selective) at d 64 (2 layers, 2 heads)
# for 3000 steps of batch 32, on the state-size sweep's task below (L 32, V 64, 4 key-value pairs), each
# at that sweep's best learning rate and with its 50-step warm-up. Leaving the no-recall plateau is a
# chance event: the sweep's Mamba d 64 did in both seeds, but with a 100-step warm-up this run stayed on
# it (0.27). Not at L 64: there (V 256, 4 pairs) Mamba d 64 stayed at the level a guess among the
# context's values reaches (0.23 at lr 3e-3 and at 1e-3) or at chance (0.01 at 1e-2) for all 3000
# steps, so the row would have compared an untrained Mamba.

# %%
mqar = {
    "name": "mqar",
    **({"seq_len": 16, "vocab_size": 32, "num_kv": 2} if FAST else {"seq_len": 32, "vocab_size": 64, "num_kv": 4}),
}
mqar_size = {"d_model": 8, "n_layers": 1} if FAST else {"d_model": 64, "n_layers": 2, "heads": 2}
mqar_steps = 4 if FAST else 3000
mqar_warmup = {} if FAST else {"warmup": 50}  # the sweep's
recall = {
    layer: train(
        {"layer": layer, **mqar_size}, mqar, mqar_steps, lr=3e-3 if layer == "attention" else 1e-2, **mqar_warmup
    )
    for layer in ("attention", "s4d", "mamba")
}
where = f"L {mqar['seq_len']}, d {mqar_size['d_model']}"
print(f"here: {where}, vocabulary {mqar['vocab_size']}, {mqar['num_kv']} key-value pairs, {mqar_steps} steps")
row(
    f"Zoology Fig. 2, MQAR ({where}), attention",
    ZOOLOGY_FIG_2["attention"],
    recall["attention"],
    "attention ≫ LTI",
    recall["attention"] > recall["s4d"],
)
row(f"Zoology Fig. 2, MQAR ({where}), S4D", "no point (H3 90%, Hyena 51%)", recall["s4d"])
row(f"Zoology Fig. 2, MQAR ({where}), Mamba", "no point", recall["mamba"])

# %% [markdown]
# ## S4D paper: S4D-LegS converges to LegS as N grows

# %%
conv = legs_convergence(sizes=(8, 16, 32) if FAST else (16, 32, 64, 128, 256))
err = 100 * conv.relative_error.values
row(
    "S4D paper, S4D-LegS → LegS (relative error of the basis' Laplace transforms)",
    "→ 0 as N grows",
    f"{err[0]:.3g}% at N {int(conv.d_state[0])} → {err[-1]:.3g}% at N {int(conv.d_state[-1])}",
    "falls with N",
    bool((np.diff(err) < 0).all()),
)
legs_convergence_plot(conv)

# %% [markdown]
# ## Mamba, Table 11: induction heads past the training length
# Trained at L 256 in the paper (here L 64; FAST: 8), evaluated at 2×–16× the training length with
# `evaluate_lengths` (the same as `workbench eval RUN --lengths ...`, stored with each run). The paper:
# Mamba stays at 100% up to 2^20; attention with absolute positions falls (58.6% at 2^9). Ours uses
# rotary positions, which extrapolate better than absolute ones but still fall past the training length.

# %%
from workbench.cli_eval import evaluate_lengths

ih_len = 8 if FAST else 64
ih_task = {"name": "induction-heads", "seq_len": ih_len, "vocab_size": 16, "test_lengths": [2 * ih_len]}
ih_steps = 4 if FAST else 1500
ih_size = {"d_model": 8, "n_layers": 1} if FAST else {"d_model": 64, "n_layers": 2}
factors = (1, 2) if FAST else (1, 2, 4, 8, 16)
by_length = {}
for layer in ("mamba", "attention"):
    train({"layer": layer, **ih_size}, ih_task, ih_steps, metric=f"test/L={2 * ih_len}/accuracy", lr=3e-3)
    ds = evaluate_lengths(
        open_run(RUNS[layer, "induction-heads"]), [f * ih_len for f in factors], batch=4 if FAST else 256
    )
    by_length[layer] = 100 * ds.accuracy.values
    row(
        f"Mamba Table 11, induction heads, {layer} at {factors[-1]}× L (trained at {ih_len})",
        {"mamba": 100.0, "attention": "58.6% at 2×"}[layer],
        float(by_length[layer][-1]),
        "Mamba holds ~100%; attention falls",
        None,
    )
row(
    "Mamba Table 11: Mamba ≥ attention at the longest length",
    "yes",
    "",
    "selective extrapolates",
    bool(by_length["mamba"][-1] >= by_length["attention"][-1]),
)
hv.Overlay(
    [hv.Curve((np.array(factors) * ih_len, by_length[k]), "length", "accuracy (%)", label=k) for k in by_length]
).opts(
    hv.opts.Curve(logx=True, width=480, height=300, tools=["hover"]),
    hv.opts.Overlay(title="induction heads: accuracy against length"),
)

# %% [markdown]
# ## HiPPO: online reconstruction error falls with N (Gu et al. 2020, Fig. 2/3)
# A smooth random signal read once, online; the history rebuilt from the final state of LegS (all of
# it) and LegT (a window of half the signal). The paper's shape: the error falls as N grows.

# %%
from workbench.analysis import hippo_reconstruction

t = np.linspace(0, 1, 400 if FAST else 2000)
rng = np.random.default_rng(0)
sig = sum(rng.normal() * np.sin(2 * np.pi * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 8))
Ns = (4, 8, 16, 32) if FAST else (4, 8, 16, 32, 64, 128)
for measure, kw in (("legs", {}), ("legt", {"theta": 0.5})):
    e = 100 * hippo_reconstruction(measure, Ns, sig, **kw).error.values
    row(
        f"HiPPO {measure.upper()} reconstruction error (smooth signal)",
        "falls with N",
        f"{e[0]:.3g}% at N {Ns[0]} → {e[-1]:.3g}% at N {Ns[-1]}",
        "falls with N",
        bool(e[-1] < e[0] and e[-1] < 5),
    )

# %% [markdown]
# ## Effective state size (Parnichkun et al. 2025)
# Two claims. (1) For an LTI layer, ESS ≤ N: the rank of the Hankel block T[i:, :i] is at most the
# real state dimension, and equals min(N, i, L − i) for distinct well-resolved modes. (2) At equal
# state size, ESS tracks recall: among trained models with the same state size, those that use more of
# it recall better. One pair of runs cannot show a correlation (the paper's form is many trained models),
# so (2) is checked below on the state-size sweep's runs, every learning rate and seed.

# %%
import torch

from workbench.analysis.ess import effective_state_size
from workbench.specs import SSMSpec
from workbench.ssm.build import build_layer

lti = build_layer(SSMSpec(init="s4d-lin", d_state=12, dt_min=0.3, dt_max=0.6), d_model=2).double()
L_ess = 40
ess = effective_state_size(lti, torch.randn(1, L_ess, 2, dtype=torch.float64), tol=1e-6).ess.values[0, 0]
n_real = 11  # s4d-lin's first mode is real (counts once), the other five are conjugate pairs
want = np.array([min(n_real, i, L_ess - i) for i in range(1, L_ess)])
row(
    "ESS paper: LTI layer, ESS = min(N, i, L − i) ≤ N",
    "≤ N",
    f"max {int(ess.max())}, N = {n_real}",
    "ESS ≤ N",
    bool((ess == want).all()),
)

# %% [markdown]
# ## StableSSM: polynomial memory needs a stable reparameterization (Wang & Li 2023)
# The paper's linear RNN as a workbench layer: one channel, N 16 real modes, Ā = e^{Re A} (Δ ≡ 1), fit by
# Adam to the lf-memory target y_t = Σ_s ρ(s) x_{t−s} at L 100, exponential ρ = e^{−s} or polynomial
# ρ = (1 + 0.1 s)^{−1.1}. Re A = f(w) with f direct (w), exp (−e^w), softplus or best (−1/(w² + ½)). A polynomial
# target pulls modes toward Re A = 0: at this learning rate (0.1) direct steps across it into the unstable half
# plane, the stable maps cannot. The paper's claim: without a stable reparameterization only exponentially
# decaying memory is learned stably. At lr 0.01 (300 steps) the gap does not show: direct then reaches Re A ≈ 0
# first and fits polynomial memory fastest. The failure needs the larger steps, as in the paper's
# learning-rate sweeps.

# %%
from workbench.analysis.stable_reparam import reparam_sweep

stable_lr, stable_steps = 0.1, 30 if FAST else 600
sweep = reparam_sweep(
    seeds=(0,) if FAST else (0, 1, 2),
    steps=stable_steps,
    lr=stable_lr,
    **({"L": 32, "d_state": 8} if FAST else {"L": 100, "d_state": 16}),
)
# final loss: the mean of the last 20 steps (inf for a run whose loss went non-finite)
final = sweep.loss.isel(step=slice(-20, None)).mean("step", skipna=False).fillna(np.inf)
crossed = sweep.re_a_max.max("step") > 0  # (memory, reparam, seed): Re A > 0 at some step
stable_reps = ["exp", "softplus", "best"]
med = final.median("seed")
print(f"here: lr {stable_lr}, {stable_steps} steps, seeds {[int(s) for s in sweep.seed.values]}")
print(final.to_dataframe(name="final MSE")["final MSE"].unstack("seed").map(lambda v: f"{v:.3g}"))
worst_exp = float(final.sel(memory="exponential").max())
row(
    "StableSSM, exponential memory, every reparameterization",
    "fits (about 10 epochs)",
    f"final MSE ≤ {worst_exp:.2g}",
    "all train",
    bool(worst_exp < 1e-2 and not crossed.sel(memory="exponential").any()),
)
poly = final.sel(memory="polynomial")
row(
    "StableSSM, polynomial memory, direct (Re A = w)",
    "unstable",
    f"median final MSE {float(med.sel(memory='polynomial', reparam='direct')):.3g}; Re A > 0 in "
    f"{int(crossed.sel(memory='polynomial', reparam='direct').sum())}/{sweep.seed.size} seeds",
    "direct fails",
    bool(crossed.sel(memory="polynomial", reparam="direct").all()),
)
row(
    "StableSSM, polynomial memory, exp / softplus / best",
    "trains stably",
    " / ".join(f"{float(med.sel(memory='polynomial', reparam=r)):.2g}" for r in stable_reps) + " (median final MSE)",
    "stable ≪ direct",
    bool(
        float(poly.sel(reparam=stable_reps).median("seed").max()) * 10 < float(poly.sel(reparam="direct").median())
        and not crossed.sel(memory="polynomial", reparam=stable_reps).any()
    ),
)
colors = dict(zip(sweep.reparam.values, ("#D55E00", "#0072B2", "#009E73", "#CC79A7")))
hv.Layout(
    [
        hv.Overlay(
            [
                hv.Curve(
                    (sweep.step.values, sweep.loss.sel(memory=m, reparam=r, seed=s).values),
                    "step",
                    "training MSE",
                    label=str(r),
                ).opts(color=colors[str(r)], alpha=0.8)
                for r in sweep.reparam.values
                for s in sweep.seed.values
            ]
        ).opts(title=f"{m} memory", logy=True, width=420, height=300, show_grid=True, legend_position="top_right")
        for m in sweep.memory.values
    ]
)

# %% [markdown]
# ## Token dynamics (Vo et al., ICLR 2025): the criterion predicts the regime
# The paper's setting: stacked bare S6 layers on the residual stream (no norm, conv, gate or MLP),
# B_t = S_B x_t, C_t = S_C x_t, continuous tokens. Its claim: sym(S_Cᵀ S_B) negative definite → every
# token converges to 0 (a theorem in 1-D, about 1/√t); a positive eigenvalue → tokens diverge (a theorem
# in 1-D; Fig. 6 shows it in 2-D, also when only one eigenvalue is positive). Per seed we draw S_B, S_C
# with sym(S_Cᵀ S_B) negative definite, positive definite or indefinite, run the tokens through a stack
# of the workbench's Mamba blocks set to the paper's layer (each layer an Euler step of the paper's flow,
# on a geometric time grid so that slow 1/√t convergence shows in 40 layers), and compare the
# criterion's prediction with the regime `token_dynamics` observes.

# %%
from workbench.analysis.token_regimes import regime_trials

token_seeds = range(2 if FAST else 20)
trials = regime_trials(token_seeds, depth=24 if FAST else 40, growth=0.4 if FAST else 0.25)
by_kind = trials.groupby("kind", sort=False).agg(
    trials=("agree", "size"),
    agree=("agree", "mean"),
    slope_min=("log_norm_slope", "min"),
    slope_max=("log_norm_slope", "max"),
    tokens_grown=("tokens_grown", "mean"),
)
print(
    f"{len(trials)} trials, agreement {trials.agree.mean():.0%}; outside the paper's setting: "
    f"{sorted(set(trials.outside_setting) - {''}) or 'none'}"
)
for kind, claim in (
    ("negative definite", "all tokens → 0"),
    ("positive definite", "tokens diverge"),
    ("indefinite", "tokens diverge (Fig. 6, 2-D)"),
):
    k = by_kind.loc[kind]
    row(
        f"Vo et al. 2025, token regime, sym(S_Cᵀ S_B) {kind}",
        claim,
        f"{k.agree:.0%} of {int(k.trials)} seeds as predicted (log-norm slope {k.slope_min:.2g} … "
        f"{k.slope_max:.2g}; {k.tokens_grown:.0%} of tokens grew)",
        "criterion = observed",
        bool(k.agree >= 0.9),
    )
by_kind

# %%
hv.Scatter(trials, "eig_max", ["log_norm_slope", "kind", "seed", "observed"]).opts(
    color="kind",
    cmap=["#0072B2", "#D55E00", "#009E73"],
    size=7,
    tools=["hover"],
    show_legend=True,
    legend_position="right",
    logy=False,
    width=560,
    height=320,
    show_grid=True,
    xlabel="max eig sym(S_Cᵀ S_B)",
    ylabel="observed d log‖x‖ / d layer",
    title="Token regime against the criterion",
) * hv.VLine(0).opts(color="gray", line_dash="dashed") * hv.HLine(0).opts(color="gray", line_dash="dotted")

# %% [markdown]
# ## Zoology Fig. 2 / MAD: accuracy against state size
# Zoology's ordering on MQAR: attention best at every size it fits; input-dependent (gated) recurrences
# (Mamba, Mamba-2, GLA, mLSTM) above LTI S4D at equal state size; accuracy rising with state size. Zoology's
# figure has no plain LTI curve (its input-independent layers are the gated convolutions H3 and Hyena, which
# fall below attention as the keys grow); S4D stands in for the input-independent side here. The full mode
# reads three presets, summarised by `python -m benchmarks.state_size --run` into
# benchmarks/results/state_size.json: `data/sweeps/state_size.yaml` (6 layers × widths 16/32/64 at N 16),
# `state_size_d64.yaml` (Mamba, Mamba-2, S4D at d 64 with N 4 and 8: the papers' own axis for Mamba) and
# `state_size_d64_heads.yaml` (GLA and mLSTM at d 64 with 4 and 8 heads), each at 2 learning rates × 2 seeds,
# 3000 steps. Every configuration is taken at its best learning rate (by the mean over seeds); "gated > LTI"
# compares each layer's best configuration at a state size, "rises" follows each axis a layer was run on.
# The same runs check the ESS paper's claim (2): within each state size, the rank correlation between a
# run's total ESS (its per-group ESS as a fraction of the group's bound, times the state size) and its
# accuracy, over every run. The fast mode trains three tiny runs here (S4D at d 32 has Mamba d 16's state
# size, 512).

# %%
import json
from pathlib import Path

from workbench.analysis.state_size import (
    ess_tracks_recall,
    no_recall_baselines,
    state_elements,
    zoology_ordering,
)
from workbench.plots.state_size import state_size_plot
from workbench.train.run_ess import run_ess

if FAST:
    sweep_rows = []
    for layer, d in (("s4d", 32), ("mamba", 16), ("attention", 16)):
        ss_task = {"name": "mqar", "seq_len": 32, "vocab_size": 64, "num_kv": 4}
        ss_model = {"layer": layer, "d_model": d, "n_layers": 2, "heads": 2}
        ss_acc = train(ss_model, ss_task, 10, ssm={"d_state": 16}) / 100  # the sweep's model
        run = open_run(RUNS[layer, "mqar"])
        spec = RunSpec.from_dict(run.spec)
        sweep_rows.append(
            {
                "layer": layer,
                "d_model": d,
                "state_size": state_elements(spec.model, spec.ssm, spec.task.length()),
                "accuracy": ss_acc,
                **run_ess(run),  # ess, total_ess
            }
        )
    state_table = all_runs = pd.DataFrame(sweep_rows)
    levels = no_recall_baselines(spec.task)
else:
    found = [p / "benchmarks/results/state_size.json" for p in (Path.cwd(), *Path.cwd().parents)]
    summary = json.loads(next(f for f in found if f.is_file()).read_text())
    state_table, all_runs = pd.DataFrame(summary["rows"]), pd.DataFrame(summary["all_rows"])
    levels = summary.get("baselines")  # chance and a guess among the context's values: no recall needed
    if summary.get("missing"):
        print(f"the sweep's summary lacks {len(summary['missing'])} runs: {', '.join(summary['missing'])}")
checks = zoology_ordering(state_table)
paper = {"gated > LTI at equal state size": "input-dependent > H3/Hyena (no LTI curve)"}
for claim, g in checks.groupby("claim", sort=False):
    row(
        f"Zoology Fig. 2, MQAR against state size: {claim}",
        paper.get(claim, "yes"),
        f"{int(g.holds.sum())} of {len(g)}: " + "; ".join(g["where"] + " " + g.ours),
        claim,
        bool(g.holds.all()),
    )
# fast mode: 10-step runs recall nothing, so no state size would have recall to rank; spread 0 runs the check
ess_checks = ess_tracks_recall(all_runs, spread=0.0 if FAST else 0.25)
row(
    "ESS paper: at equal state size, total ESS tracks recall (MQAR, Spearman ρ over the sweep's runs)",
    "higher ESS, better recall",
    f"{int(ess_checks.holds.sum())} of {len(ess_checks)}: " + "; ".join(ess_checks["where"] + " " + ess_checks.ours),
    "ρ > 0 at each state size",
    bool(len(ess_checks)) and bool(ess_checks.holds.all()),
)
print(state_table.to_string(index=False))
state_size_plot(state_table, baselines=levels).opts(legend_position="right", width=640, backend="bokeh")

# %% [markdown]
# ## Side by side

# %%
table = pd.DataFrame(rows).set_index("result")
table
