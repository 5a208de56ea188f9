"""Sizing and log-axis ticks shared by the figure builders: one definition, imported where used."""

import numpy as np

# stretch to the pane's width, a readable minimum height, a grid to read values off
SIZE = dict(responsive=True, min_height=300, show_grid=True)


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """1-2-5 ticks covering [lo, hi] (a log axis spanning less than a decade gets no tick from
    the default locator, and matplotlib's minor labels then collide)."""
    k0, k1 = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    ticks = [m * 10**k for k in range(k0, k1 + 1) for m in (1, 2, 5) if lo / 1.05 <= m * 10**k <= hi * 1.05]
    return [(t, f"{t:g}" if t < 1e5 else f"{t:.0e}") for t in ticks]


MAX_WORD_TICKS = 48  # beyond this every k-th token is labelled


def token_ticks(da, dim: str) -> list[tuple[float, str]] | None:
    """(coordinate, word) ticks of a token dimension whose Dataset carries `<dim>_text` (a model read
    on a text: `analysis.text_preview`), thinned to MAX_WORD_TICKS; None without words."""
    name = f"{dim}_text"
    if name not in da.coords:
        return None
    pos, words = da[dim].values, [str(w) for w in da[name].values]
    step = max(1, int(np.ceil(len(words) / MAX_WORD_TICKS)))
    return [(float(p), (w.strip() or "␣")[:14]) for k, (p, w) in enumerate(zip(pos, words)) if k % step == 0]


def word_axes(da, x: str | None = None, y: str | None = None) -> dict:
    """Bokeh options putting the words of token dimensions x and/or y on the axes ({} without words)."""
    o = {}
    if x and (t := token_ticks(da, x)):
        o.update(xticks=t, xrotation=60)
    if y and (t := token_ticks(da, y)):
        o["yticks"] = t
    return o
