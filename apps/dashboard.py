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

from apps.views import (KernelsView, MemoryView, RunControls, RunsView, SpectrumView, TokensView,  # noqa: E402
                        TrainingView, Workbench, spec_editor)
from apps.views.export import ExportView  # noqa: E402
from apps.views.pretrained import PretrainedView  # noqa: E402
from apps.views.runs import reap  # noqa: E402
from workbench.analysis import legs_convergence  # noqa: E402
from workbench.plots import legs_convergence_plot  # noqa: E402
from workbench.threads import use_threads  # noqa: E402

# Offline: BokehJS, Panel and HoloViews resources inline or from this server, never a CDN.
pn.extension("tabulator", inline=True)
hv.extension("bokeh", inline=True)
pn.config.inline = True
# Canvas, not WebGL (HoloViews' default): the figures are small, and in a browser without a GPU
# (headless Chromium with --disable-gpu, remote desktops) WebGL is emulated on the CPU, where it
# took ~0.7 of a core redrawing two live curves once a second, beside the run being followed.
hv.renderer("bokeh").webgl = False
# Panel waits 50 ms after a browser change before handling it, to batch bursts; a knob's answer
# is the point of this page, and sliders already send only on release (value_throttled).
pn.reactive.Syncable._debounce = 5
# The server's analyses are small; one thread leaves the other cores to the browser and to runs
# (each run is its own process with its own thread count).
use_threads(1)
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


class App:
    """One session: its state, its views and the periodic reader of the store."""

    def __init__(self, state: Workbench | None = None):
        self.state = state = Workbench() if state is None else state
        self.kernels, self.spectrum = KernelsView(state), SpectrumView(state)
        self.memory, self.tokens = MemoryView(state), TokensView(state)
        self.training, self.runs, self.controls = TrainingView(state), RunsView(state), RunControls(state)
        views = {v.title: v for v in (self.kernels, self.spectrum, self.memory, self.tokens, self.training)}
        self.export = ExportView(state, views)
        self.pretrained = PretrainedView(state)  # the model source: the spec, or an opened checkpoint
        self.runs_on_screen = True  # until a template's tabs say otherwise

    def tick(self) -> None:
        """Read what is new: the selected run's steps and probes, and the run index."""
        try:
            self.state.poll()
            if self.runs_on_screen:  # the index is re-read when its tab is open (and on opening it)
                self.runs.refresh()
            else:
                reap()
        except Exception:  # keep ticking; say why in the server's log
            import traceback
            traceback.print_exc()

    def template(self) -> pn.template.FastListTemplate:
        tabs = pn.Tabs(*[(v.title, v) for v in (self.kernels, self.spectrum, self.memory, self.tokens,
                                                 self.training, self.runs, self.export)],
                       (self.pretrained.title, self.pretrained),
                       ("S4D-LegS → LegS", pn.panel(legs_convergence_view, defer_load=True)),
                       sizing_mode="stretch_width")  # not dynamic: models made after load would link CSS to the CDN (inline mode)
        shown = [self.kernels, self.spectrum, self.memory, self.tokens, self.training]  # tabs 0-4

        def on_tab(event=None):  # only the open tab redraws on new data; the others when opened
            for i, view in enumerate(shown):
                view.on_screen = i == tabs.active
            self.runs_on_screen = tabs.active == len(shown)
            self.state.probes_wanted = tabs.active != 4 and not self.runs_on_screen  # probe views, export
            if self.runs_on_screen:
                self.runs.refresh()
        tabs.param.watch(on_tab, ["active"])
        on_tab()
        sidebar = [pn.pane.Markdown("### Run"), self.controls, pn.pane.Markdown("### Spec"),
                   self.pretrained.config_card, spec_editor(self.state)]
        return pn.template.FastListTemplate(
            title="SSM Workbench", sidebar=sidebar, main=[self.pretrained.banner, tabs], font="system-ui, sans-serif",
            accent_base_color="#0072B2", header_background="#0072B2", sidebar_width=340)


def create_app(state: Workbench | None = None, period_ms: int = 1000) -> pn.template.FastListTemplate:
    """One session's app (a fresh Workbench by default); tests build it unserved."""
    app = App(state)
    page = app.template()
    page.app = app  # for tests and notebooks
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        from panel.io.state import set_curdoc

        def later(fn):
            # after this callback's messages went out: a timeout, not next tick, lets the browser
            # paint the kernels before the slow half of a preview takes the CPU (2 cores: ~60 ms)
            def run():
                with set_curdoc(doc):
                    fn()
            doc.add_timeout_callback(run, 150)
        app.state.defer = later
        # per session; stopped with it (the run itself lives on in its own process)
        cb = pn.state.add_periodic_callback(app.tick, period=period_ms)
        pn.state.on_session_destroyed(lambda _ctx: cb.stop())
    return page


if pn.state.served:
    create_app().servable()
