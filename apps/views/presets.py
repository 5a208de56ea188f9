"""The sidebar's preset menu: pick a preset (data/presets/), read what it shows, load one of its
runs into the editor, or train all its runs at once (each in its own process)."""

from __future__ import annotations

import panel as pn
import param

from workbench.errors import SpecError
from workbench.presets import DEFAULT, load_preset, preset_names
from workbench.train import runner

from .runs import _CHILDREN
from .state import Workbench


class PresetMenu(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        names = preset_names()
        self.preset = pn.widgets.Select(label="Preset", options=names, value=DEFAULT, sizing_mode="stretch_width")
        self.run = pn.widgets.Select(label="Run of the preset", options=[], sizing_mode="stretch_width")
        self.about = pn.pane.Markdown("", sizing_mode="stretch_width", styles={"font-size": "12px"})
        self.load = pn.widgets.Button(label="Load into the editor", sizing_mode="stretch_width")
        self.train_all = pn.widgets.Button(
            label="Train all runs of the preset", color="primary", sizing_mode="stretch_width"
        )
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.preset.param.watch(lambda *_: self._describe(), ["value"])
        self.load.on_click(lambda _: self.load_run())
        self.train_all.on_click(lambda _: self.start_all())
        self._describe()

    def _describe(self) -> None:
        p = load_preset(self.preset.value)
        self.run.options = list(p.runs)
        self.run.value = next(iter(p.runs))
        expect = " > ".join(p.expect)
        self.about.object = f"**{p.title}**\n\n{p.shows}\n\n*{p.paper}*" + (
            f"\n\nExpected on `{p.metric}`: {expect} (about {p.budget_s:.0f} s on 2 cores)" if expect else ""
        )

    def load_run(self) -> None:
        p = load_preset(self.preset.value)
        spec = dict(p.run_specs())[self.run.value]
        self.state.load_spec(spec)
        if self.state.run_id:
            self.state.select_run("")
        self.message.object = f"Loaded **{p.name}: {self.run.value}** into the editor."

    def start_all(self) -> list[str]:
        p = load_preset(self.preset.value)
        ids = []
        try:
            for _label, spec in p.run_specs():
                run_id, proc = runner.start(spec, self.state.root_of(""))
                _CHILDREN.append(proc)
                ids.append(run_id)
        except SpecError as err:
            self.message.object = f"Not started: {err}"
            return ids
        self.message.object = f"Started {len(ids)} runs of **{p.name}**; tick them in Runs to compare."
        self.state.select_run(ids[0])
        return ids

    def __panel__(self):
        return pn.Column(
            self.preset, self.about, self.run, self.load, self.train_all, self.message, sizing_mode="stretch_width"
        )
