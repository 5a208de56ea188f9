"""The sidebar's spec editor, generated from the spec classes and their metadata (workbench.spec_groups).

One card per group; each card's widgets come from `pn.Param` over the fields of that group, and
show only the fields that matter for the chosen layer, task and init (a Mamba's gate, the LRU
ring's radii, mqar's key-value pairs). A field added to a spec appears here by itself.
"""

from __future__ import annotations

import math

import panel as pn
import param

from workbench.spec_groups import GROUP_ORDER, fields, group_of, relevant

from .state import Workbench

_FLOAT = {"type": pn.widgets.FloatInput, "format": "0.[000000]"}


def widget_for(p: param.Parameter) -> dict | None:
    """Typed inputs where a slider would be useless: integers, numbers unbounded above, and numbers
    whose default is tiny against their range (ptd_eps 1e-4 on (0, 1]); sliders for the rest."""
    lo, hi = p.bounds if getattr(p, "bounds", None) else (None, None)
    if isinstance(p, param.Integer):
        return {
            "type": pn.widgets.IntInput,
            **({"start": lo} if lo is not None else {}),
            **({"end": hi} if hi is not None else {}),
        }
    if isinstance(p, param.Number) and (hi is None or lo is not None and abs(p.default or 0) < (hi - lo) / 100):
        step = 10.0 ** math.floor(math.log10(abs(p.default))) if p.default else 1e-3  # the default's decade
        return {
            **_FLOAT,
            **({"start": lo} if lo is not None else {}),
            **({"end": hi} if hi is not None else {}),
            "step": min(step, 0.1),
        }
    return None


def _widgets(spec: param.Parameterized, names: list[str]) -> dict:
    return {n: w for n in names if (w := widget_for(spec.param[n])) is not None}


def spec_editor(state: Workbench) -> pn.Column:
    """Cards of widgets bound to the state's spec objects; an alert shows a rejected spec."""
    alert = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")

    def show(event):
        alert.param.update(object=event.new, visible=bool(event.new))

    state.param.watch(show, ["error"])
    cards, panes = [], []
    for title in GROUP_ORDER:
        for part in ("ssm", "model", "task", "train"):
            names = [f for f in fields(part) if group_of(part, f) == title]
            if not names:
                continue
            obj = getattr(state, part)
            pane = pn.Param(
                obj.param,
                parameters=names,
                widgets=_widgets(obj, names),
                show_name=False,
                sizing_mode="stretch_width",
                name=title,
            )
            card = pn.Card(
                pane,
                title=title,
                collapsed=title not in ("SSM", "Gating"),
                sizing_mode="stretch_width",
                css_classes=[f"spec-{title.lower()}"],
            )
            cards.append(card)
            panes.append((card, pane, part, names))

    def narrow(*_events):
        """Only the fields that matter for the chosen layer, task and init."""
        now = dict(layer=state.model.layer, task=state.task.kind, init=state.ssm.init)
        for card, pane, part, names in panes:
            shown = [n for n in names if relevant(part, n, **now)]
            if shown != list(pane.parameters):
                pane.parameters = shown
            card.visible = bool(shown)

    state.model.param.watch(narrow, ["layer"])
    state.task.param.watch(narrow, ["kind"])
    state.ssm.param.watch(narrow, ["init"])
    narrow()
    return pn.Column(alert, *cards, sizing_mode="stretch_width")
