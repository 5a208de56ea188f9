"""The publication style shared by every figure builder: one panel size, one type scale, the
Okabe-Ito palette with a line style per series (curves that coincide stay distinguishable, also
in greyscale), and options set for both backends (Bokeh for screens and HTML, matplotlib for
PNG/SVG/PDF).
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  bokeh first: it stays the current backend
import holoviews.plotting.mpl  # noqa: F401  registers the matplotlib options used below
import numpy as np

from workbench.plots.lti import OKABE_ITO

# one panel: 4.5 × 3.4 in (+ an outside legend) in matplotlib and 450 × 320 px in Bokeh; same type scale
PANEL_IN, LEGEND_IN, ASPECT = (4.5, 3.4), 1.4, 1.45
FONT = {"title": 11, "labels": 10, "xticks": 9, "yticks": 9, "legend": 8}
_MPL = dict(show_grid=True, fontsize=FONT, legend_limit=100)
_BK = dict(
    width=450,
    height=320,
    show_grid=True,
    toolbar="right",
    legend_limit=100,
    fontsize={k: f"{v}pt" for k, v in FONT.items()},
)
# (bokeh, matplotlib) line styles, cycled with the colours so every series differs twice
DASHES = (("solid", "-"), ("dashed", "--"), ("dotted", ":"), ("dashdot", "-."))
_LN10 = float(np.log(10))


def _mpl_aspect(aspect: float, logx: bool, logy: bool) -> float:
    """HoloViews' matplotlib backend sizes log axes in natural-log units where matplotlib uses
    log10 (holoviews 1.23, ElementPlot._set_aspect); compensate so every panel has `aspect`."""
    return aspect * (_LN10 if logx else 1.0) / (_LN10 if logy else 1.0)


def _plain_log_ticks(plot, element) -> None:
    """matplotlib hook: log axes read 0.5, 2, 30 rather than 5×10⁻¹, 2×10⁰, 3×10¹ (within 10⁻⁴..10⁴;
    beyond, powers of ten read better). Minor ticks get labels (2, 3, 5) only on axes that span
    less than a decade, as matplotlib's own minor formatter does; an axis spanning less than a factor
    of 3 gets a few evenly spaced round values instead (it may hold no 2, 3 or 5 at all)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax = plot.handles["axis"]
    for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        lo, hi = sorted(abs(float(v)) for v in lim)
        if lo <= 0 or lo < 1e-4 or hi > 1e4:
            continue
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        if hi / lo < 3:  # no decade and maybe no 2, 3 or 5 inside (5.7 to 6.3): evenly spaced round values
            from matplotlib.ticker import MaxNLocator

            axis.set_major_locator(MaxNLocator(nbins=4))
            axis.set_minor_formatter(NullFormatter())
        elif hi / lo < 10:
            axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "235" else ""))
        else:
            axis.set_minor_formatter(NullFormatter())


def integer_ticks(values) -> dict:
    """`xticks` at every integer value when there are few (depth, layers), else nothing."""
    v = sorted({int(x) for x in np.asarray(values).ravel()})
    return {"xticks": v} if 1 < len(v) <= 12 else {}


def panel(
    obj,
    title: str,
    xlabel: str,
    ylabel: str,
    logx=False,
    logy=False,
    legend="top_right",
    aspect=ASPECT,
    grid=True,
    **both,
):
    """Title, axis labels, log axes and the shared size/font settings on both backends. Matplotlib
    legends go outside on the right (a printed figure cannot hide a curve the legend covers)."""
    common = dict(title=title, xlabel=xlabel, ylabel=ylabel, logx=logx, logy=logy, **both)
    mpl = dict(common, **_MPL, aspect=aspect if isinstance(aspect, str) else _mpl_aspect(aspect, logx, logy))
    bk = dict(common, **_BK)
    if not isinstance(obj, hv.Overlay):  # legend_limit is an overlay option
        mpl.pop("legend_limit"), bk.pop("legend_limit")
    if logx or logy:
        mpl["hooks"] = [_plain_log_ticks]
    mpl["show_grid"] = bk["show_grid"] = grid
    if legend:
        bk["legend_position"], mpl["legend_position"] = legend, "right"
    else:
        bk["show_legend"] = mpl["show_legend"] = False
    # matplotlib reads the grid and log axes from the elements, not only from the overlay
    each = dict(show_grid=grid, logx=logx, logy=logy, **({"hooks": [_plain_log_ticks]} if logx or logy else {}))
    if isinstance(obj, hv.Overlay):
        obj = obj.map(lambda el: el.opts(**each, backend="matplotlib"), hv.Element)
    return obj.opts(**bk, backend="bokeh").opts(**mpl, backend="matplotlib")


def curve(x, y, label, i, kdim, vdim, dash: bool | int = False, width=1.8):
    """Series `i`: Okabe-Ito colour `i`; `dash` True for dashed, or an index into DASHES."""
    c = OKABE_ITO[i % len(OKABE_ITO)]
    bk_dash, mpl_dash = DASHES[1 if dash is True else int(dash) % len(DASHES)]
    return (
        hv.Curve((x, y), kdims=[kdim], vdims=[vdim], label=label)
        .opts(color=c, line_width=width, line_dash=bk_dash, backend="bokeh")
        .opts(color=c, linewidth=width, linestyle=mpl_dash, backend="matplotlib")
    )


def broken(xs: list, ys: list) -> tuple[np.ndarray, np.ndarray]:
    """Many polylines as one, NaN between them: one element (one legend entry) on both backends."""
    gap = [np.array([np.nan])]
    cat = lambda parts: np.concatenate([a for p in parts for a in (np.asarray(p, dtype=float), gap[0])][:-1])
    return cat(xs), cat(ys)


def scatter(x, y, label, i, kdim, vdim, size=5, marker="o"):
    c = OKABE_ITO[i % len(OKABE_ITO)]
    bk_marker = {"o": "circle", "s": "square", "^": "triangle"}[marker]
    return (
        hv.Scatter((x, y), kdims=[kdim], vdims=[vdim], label=label)
        .opts(color=c, size=size, marker=bk_marker, backend="bokeh")
        .opts(color=c, s=size**2, marker=marker, backend="matplotlib")
    )


def layout(panels, title: str = "", legends: float | None = None) -> hv.Layout:
    """Panels side by side; the matplotlib figure grows by one legend column per legend shown."""
    legends = len(panels) if legends is None else legends
    lay = hv.Layout(panels).cols(len(panels))
    titled = {"title": title} if title else {}
    width = PANEL_IN[0] * len(panels) + LEGEND_IN * legends
    return lay.opts(shared_axes=False, **titled, backend="bokeh").opts(
        sublabel_format="", fig_inches=(width, PANEL_IN[1]), fontsize={"title": 12}, **titled, backend="matplotlib"
    )
