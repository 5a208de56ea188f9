"""The header's step scrubber: one probe step for every probe view of the open run (kernels,
spectrum, memory, token dynamics, export), chosen among the steps that have probes, with
"latest" to follow the live end. The Training tab's slider and a tap on its curves set the same
`state.step`, so the three stay in step."""

from __future__ import annotations

import panel as pn
import param

from .state import Workbench


class StepScrubber(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        self.slider = pn.widgets.DiscreteSlider(
            label="Probe step", options=[0], value=0, width=260, margin=(0, 10), css_classes=["wb-scrubber"]
        )
        self.follow = pn.widgets.Checkbox(label="latest", value=state.follow_latest, margin=(18, 5, 0, 5))
        self.follow.link(state, value="follow_latest", bidirectional=True)
        self._setting = False  # True while the state moves the slider
        # `value`, not `value_throttled`: Panel never sends the throttled value to the browser, so a
        # drag back to the index the page first held (the first step, say) would never be reported.
        # A drag passes one event per probe step: few, each a cheap re-read.
        self.slider.param.watch(self._on_slider, ["value"])
        state.param.watch(self._sync, ["run_id", "steps", "step"])
        self.row = pn.Row(self.slider, self.follow, visible=False, styles={"color": "white"})
        self._sync()

    def _sync(self, *_):
        s = self.state
        steps = [int(v) for v in s.steps]
        self.row.visible = bool(s.run_id) and len(steps) > 1
        if not steps:
            return
        shown = s.shown_step if s.shown_step is not None else steps[-1]
        self._setting = True
        try:
            if list(self.slider.options) != steps:
                self.slider.options = steps
            if self.slider.value != shown:
                self.slider.value = shown
        finally:
            self._setting = False

    def _on_slider(self, event):
        s = self.state
        if self._setting or event.new is None or event.new == s.shown_step:
            return
        s.follow_latest = bool(s.steps) and event.new >= s.steps[-1]  # a manual choice stops following
        s.step = int(event.new)

    def __panel__(self):
        return self.row
