"""Exporting a comparison of runs: the Runs view's figures (metric curves or group bands, the final
metric against a field, memory functions) as one publication figure, through the same `arrange`
as every single-run export; panels with nothing to draw are left out."""

from __future__ import annotations

import holoviews as hv

from workbench.plots.composite import FigureOptions, arrange, figure_options


def drawn(panel) -> bool:
    """False for an `empty()` placeholder (a Text saying why, no data)."""
    texts = panel.traverse(lambda e: e, [hv.Text])
    data = [e for e in panel.traverse(lambda e: e, [hv.Curve, hv.Scatter, hv.Spread]) if len(e)]
    return bool(data) or not texts


def _mirror(panel):
    """The screen figure's log axes and series colours on the matplotlib backend too (the Runs view's
    builders set them for Bokeh only), so the exported panels read like the ones on screen."""
    bk = hv.Store.lookup_options("bokeh", panel, "plot").kwargs
    panel = panel.opts(logx=bk.get("logx", False), logy=bk.get("logy", False), backend="matplotlib")
    for el in panel.traverse(lambda e: e, [hv.Curve, hv.Spread, hv.Scatter, hv.ErrorBars]):
        color = hv.Store.lookup_options("bokeh", el, "style").kwargs.get("color")
        if isinstance(color, str) and isinstance(el, hv.Spread):  # a band: its face in the series' colour
            el.opts(facecolor=color, edgecolor=color, alpha=0.25, linewidth=0, backend="matplotlib")
        elif isinstance(color, str):
            el.opts(color=color, backend="matplotlib")
    return panel


def comparison_figure(panels: list, subject: str, options: FigureOptions | None = None) -> hv.Layout:
    """`panels` (HoloViews figures of several runs) arranged and titled with `subject` (e.g. '2 runs')."""
    keep = [_mirror(p) for p in panels if drawn(p)]
    if not keep:
        raise ValueError("nothing to export: tick runs with recorded metrics first")
    return arrange(keep, subject, options or figure_options())
