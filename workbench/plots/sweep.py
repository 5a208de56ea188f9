"""Sweep summaries: the final metric against each swept field, one panel per field."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  registers the Bokeh options below
import pandas as pd

from workbench.plots.lti import OKABE_ITO


def sweep_plot(df: pd.DataFrame, fields: list[str], metric: str) -> hv.Layout:
    """Scatter of `metric` per run against each swept field (categorical fields jitter-free, sorted)."""
    panels = []
    for i, field in enumerate(fields):
        data = df[[field, metric, "id", "status"]].dropna(subset=[metric])
        if data[field].dtype == object:
            data = data.assign(**{field: data[field].astype(str)})
        points = hv.Scatter(data, field, [metric, "id", "status"], label=field).opts(
            color=OKABE_ITO[i % len(OKABE_ITO)],
            size=9,
            tools=["hover"],
            xlabel=field,
            ylabel=metric.removeprefix("final."),
            show_grid=True,
            width=320,
            height=280,
            backend="bokeh",
        )
        panels.append(points)
    return hv.Layout(panels).cols(3).opts(title=f"{metric.removeprefix('final.')} against the swept fields")
