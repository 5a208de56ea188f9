"""Runs view, length generalization: accuracy against sequence length for the selected runs,
and a button that evaluates them at the lengths typed in (what `workbench eval` does)."""

from __future__ import annotations

import panel as pn

from workbench.errors import SpecError
from workbench.plots.views_memory_science import length_curves_view

from .base import PANE

EVAL_NAME = "lengths"


class LengthsPane:
    def __init__(self, state):
        self.state, self.ids = state, []
        self.lengths = pn.widgets.TextInput(name="Lengths", value="64,128,256,512", width=220)
        self.button = pn.widgets.Button(name="Evaluate selected runs at these lengths", button_type="primary")
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.plot = pn.pane.HoloViews(length_curves_view({}), **PANE)
        self.button.on_click(lambda _: self.evaluate())

    def update(self, ids: list[str]) -> None:
        """Redraw for the selected runs: each run's stored length evaluation, where it has one."""
        self.ids = list(ids)
        evals = {}
        for run_id in self.ids:
            run = self.state.open_any(run_id)
            if EVAL_NAME in run.evals:
                evals[run_id] = run.eval(EVAL_NAME)
        self.plot.object = length_curves_view(evals)

    def evaluate(self) -> None:
        from workbench.cli_eval import evaluate_lengths

        if not self.ids:
            self.message.object = "Select one or more runs in the table first."
            return
        done = []
        try:
            for run_id in self.ids:
                run = self.state.open_any(run_id)
                if run.path.parent.name == "example_runs":
                    raise SpecError("run", run_id, "a run of your store (the shipped examples are read-only)")
                evaluate_lengths(run, self.lengths.value, name=EVAL_NAME)
                done.append(run_id)
        except SpecError as err:
            self.message.object = f"**Not evaluated:** {err}"
        else:
            self.message.object = f"Evaluated {len(done)} run(s) at {self.lengths.value}; stored with each run."
        self.update(self.ids)

    def __panel__(self):
        return pn.Column(pn.Row(self.lengths, self.button), self.message, self.plot, sizing_mode="stretch_width")
