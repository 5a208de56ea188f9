"""SSM Workbench dashboard: `panel serve apps/dashboard.py` (works offline: resources inline)."""
from __future__ import annotations

import sys
from pathlib import Path

# `panel serve apps/dashboard.py` runs this file as a script; make `apps.views` importable.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import holoviews as hv  # noqa: E402
import panel as pn  # noqa: E402
from panel.theme import Fast  # noqa: E402

from apps.views import LTIPreview  # noqa: E402
from workbench.analysis import legs_convergence  # noqa: E402
from workbench.plots import legs_convergence_plot  # noqa: E402

# Offline: BokehJS, Panel and HoloViews resources inline or from this server, never a CDN.
pn.extension(inline=True)
hv.extension("bokeh", inline=True)
pn.config.inline = True
# The Fast design links Google Fonts whatever `inline` says (panel 1.9), from both the template
# and `config.design` (the class), so drop it on the class; a subclass would break Panel's
# class-name based resource paths. The font falls back to the system's sans-serif.
Fast._resources = {**Fast._resources, "font": {}}


def legs_convergence_view() -> pn.pane.HoloViews:
    """The S4D paper's claim, computed live: the diagonal LegS restriction converges as N grows."""
    ds = legs_convergence(sizes=(16, 32, 64, 128, 256))
    return pn.Column(
        pn.pane.Markdown("Laplace transforms of the first basis functions of S4D-LegS (normal part's "
                         "eigenvalues, B/2) against full LegS. The convergence is weak: sup-norm errors "
                         "stay O(1), transforms converge."),
        pn.pane.HoloViews(legs_convergence_plot(ds), sizing_mode="stretch_width", min_height=320),
        sizing_mode="stretch_width")


def create_app(view: LTIPreview | None = None) -> pn.template.FastListTemplate:
    """One session's app around `view` (a fresh LTIPreview by default); tests build it unserved."""
    view = LTIPreview() if view is None else view
    tabs = pn.Tabs(("Preview", view), ("S4D-LegS → LegS", pn.panel(legs_convergence_view, defer_load=True)),
                   sizing_mode="stretch_width")
    return pn.template.FastListTemplate(
        title="SSM Workbench: LTI preview", sidebar=[view.controls()], main=[tabs],
        font="system-ui, sans-serif", accent_base_color="#0072B2", header_background="#0072B2",
        sidebar_width=320)


if pn.state.served:
    create_app().servable()
