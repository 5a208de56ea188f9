"""Sweeps in the Runs view: one sweep's final metric against each swept field, and its runs' memory
functions or kernels overlaid, coloured by a chosen field."""

from __future__ import annotations

import json

import pandas as pd
import panel as pn
import param

from workbench.plots.sweep import sweep_plot
from workbench.plots.views_runs import grouped_curves_view, probe_curve
from workbench.plots.views_spectrum import empty

from .base import PANE, control_row
from .state import Workbench

NONE = "(no sweep)"


class SweepView(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)
    sweep = param.Selector(default=NONE, objects=[NONE], doc="A sweep of the run index.")
    metric = param.Selector(default=None, objects=[], doc="Final metric against each swept field.")
    by = param.Selector(default=None, objects=[], doc="Swept field that colours the overlaid curves.")
    curve = param.Selector(default="memory", objects=["memory", "kernels"], doc="Probe overlaid per run.")

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        self._df = pd.DataFrame()
        self.summary = pn.pane.HoloViews(
            empty("Sweep", "no sweep chosen"), sizing_mode="stretch_width", min_height=300, linked_axes=False
        )
        self.overlay = pn.pane.HoloViews(empty("Sweep runs", "no sweep chosen"), **PANE)
        self.param.watch(self._on_sweep, ["sweep"])
        self.param.watch(lambda _: self.draw(), ["metric", "by", "curve"])

    def update(self, df: pd.DataFrame) -> None:
        """New run index (own runs): offer its sweeps, redraw the chosen one."""
        before = self.runs()
        self._df = df
        ids = sorted(df["sweep"].dropna().unique()) if "sweep" in df else []
        self.param.sweep.objects = [NONE, *ids]
        if self.sweep not in self.param.sweep.objects:
            self.sweep = NONE
        elif not before.equals(self.runs()):  # the periodic refresh: redraw only when the sweep moved on
            self._on_sweep()

    def runs(self) -> pd.DataFrame:
        df = self._df
        return df[df["sweep"] == self.sweep] if self.sweep != NONE and "sweep" in df else df.iloc[:0]

    def fields(self) -> list[str]:
        return sorted({f for s in self.runs()["swept"].dropna() for f in json.loads(s)}) if len(self.runs()) else []

    def _on_sweep(self, *_):
        df, fields = self.runs(), self.fields()
        metrics = [c for c in df.columns if c.startswith("final.") and c != "final.wall_time_s" and df[c].notna().any()]
        with param.parameterized.discard_events(self):  # one redraw below, not one per selector
            self.param.metric.objects = metrics
            self.metric = self.metric if self.metric in metrics else (metrics[0] if metrics else None)
            self.param.by.objects = fields
            self.by = self.by if self.by in fields else (fields[0] if fields else None)
        self.draw()

    def draw(self) -> None:
        df, fields = self.runs(), self.fields()
        if not len(df):
            self.summary.object = empty("Sweep", "no sweep chosen" if self.sweep == NONE else "no runs")
            self.overlay.object = empty("Sweep runs", "no sweep chosen")
            return
        self.summary.object = (
            sweep_plot(df, fields, self.metric) if self.metric and fields else empty("Sweep", "no final metric yet")
        )
        curves = []
        for _, row in df.iterrows():
            run = self.state.open_any(row["id"])
            name = self.curve if self.curve in run.probe_names else None
            da = probe_curve(run.probe(name), self.curve) if name else None
            if da is not None:
                curves.append((row["id"], row.get(self.by), da))
        self.overlay.object = grouped_curves_view(curves, self.by or "run", self.curve)

    def __panel__(self):
        controls = control_row(self, ["sweep", "metric", "by", "curve"])
        return pn.Column(
            pn.pane.Markdown("#### Sweeps"), controls, self.summary, self.overlay, sizing_mode="stretch_width"
        )
