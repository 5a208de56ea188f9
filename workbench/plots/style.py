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
