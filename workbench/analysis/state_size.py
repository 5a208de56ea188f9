"""Recurrent state elements per layer, the x axis of the Zoology/MAD recall-against-state-size plot.

Real numbers a layer carries from one token to the next (Arora et al. 2023, "Zoology", §3;
Poli et al. 2024, MAD): complex modes count twice, convolution windows are left out (they are
the same for every layer kind), and attention's key/value cache is counted at length L.
"""

from __future__ import annotations

from workbench.errors import SpecError
from workbench.specs import ModelSpec, SSMSpec, default_ssm


def state_elements(model: ModelSpec, ssm: SSMSpec | None = None, seq_len: int = 0) -> int:
    """State size of one layer of `model` (attention: 2·L·d_model, its KV cache at L = seq_len)."""
    ssm = ssm or default_ssm(model.layer)
    H, N, heads = model.d_model, ssm.d_state, model.heads
    E = model.expand * H
    kinds = {
        "s4d": lambda: H * N,  # N/2 complex modes (or N real ones) per channel
        "mega-ema": lambda: H * N,
        "lru": lambda: 2 * N,  # N complex modes shared by the channels
        "mamba": lambda: E * N,
        "mamba2": lambda: E * N,  # heads × (E/heads) × N
        "gla": lambda: heads * (H // heads) ** 2,  # d_k × d_v per head
        "mlstm": lambda: heads * ((H // heads) ** 2 + H // heads + 1),  # C, n, m per head
        "deltanet": lambda: heads * (H // heads) ** 2,  # S_t, d_v × d_k per head
        "gated-deltanet": lambda: heads * (H // heads) ** 2,
        "rg-lru": lambda: E,  # one real state per recurrence channel
    }
    if model.layer == "attention":
        if seq_len < 1:
            raise SpecError("seq_len", seq_len, "the length at which attention's KV cache is counted (>= 1)")
        return 2 * seq_len * H
    if model.layer not in kinds:
        raise SpecError("model.layer", model.layer, "one of " + ", ".join(sorted(kinds) + ["attention"]))
    return kinds[model.layer]()


def group_rank_bound(model: ModelSpec, ssm: SSMSpec | None = None, seq_len: int = 0) -> int:
    """The largest ESS one group of the layer (a channel, or a head) can reach: rank T[i:, :i] is at most
    the dimension of the state that carries one group's past (N for a diagonal SSM; 2N for the LRU's N
    complex modes; d_k = d_model/heads for a linear-attention or delta-rule head; 1 for an RG-LRU channel;
    L for attention's cache)."""
    ssm = ssm or default_ssm(model.layer)
    if model.layer == "attention":
        if seq_len < 1:
            raise SpecError("seq_len", seq_len, "the length at which attention's KV cache is counted (>= 1)")
        return seq_len
    if model.layer in BY_HEADS:
        return model.d_model // model.heads
    if model.layer == "lru":
        return 2 * ssm.d_state
    if model.layer == "rg-lru":
        return 1
    if model.layer in BY_N:
        return ssm.d_state
    raise SpecError(
        "model.layer", model.layer, "one of " + ", ".join(sorted({*BY_N, *BY_HEADS, "rg-lru", "attention"}))
    )


def total_ess(ess: float, model: ModelSpec, ssm: SSMSpec | None = None, seq_len: int = 0) -> float:
    """A layer's mean per-group ESS put on the state-size axis: the fraction of each group's bound it uses
    times the state (ESS / group_rank_bound · state_elements; at most state_elements). Per-group ESS alone
    favours wide groups: at state 512, Mamba at d 64 with N 4 cannot exceed 4 per channel while S4D at d 32
    with N 16 can reach 16. Parnichkun et al. (2025) compare the total over groups with the total state."""
    return ess / group_rank_bound(model, ssm, seq_len) * state_elements(model, ssm, seq_len)


def no_recall_baselines(task) -> dict[str, float]:
    """Accuracies an MQAR model reaches without recall (task: a TaskSpec of kind mqar): "chance", a
    uniform guess over the V - V//2 values, and "context-value guess", a uniform guess among the kv
    values the context shows (every answer is one of them, so no key matching is needed for 1/kv)."""
    V, kv = task.vocab(), task.num_kv
    return {"chance": 1 / (V - V // 2), "context-value guess": 1 / kv}


# input-dependent recurrences (Zoology's "gated" side)
GATED = ("mamba", "mamba2", "gla", "mlstm", "deltanet", "gated-deltanet", "rg-lru")
SETTINGS = ("d_model", "d_state", "heads")  # what a configuration sets; its state size follows (state_elements)
BY_N = ("s4d", "mega-ema", "lru", "mamba", "mamba2")  # layers whose state grows with d_state (N)
BY_HEADS = ("gla", "mlstm", "deltanet", "gated-deltanet")  # state set by the head size d_model/heads


def _settings(df) -> list[str]:
    return [c for c in SETTINGS if c in df.columns]


def configuration(r) -> str:
    """A row's configuration as the text names it: layer, width, and N or heads where they set the state."""
    text = f"{r['layer']} d {r['d_model']}"
    if r["layer"] in BY_N and "d_state" in r:
        text += f" N {r['d_state']}"
    if r["layer"] in BY_HEADS and "heads" in r:
        text += f" {r['heads']} heads"
    return text


def configurations(df):
    """Mean accuracy over seeds per configuration (layer and every setting present), with its state size."""
    return df.groupby(["layer", *_settings(df), "state_size"], as_index=False)["accuracy"].mean()


def frontier(acc):
    """Each layer's best configuration at each of its state sizes (rows of `configurations`): the points
    a plot of accuracy against state size draws when several configurations reach one size (e.g. Mamba's
    512 as d 16 with N 16 or as d 64 with N 4)."""
    return acc.loc[acc.groupby(["layer", "state_size"])["accuracy"].idxmax()].reset_index(drop=True)


def zoology_ordering(df, match: float = 1.25, tol: float = 0.02):
    """Zoology Fig. 2's ordering checked on a table of runs (layer, d_model, state_size, accuracy; d_state
    and heads where configurations differ in them):

    1. attention is the best layer at every width it was run at;
    2. a gated layer beats LTI s4d at equal state size: each layer's best configuration at that size
       (`frontier`), pairs whose state sizes are within a factor `match` (Zoology and MAD compare along the
       state-size axis, whatever sets it: the width, N, or the heads);
    3. accuracy rises with state size along each axis a layer was run on (the width at fixed N and heads;
       N, or the heads, at fixed width): no drop larger than `tol`.

    One row per comparison: claim, where, ours (the numbers), holds."""
    import pandas as pd

    acc = configurations(df)
    rows = []
    for d, g in acc.groupby("d_model"):
        if "attention" in set(g.layer) and len(g) > 1:
            att, rest = g[g.layer == "attention"].accuracy.max(), g[g.layer != "attention"]
            best = rest.loc[rest.accuracy.idxmax()]
            rows.append(
                {
                    "claim": "attention best",
                    "where": f"d {d}",
                    "ours": f"attention {att:.3f}; best other {configuration(best)} {best.accuracy:.3f}",
                    "holds": bool(att >= rest.accuracy.max()),
                }
            )
    top = frontier(acc)
    lti = top[top.layer == "s4d"]
    for _, r in top[top.layer.isin(GATED)].iterrows():
        for _, s in lti.iterrows():
            if max(r.state_size, s.state_size) <= match * min(r.state_size, s.state_size):
                rows.append(
                    {
                        "claim": "gated > LTI at equal state size",
                        "where": f"{configuration(r)} ({r.state_size}) vs {configuration(s)} ({s.state_size})",
                        "ours": f"{r.accuracy:.3f} vs {s.accuracy:.3f}",
                        "holds": bool(r.accuracy > s.accuracy),
                    }
                )
    for (layer, axis), g in _axes(acc):
        g = g.sort_values("state_size")
        rows.append(
            {
                "claim": "rises with state size",
                "where": f"{layer}{axis}",
                "ours": " → ".join(f"{a:.3f}" for a in g.accuracy),
                "holds": bool((g.accuracy.diff().dropna() >= -tol).all()),
            }
        )
    return pd.DataFrame(rows, columns=["claim", "where", "ours", "holds"])


def _axes(acc):
    """((layer, label), rows) for each series of one layer's configurations that differ in one setting
    only and reach two or more state sizes; the label names the varied setting when there is more than
    one (" by width", " by N at d 64", " by heads at d 64")."""
    settings = _settings(acc)
    names = {"d_model": "width", "d_state": "N", "heads": "heads"}
    for layer, g in acc.groupby("layer"):
        series = []
        for s in settings:
            fixed = [c for c in settings if c != s]
            for key, h in g.groupby(fixed) if fixed else [((), g)]:
                if h[s].nunique() > 1 and h.state_size.nunique() > 1:
                    at = dict(zip(fixed, key if isinstance(key, tuple) else (key,)))
                    series.append((s, at, h))
        for s, at, h in series:
            label = "" if len(series) == 1 else f" by {names[s]}" + (f" at d {at['d_model']}" if s != "d_model" else "")
            yield (layer, label), h


def at_best_lr(df):
    """The runs of each configuration (layer, d_model, and d_state and heads where present) at its best
    learning rate, as Zoology reports each point.

    df: one row per run (layer, d_model, lr, accuracy; a seed column when there are several seeds).
    "Best" is by the mean over seeds, so one lucky seed does not pick the rate; every seed's row at
    that rate is kept, for the mean (zoology_ordering, the plot) and the spread."""
    config = ["layer", *_settings(df)]
    mean = df.groupby([*config, "lr"], as_index=False)["accuracy"].mean()
    best = mean.loc[mean.groupby(config)["accuracy"].idxmax(), [*config, "lr"]]
    return df.merge(best, on=[*config, "lr"]).sort_values(config, kind="stable")


def ess_tracks_recall(df, spread: float = 0.25, column: str = "total_ess"):
    """The ESS paper's claim (Parnichkun et al. 2025) that at equal state size the runs that use more
    of their state recall better, checked on trained runs (layer, state_size, accuracy and the ESS
    `column`, by default `total_ess`; one row per run, every learning rate and seed: the paper correlates
    over many trained models).

    Runs share a state-size bin when their sizes round to the same power of two (the plot's log axis:
    mLSTM's 546 joins 512). A bin is checked when it holds at least two layer kinds and its accuracies
    span at least `spread` (at MQAR kv 4 the no-recall level is 1/kv = 0.25; a span of one more such
    step means some run recalls): a bin where no run leaves that level has no recall to rank.
    One row per checked bin: claim, where, ours (Spearman ρ of ESS against accuracy, its p-value),
    holds (ρ > 0)."""
    import numpy as np
    import pandas as pd
    from scipy.stats import spearmanr

    runs = df.assign(bin=(2.0 ** np.round(np.log2(df["state_size"]))).astype(int))
    rows = []
    for size, g in runs.groupby("bin"):
        if g["layer"].nunique() < 2 or g["accuracy"].max() - g["accuracy"].min() < spread:
            continue
        rho, p = spearmanr(g[column], g["accuracy"])
        rows.append(
            {
                "claim": "ESS tracks recall at equal state size",
                "where": f"≈{size} ({', '.join(sorted(g['layer'].unique()))}; {len(g)} runs)",
                "ours": f"ρ {rho:.2f} (p {p:.2g})",
                "holds": bool(rho > 0),
            }
        )
    return pd.DataFrame(rows, columns=["claim", "where", "ours", "holds"])


ESS_TOL = 1e-3  # relative rank tolerance of a run's mean ESS (effective_state_size's default)


def mean_ess(model, x, positions=None, tol: float = ESS_TOL) -> float:
    """One trained model's mean ESS (rank at relative tolerance `tol`) over its layers, channels or
    heads, the sequences of x and the splits `positions` (default: every second split of x's length)."""
    from workbench.analysis.ess import effective_state_size

    L = x.shape[1]
    positions = range(2, L - 1, 2) if positions is None else positions
    return float(effective_state_size(model, x, tol=tol, positions=positions).ess.mean())
