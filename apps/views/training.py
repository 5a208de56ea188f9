"""Training view: live metric curves with smoothing, and the step every probe view shows.

The curves are DynamicMaps fed by Pipes (created here, per session), so a live run's growth
updates the Bokeh sources in place; a Tap on a curve and the step slider both set
`state.step`; "follow latest" tracks the live end (any manual choice of step unticks it).

While a run is followed, its new metrics redraw the curves at most once every
`redraw_interval()`: a redraw re-sends and repaints the whole history (server and browser), so
on a machine the run shares, redrawing every second took CPU from the run itself. The header and
the status line move with every tick; any choice made on the page redraws at once.
"""

from __future__ import annotations

import time

import holoviews as hv
import panel as pn
import param

from workbench.plots.views_training import metric_view

from .base import PANE, control_row, in_place
from .state import Workbench

# The share of the server's time that redrawing a followed run's curves may take: the next redraw
# waits (1/DUTY - 1) times the last one's CPU time (0.1 s at 200 steps: every 3.2 s; 0.3 s at 2000
# steps: every 9.7 s), never less than MIN_S. The browser's repaint costs about as much again.
DUTY, MIN_S = 0.03, 2.0


class TrainingView(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)
    metric = param.Selector(default="loss", objects=["loss"], doc="Left curve.")
    metric2 = param.Selector(default="loss", objects=["loss"], doc="Right curve (an evaluation metric).")
    smoothing = param.Number(default=0.6, bounds=(0, 0.99), step=0.01, doc="EMA weight of the past.")
    logy = param.Boolean(default=False, doc="Log scale for the metric axis.")
    on_screen = param.Boolean(default=True, doc="Whether the tab is open: curves are pushed when it opens.")
    title = "Training"

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        self._pipes = [hv.streams.Pipe(data=None), hv.streams.Pipe(data=None)]
        self.slider = pn.widgets.IntSlider(
            label="Step shown by every probe view", start=0, end=1, value=0, sizing_mode="stretch_width"
        )
        self.follow = pn.widgets.Checkbox(label="follow latest", value=state.follow_latest)
        self._setting = False  # True while this view moves the slider itself
        self._stale = False  # metrics arrived while the tab was hidden
        self._pending = False  # a push is scheduled
        self._due = False  # new metrics held back by the redraw interval; `flush` draws them
        self._drawn = ("", 0.0, 0.0)  # (run, monotonic time, CPU seconds) of the last redraw
        self.param.watch(self._on_screen, ["on_screen"])
        self.slider.param.watch(self._on_slider, ["value_throttled"])
        self.follow.link(state, value="follow_latest", bidirectional=True)
        state.param.watch(self._on_metrics, ["metrics", "run_id", "checkpoint"])
        state.param.watch(self._on_step, ["step", "steps"])
        self.param.watch(self._push, ["metric", "metric2", "smoothing", "logy"])
        self._dmaps = []
        for i, pipe in enumerate(self._pipes):
            curves = hv.DynamicMap(lambda data, i=i: self._figure(data, i), streams=[pipe])
            # HoloViews links a Tap to a DynamicMap of one element, not of an Overlay: an empty
            # curve on top receives the taps; the overlay's options are reapplied to the whole
            target = hv.DynamicMap(lambda: hv.Curve([], "step", "value"))
            tap = hv.streams.Tap(source=target, x=None, y=None)
            tap.add_subscriber(self._on_tap)
            self._dmaps.append(
                (curves * target).apply.opts(
                    title=self.param.metric if i == 0 else self.param.metric2,
                    logy=self.param.logy,
                    responsive=True,
                    min_height=300,
                    show_grid=True,
                    show_legend=False,
                )
            )
        self._status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._on_metrics()

    def _figure(self, data, i):
        name = self.metric if i == 0 else self.metric2
        return metric_view(data, name, self.smoothing, self.state.step if self.state.run_id else None, self.logy)

    def figures(self) -> dict:
        return {"metric": self._figure(self.state.metrics, 0), "metric2": self._figure(self.state.metrics, 1)}

    def dataset(self):
        import xarray as xr

        m = self.state.metrics
        return m[[self.metric, self.metric2]] if m is not None and self.metric in m else xr.Dataset()

    def _on_screen(self, event):
        if event.new and self._stale:
            self._push()

    def _push(self, *_, live: bool = False):
        """Redraw the curves once for all the changes of one tick (metrics, steps, step); `live`:
        new metrics of the run already on show, held back until `redraw_interval()` has passed."""
        self._stale = not self.on_screen
        if self._stale or self._pending:
            return
        run, at, _cost = self._drawn
        if live and run == self.state.run_id and time.monotonic() < at + self.redraw_interval():
            self._due = True
            return
        self._pending = True
        self.state.defer(self._push_now)

    def redraw_interval(self) -> float:
        """Seconds between two redraws of a followed run's curves, from the last one's CPU time."""
        return max(MIN_S, self._drawn[2] * (1 / DUTY - 1))

    def flush(self) -> None:
        """Draw metrics held back by the interval once it has passed (the session's tick calls this)."""
        if self._due and time.monotonic() >= self._drawn[1] + self.redraw_interval():
            self._push()

    def _push_now(self):
        self._pending = self._due = False
        cpu = time.thread_time()  # CPU, not wall time: a busy machine must not lengthen the interval
        with in_place():
            for pipe in self._pipes:
                pipe.event(data=self.state.metrics)
        # only a drawn history holds the next one back (a run's first metrics come at once)
        shown = self.state.run_id if self.state.metrics is not None else ""
        self._drawn = (shown, time.monotonic(), time.thread_time() - cpu)

    def _on_metrics(self, *_):
        m = self.state.metrics
        names = sorted(m.data_vars) if m is not None and len(m.data_vars) else ["loss"]
        evals = [n for n in names if n.startswith("test/")] or names
        self.param.metric.objects, self.param.metric2.objects = names, names
        if self.metric not in names:
            self.metric = "loss" if "loss" in names else names[0]
        if self.metric2 not in names or self.metric2 == "loss":
            self.metric2 = evals[0]
        last = int(m.step.values[-1]) if m is not None and m.sizes.get("step") else 0
        self.slider.end = max(last, 1)
        self._status.object = self._describe()
        self._push(live=True)

    def _describe(self) -> str:
        s = self.state
        if s.checkpoint:
            return (
                f"Checkpoint **{s.checkpoint}** is open: it has no training run here, so there are no curves "
                "(the probe views show it on the typed text); pick a run in Runs to see one's metrics."
            )
        if not s.run_id:
            return "No run selected: the probe views show the **untrained** model of the spec. Train it, or pick a run."
        m = s.metrics
        last = int(m.step.values[-1]) if m is not None and m.sizes.get("step") else 0
        where = " (example, read-only)" if s.is_example(s.run_id) else ""
        shown = (
            f"probes of step {s.shown_step} shown"
            if s.shown_step is not None
            else "no probes recorded yet (the first come with the run's first step)"
        )
        return (
            f"Run **{s.run_id}**{where}: {last} steps recorded, probes at {len(s.steps)} steps; "
            f"step {s.step} selected, {shown}."
        )

    def _on_step(self, *_):
        if self.state.step != self.slider.value:
            self._setting = True
            try:
                self.slider.end = max(self.slider.end, self.state.step)
                self.slider.value = self.state.step
            finally:
                self._setting = False
        self._status.object = self._describe()
        self._push()

    def _choose(self, step: int) -> None:
        """A manual choice of step: stop following the live end unless it is the end."""
        s = self.state
        s.follow_latest = bool(s.steps) and step >= s.steps[-1]
        s.step = int(step)

    def _on_slider(self, event):
        if not self._setting and event.new is not None and event.new != self.state.step:
            self._choose(event.new)

    def _on_tap(self, x=None, y=None):
        if x is not None and self.state.run_id:
            self._choose(max(0, int(round(x))))

    def __panel__(self):
        controls = control_row(self, ["metric", "metric2", "smoothing", "logy"])
        return pn.Column(
            self._status,
            pn.Row(self.slider, self.follow, sizing_mode="stretch_width"),
            controls,
            pn.Row(*[pn.pane.HoloViews(d, **PANE) for d in self._dmaps], sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
