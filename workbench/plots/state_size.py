"""Accuracy against state size, one line per layer kind (the Zoology Fig. 2 / MAD comparison)."""

from __future__ import annotations

import json

import holoviews as hv
import holoviews.plotting.bokeh
import pandas as pd

from workbench.plots.lti import OKABE_ITO
from workbench.plots.style import log_ticks

ORDER = ("attention", "mamba", "mamba2", "gla", "mlstm", "s4d", "lru", "mega-ema")


def state_size_table(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """From run-index rows (with spec_json): layer, d_model, d_state, heads, id, state size, lr, seed
    (model.seed), metric."""
    from workbench.analysis.state_size import state_elements
    from workbench.specs import RunSpec, default_ssm

    rows = []
    for _, r in runs.iterrows():
        spec = RunSpec.from_dict(json.loads(r["spec_json"])) if "spec_json" in r else None
        if spec is None or pd.isna(r.get(metric)):
            continue
        rows.append(
            {
                "layer": spec.model.layer,
                "d_model": spec.model.d_model,
                "d_state": (spec.ssm or default_ssm(spec.model.layer)).d_state,
                "heads": spec.model.heads,
                "id": r.get("id", ""),
                "state_size": state_elements(spec.model, spec.ssm, spec.task.length()),
                "lr": spec.train.lr,
                "seed": spec.model.seed,
                "accuracy": float(r[metric]),
            }
        )
    return pd.DataFrame(rows)


def _no_minor_labels(plot, element) -> None:
    """matplotlib labels a log axis' minor ticks when it spans under two decades; they collide with ours."""
    from matplotlib.ticker import NullFormatter

    plot.handles["axis"].xaxis.set_minor_formatter(NullFormatter())


def state_size_plot(
    df: pd.DataFrame, title: str = "MQAR accuracy against state size", baselines: dict[str, float] | None = None
) -> hv.Overlay:
    """df: layer, state_size, accuracy (one row per run; d_model, d_state, heads where configurations
    differ): mean over seeds per configuration, and at each (layer, state size) its best configuration
    (`analysis.state_size.frontier`), log x.

    baselines: label -> accuracy of a reference that needs no recall (e.g. chance), drawn as dashed
    grey lines labelled at the right edge."""
    from workbench.analysis.state_size import SETTINGS, configurations, frontier

    curves = []
    xticks = log_ticks(df["state_size"].min(), df["state_size"].max())
    layers = [k for k in ORDER if k in set(df["layer"])] + sorted(set(df["layer"]) - set(ORDER))
    colors = {layer: OKABE_ITO[i % len(OKABE_ITO)] for i, layer in enumerate(layers)}
    # attention drawn last, dashed, with hollow squares: its x is a KV cache, not a recurrent state, and
    # where a recurrence also solves the task (accuracy 1 at the same size) both stay visible
    for layer in sorted(layers, key=lambda k: k == "attention"):
        d = frontier(configurations(df[df["layer"] == layer])).sort_values("state_size")
        hover = [c for c in SETTINGS if c in d.columns]
        color, kv = colors[layer], layer == "attention"
        axes = dict(
            logx=True,
            xticks=xticks,
            ylim=(0, 1.02),
            width=520,
            height=340,
            show_grid=True,
            backend="bokeh",
            xlabel="state size (real elements per layer; attention: KV cache at L)",
            ylabel="accuracy",
        )
        mpl = dict(
            logx=True,
            xticks=xticks,
            ylim=(0, 1.02),
            xlabel=axes["xlabel"],
            ylabel="accuracy",
            color=color,
            padding=0.05,  # the end points are not clipped by the frame
            backend="matplotlib",
        )  # what PNG/SVG/PDF export renders
        curves += [
            hv.Curve(d, "state_size", "accuracy", label=layer)
            .opts(color=color, line_width=2, line_dash="dashed" if kv else "solid", **axes)
            .opts(linewidth=2, linestyle="--" if kv else "-", **mpl),
            hv.Scatter(d, "state_size", ["accuracy", *hover], label=layer)
            .opts(
                color=color,
                size=11 if kv else 7,
                marker="square" if kv else "circle",
                fill_alpha=0 if kv else 1,
                line_width=2,
                tools=["hover"],
                **axes,
            )
            .opts(
                s=70 if kv else 30,
                marker="s" if kv else "o",
                facecolors="none" if kv else color,
                edgecolors=color,
                linewidth=1.5,
                **mpl,
            ),
        ]
    x_right = float(df["state_size"].max())
    for label, y in (baselines or {}).items():
        curves += [
            hv.HLine(y)
            .opts(color="gray", line_dash="dashed", line_width=1, backend="bokeh")
            .opts(color="gray", linestyle="--", linewidth=1, backend="matplotlib"),
            # below the line (the curves near a no-recall level sit on or above it); above it near the floor
            hv.Text(
                x_right,
                y - 0.02 if y > 0.1 else y,  # clear of the markers sitting on the line
                f"{label} {y:.2f}",
                halign="right",
                valign="top" if y > 0.1 else "bottom",
                fontsize=8,
            )
            .opts(text_color="gray", backend="bokeh")
            .opts(color="gray", backend="matplotlib"),
        ]
    return (
        hv.Overlay(curves)
        .opts(title=title, legend_position="bottom_right", backend="bokeh")
        .opts(
            title=title,
            legend_position="right",
            fig_inches=(8, 4),
            aspect="auto",
            hooks=[_no_minor_labels],
            backend="matplotlib",
        )
    )
