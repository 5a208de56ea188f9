"""Where the loop's events go: the run store (a RunWriter), or anything else with `__call__(event)`."""

from __future__ import annotations

from workbench.store import RunWriter


class StoreSink:
    def __init__(self, writer: RunWriter):
        self.w = writer
        self.last_step = 0

    def __call__(self, e: dict) -> None:
        kind, step = e["kind"], e.get("step", 0)
        self.last_step = step
        if kind == "metrics":
            self.w.log_metrics(step, e["values"])
        elif kind == "probe":
            self.w.log_probe(step, e["name"], e["data"], e["capacity"])
        elif kind == "checkpoint":
            self.w.save_checkpoint(step, e["state"])
        elif kind == "status":
            self.w.set_status(e["status"], step=step)
        elif kind == "done":
            self.w.set_status(e["status"], step=step, final=e.get("final"), error=e.get("error", ""))
