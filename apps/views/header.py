"""The page header's run line: what is on screen (a preview or a run), the run's status as a
badge, and its progress: step / total, steps per second, ETA. Read from the store once a tick."""

from __future__ import annotations

import math
from html import escape as html_escape

import panel as pn
import param

from .state import Workbench

BADGE = {
    "running": "#0072B2",
    "paused": "#E69F00",
    "completed": "#009E73",
    "diverged": "#D55E00",
    "failed": "#D55E00",
    "killed": "#D55E00",
    "stopped": "#999999",
    "created": "#999999",
}


def rate_and_eta(metrics, total: int | None) -> tuple[float, float]:
    """Steps per second over the last (up to 50) recorded steps, and the seconds left at that rate."""
    if metrics is None or not metrics.sizes.get("step") or "wall_time_s" not in metrics:
        return math.nan, math.nan
    tail = metrics["wall_time_s"].dropna("step").isel(step=slice(-50, None))
    if tail.sizes["step"] < 2:
        return math.nan, math.nan
    steps, wall = tail.step.values, tail.values
    dt = float(wall[-1] - wall[0])
    rate = float(steps[-1] - steps[0]) / dt if dt > 0 else math.nan
    eta = (total - int(steps[-1])) / rate if total and rate and rate > 0 else math.nan
    return rate, eta


def format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def header_html(
    run_id: str, name: str, status: str, step: int, total: int | None, rate: float, eta: float, example: bool = False
) -> str:
    """The header line of a run: name, status badge, step / total, steps/s and ETA (while live)."""
    if not run_id:
        return "<span class='wb-run'>Preview of the edited spec (untrained model)</span>"
    color = BADGE.get(status, "#999999")
    badge = (
        f"<span class='wb-badge' data-status='{status}' style='background:white;color:{color};"  # on the blue header
        f"font-weight:600;border-radius:8px;padding:1px 8px;font-size:0.85em'>{status}</span>"
    )
    where = f"{step} / {total}" if total else f"{step}"
    live = status in ("running", "paused")
    speed = f" · {rate:.2f} steps/s · ETA {format_seconds(eta)}" if live and math.isfinite(rate) else ""
    tag = " (example)" if example else ""
    return (
        f"<span class='wb-run'><b>{name or run_id}</b>{tag} {badge} "
        f"<span class='wb-progress'>step {where}</span>{speed}</span>"
    )


class RunHeader(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        self.pane = pn.pane.HTML(
            "", styles={"color": "white", "font-size": "14px"}, margin=(0, 10), css_classes=["wb-header"]
        )
        state.param.watch(lambda *_: self.refresh(), ["run_id", "metrics", "checkpoint"])
        self.refresh()

    def refresh(self) -> None:
        s = self.state
        if s.checkpoint:
            html = f"<span class='wb-run'>Checkpoint <b>{html_escape(s.checkpoint)}</b> on the typed text</span>"
        elif not s.run_id:
            html = header_html("", "", "", 0, None, math.nan, math.nan)
        else:
            try:
                run = s.open()
                total = (run.spec.get("train") or {}).get("steps")
                rate, eta = rate_and_eta(s.metrics, total)
                html = header_html(
                    run.id, run.name, run.status, max(run.last_step, 0), total, rate, eta, s.is_example(run.id)
                )
            except Exception as err:  # a run deleted under us: say so, keep the page
                html = f"<span class='wb-run'>{s.run_id}: {type(err).__name__}</span>"
        if html != self.pane.object:
            self.pane.object = html

    def __panel__(self):
        return self.pane
