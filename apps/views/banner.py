"""The stability banner: shown above every view while the model on screen is unstable, naming the
field to change and a fix (the check itself is `workbench.analysis.stability`)."""

from __future__ import annotations

import panel as pn

from .state import Workbench


def banner_text(s: dict) -> str:
    """Markdown of a stability report ('' when stable)."""
    if not s or s.get("level", "ok") == "ok":
        return ""
    field = f" Field **`{s['field']}`** = `{s['value']}`." if s.get("field") else ""
    fix = f" Suggested fix: {s['fix']}." if s.get("fix") else ""
    return f"**{s['message']}**{field}{fix} Views that cannot be drawn say so."


def stability_banner(state: Workbench) -> pn.pane.Alert:
    alert = pn.pane.Alert(
        "", alert_type="warning", visible=False, sizing_mode="stretch_width", css_classes=["stability-banner"]
    )

    def show(*_):
        text = banner_text(state.stability)
        alert.param.update(object=text, visible=bool(text))

    state.param.watch(show, ["stability"])
    show()
    return alert
