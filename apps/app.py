"""One session's dashboard page: the views, the spec editor, the periodic reader of the store."""

from __future__ import annotations

import threading
import time

import panel as pn
from tornado.ioloop import IOLoop

from workbench.analysis import legs_convergence
from workbench.plots import legs_convergence_plot
from workbench.threads import use_threads

from . import compat
from .views import (
    KernelsView,
    MemoryView,
    RunControls,
    RunsView,
    SpectrumView,
    TokensView,
    TrainingView,
    Workbench,
    spec_editor,
)
from .views.banner import stability_banner
from .views.export import ExportView
from .views.header import RunHeader
from .views.presets import PresetMenu
from .views.pretrained import PretrainedView
from .views.run_spec import RunSpecPanel
from .views.runs import reap
from .views.scrubber import StepScrubber

_PREBUILD = threading.Lock()  # one session build at a time (see create_app)

# The share of the server's time reading the selected run may take: after a read that cost c
# seconds of CPU the next waits c * (1/TICK_DUTY - 1), at most TICK_MAX_S (a run followed on the
# Training tab: ~30 ms a read, one read in ~3 s). The browser redraws what each tick changes, at
# about the server's cost again, on the cores the run needs; page events are answered at once.
TICK_DUTY, TICK_MAX_S = 0.01, 5.0


def configure() -> None:
    """Process-wide settings of a served dashboard (idempotent): the stack's patches, offline
    resources, and one analysis thread (the other cores go to the browser and to runs, each run
    being its own process with its own thread count)."""
    compat.apply()
    compat.offline_resources()
    use_threads(1)


def legs_convergence_view() -> pn.pane.HoloViews:
    """The S4D paper's claim, computed live: the diagonal LegS restriction converges as N grows."""
    ds = legs_convergence(sizes=(16, 32, 64, 128, 256))
    return pn.Column(
        pn.pane.Markdown(
            "Laplace transforms of the first basis functions of S4D-LegS (normal part's "
            "eigenvalues, B/2) against full LegS. The convergence is weak: sup-norm errors "
            "stay O(1), transforms converge."
        ),
        pn.pane.HoloViews(legs_convergence_plot(ds), sizing_mode="stretch_width", min_height=320),
        sizing_mode="stretch_width",
    )


class App:
    """One session: its state, its views and the periodic reader of the store."""

    def __init__(self, state: Workbench | None = None, defer=None):
        # served (`defer` given): the slow half of each preview runs after the fast half is painted
        self.state = state = Workbench(defer=defer) if state is None else state
        if defer is not None:
            state.defer = defer
        # served: views of the tabs that are not open draw their figures when opened, not now
        hidden = {"on_screen": False} if defer is not None else {}
        self.kernels, self.spectrum = KernelsView(state), SpectrumView(state, **hidden)
        self.memory, self.tokens = MemoryView(state, **hidden), TokensView(state, **hidden)
        self.training, self.runs, self.controls = TrainingView(state), RunsView(state), RunControls(state)
        views = {v.title: v for v in (self.kernels, self.spectrum, self.memory, self.tokens, self.training)}
        self.export = ExportView(state, views)
        self.pretrained = PretrainedView(state)  # the model source: the spec, or an opened checkpoint
        self.header, self.presets = RunHeader(state), PresetMenu(state)
        self.scrubber = StepScrubber(state)  # one probe step for every probe view, in the header
        self.runs_on_screen = True  # until a template's tabs say otherwise
        self._next_tick = 0.0  # monotonic time before which `tick` leaves the selected run alone

    def tick(self) -> None:
        """Read what is new: the selected run's steps and probes (less often the more reading and
        redrawing them cost, `TICK_DUTY`), and the run index while its tab is open (every second)."""
        now = time.monotonic()
        try:
            if now >= self._next_tick:
                cpu = time.thread_time()
                if not self.state.poll():  # new metrics refresh the header through their watcher
                    self.header.refresh()  # status and rate move without new metrics (paused, completed)
                self.training.flush()  # curves held back by their redraw interval
                spent = time.thread_time() - cpu
                self._next_tick = now + min(TICK_MAX_S, spent * (1 / TICK_DUTY - 1))
            if self.runs_on_screen:  # the index is re-read when its tab is open (and on opening it)
                self.runs.refresh()
            else:
                reap()
        except Exception:  # keep ticking; say why in the server's log
            import traceback

            traceback.print_exc()

    def parts(self) -> tuple[list, list, pn.Column]:
        """(header, sidebar, main) of the page: the tabs and the spec editor, wired to the state."""
        header, main = self.main_parts()
        return header, self.sidebar(), main

    def main_parts(self) -> tuple[list, pn.Column]:
        """(header, main): the tabs, wired to the state."""
        tabs = pn.Tabs(
            *[
                (v.title, v)
                for v in (self.kernels, self.spectrum, self.memory, self.tokens, self.training, self.runs, self.export)
            ],
            (self.pretrained.title, self.pretrained),
            ("S4D-LegS → LegS", pn.panel(legs_convergence_view, defer_load=True)),
            sizing_mode="stretch_width",
            dynamic=True,  # a tab is rendered when first opened: the first figure does not wait for all eight
        )
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
        main = pn.Column(self.pretrained.banner, stability_banner(self.state), tabs, sizing_mode="stretch_width")
        return [self.header, self.scrubber], main

    def sidebar(self) -> list:
        """Presets, run controls and the spec editor (a few hundred widgets)."""
        editor = spec_editor(self.state)
        return [
            pn.pane.Markdown("### Presets"),
            self.presets,
            pn.pane.Markdown("### Run"),
            self.controls,
            pn.pane.Markdown("### Spec"),
            self.pretrained.config_card,
            RunSpecPanel(self.state, editor),
            editor,
        ]

    def template(self) -> pn.template.FastListTemplate:
        header, sidebar, main = self.parts()
        return page_template(header, sidebar, main)


def page_template(header: list, sidebar: list, main) -> pn.template.FastListTemplate:
    return pn.template.FastListTemplate(
        title="SSM Workbench",
        sidebar=sidebar,
        header=header,
        main=[main],
        font="system-ui, sans-serif",
        accent_base_color="#0072B2",
        header_background="#0072B2",
        sidebar_width=340,
    )


def loading(what: str) -> pn.Row:
    return pn.Row(
        pn.indicators.LoadingSpinner(value=True, size=28, color="primary"),
        pn.pane.Markdown(what, margin=(4, 10)),
        css_classes=["wb-loading"],
    )


def create_app(state: Workbench | None = None, period_ms: int = 1000) -> pn.template.FastListTemplate:
    """One session's app (a fresh Workbench by default); tests build it unserved.

    Served, the page goes out at once with its frame and a loading indicator; the views (a model,
    its preview, every widget) are built on load and put in place, so nothing waits blank."""
    configure()
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        app = App(state)
        page = app.template()
        page.app = app  # for tests and notebooks
        return page
    compat.serving()
    header, sidebar = pn.Row(sizing_mode="stretch_width"), pn.Column(loading("Loading the spec editor…"))
    main = pn.Column(loading("Building the model and its first preview…"), sizing_mode="stretch_width")
    page = page_template([header], [sidebar], main)
    # The session's views start building now, beside the ~2 s the browser spends loading and
    # running BokehJS before it asks for them (onload); what they defer waits for the session.
    queued: list = []
    built: dict = {}

    def prebuild():
        with _PREBUILD:  # one at a time: HoloViews keeps process-wide option registries
            try:
                built["app"] = app = App(state, defer=queued.append)
                built["parts"] = app.main_parts()
            except BaseException as err:  # raised again on load, in the session, where it is reported
                built["error"] = err

    worker = threading.Thread(target=prebuild, name="workbench-prebuild", daemon=True)
    # started once this request's page is written: beside the page's own rendering it delays the answer
    IOLoop.current().add_callback(worker.start)

    def build():
        worker.join()
        if "error" in built:
            raise built["error"]
        app = page.app = built["app"]
        app.state.defer = later = _later(doc)
        for fn in queued:
            later(fn)
        head, body = built["parts"]
        header[:], main[:] = head, [body]
        # the editor's few hundred widgets are built and sent after the first figure's message
        _later(doc, 50)(lambda: sidebar.__setitem__(slice(None), app.sidebar()))
        # per session; stopped with it (the run itself lives on in its own process)
        cb = pn.state.add_periodic_callback(app.tick, period=period_ms)
        pn.state.on_session_destroyed(lambda _ctx: cb.stop())

    pn.state.onload(build)
    return page


def _later(doc, delay_ms: int = 150):
    from panel.io.state import set_curdoc

    def later(fn):
        # after this callback's messages went out: a timeout, not next tick, lets the browser
        # paint the kernels before the slow half of a preview takes the CPU (2 cores: ~60 ms)
        def run():
            with set_curdoc(doc):
                fn()

        doc.add_timeout_callback(run, delay_ms)

    return later
