"""The sidebar while a run is open: that run's spec, read-only, and a button that copies it into
the editor (which then previews it). The editor itself shows while no run and no checkpoint is
open, so the sidebar never shows one spec while another model is on screen (a checkpoint's config
shows read-only in its own card)."""

from __future__ import annotations

import panel as pn
import param

from workbench.specs import RunSpec

from .state import Workbench


def spec_markdown(spec: dict, name: str = "") -> str:
    """One table per spec part, fields that differ from the layer's defaults first and in bold."""
    try:
        defaults = RunSpec.from_dict({"model": {"layer": spec.get("model", {}).get("layer", "s4d")}}).to_dict()
    except Exception:
        defaults = {}
    lines = [f"**{name}**" if name else ""]
    for part, fields in spec.items():
        base = defaults.get(part, {})
        changed = [k for k in fields if base.get(k) != fields[k]]
        rest = [k for k in fields if k not in changed]
        rows = [f"| **{k}** | **{fields[k]}** |" for k in changed] + [f"| {k} | {fields[k]} |" for k in rest]
        lines += [f"\n*{part}*\n", "| field | value |", "|---|---|", *rows]
    return "\n".join(lines)


class RunSpecPanel(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)

    def __init__(self, state: Workbench, editor: pn.viewable.Viewable, **params):
        super().__init__(state=state, **params)
        self.editor = editor
        self.title = pn.pane.Markdown("", margin=(0, 10))
        self.copy = pn.widgets.Button(
            label="Copy into the editor", color="primary", sizing_mode="stretch_width", css_classes=["wb-copy-spec"]
        )
        self.table = pn.pane.Markdown(
            "", sizing_mode="stretch_width", css_classes=["wb-run-spec"], styles={"font-size": "12px"}
        )
        self.column = pn.Column(self.title, self.copy, self.table, sizing_mode="stretch_width", visible=False)
        self.copy.on_click(lambda _: self.copy_into_editor())
        state.param.watch(lambda *_: self.show(), ["run_id", "checkpoint"])
        self.show()

    def show(self) -> None:
        s = self.state
        if s.checkpoint:  # its loaded config shows read-only above (the Pretrained view's card)
            self.column.visible, self.editor.visible = False, False
            return
        if not s.run_id:
            self.column.visible, self.editor.visible = False, True
            return
        try:
            run = s.open()
            self.title.object = f"### Spec of the open run (read-only)\n{run.id}"
            self.table.object = spec_markdown(run.spec, run.name)
        except Exception as err:  # deleted under us
            self.table.object = f"{type(err).__name__}: {err}"
        self.column.visible, self.editor.visible = True, False

    def copy_into_editor(self) -> None:
        """The run's spec into the editor's spec objects; then the editor previews it."""
        s = self.state
        spec = RunSpec.from_dict(s.open().spec)
        s.load_spec(spec)
        s.select_run("")

    def __panel__(self):
        return self.column
