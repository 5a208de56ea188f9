"""`workbench train | runs | show`: the run store from the terminal."""
from __future__ import annotations

import json
import sys
import time

from workbench.errors import SpecError


def train_command(ns, given: dict) -> int:
    from workbench.specs import RunSpec
    from workbench.store import open_run
    from workbench.train import runner
    from workbench.train.build import build_run_model
    from workbench.train.worker import run_worker
    if ns.resume:
        if given:
            raise SpecError("--resume", ns.resume, "no spec flags alongside (a run continues with its own spec)")
        path = open_run(ns.resume, ns.runs_dir).path
    else:
        run = RunSpec.from_dict(given, name=ns.name)  # every bad value is caught here, before any write
        build_run_model(run)  # and combinations only a model build can reject (e.g. mamba + a dense init)
        if ns.detach:
            run_id, proc = runner.start(run, ns.runs_dir)
            print(json.dumps({"id": run_id, "pid": proc.pid}) if ns.json else f"started {run_id} (pid {proc.pid})")
            return 0
        path = runner.create(run, ns.runs_dir)
    if ns.detach:
        runner.launch(path)
        print(f"continuing {path.name}")
        return 0
    progress = Progress(path.name, quiet=ns.json)
    t0 = time.perf_counter()
    try:
        out = run_worker(path, emit_extra=progress)
    except KeyboardInterrupt:
        out = {"status": "stopped", "step": progress.step, "final": {}}
    progress.close()
    summary = {"id": path.name, "status": out["status"], "steps": out["step"],
               "final_metrics": {k.removeprefix("test/") if k.count("/") == 1 and k.startswith("test/") else k: v
                                 for k, v in (out.get("final") or {}).items() if k != "wall_time_s"},
               "wall_time_s": round(time.perf_counter() - t0, 3)}
    if out.get("error"):
        summary["error"] = out["error"]
    print(json.dumps(summary) if ns.json else _describe(summary))
    return 0 if out["status"] in ("completed", "stopped") else 1


class Progress:
    """One line on stderr, redrawn at most every half second (a plain line per 10% when not a tty)."""

    def __init__(self, run_id: str, quiet: bool):
        self.run_id, self.quiet, self.step, self.total, self._t = run_id, quiet, 0, None, 0.0
        self.tty = sys.stderr.isatty()
        self._tenth = -1

    def __call__(self, e: dict) -> None:
        if e["kind"] != "metrics" or self.quiet:
            return
        self.step = e["step"]
        v = e["values"]
        metric = next((f"{k.split('/')[-1]} {x:.3f}" for k, x in v.items() if k.startswith("train/")), "")
        line = f"{self.run_id}  step {self.step}  loss {v['loss']:.4f}  {metric}  {v['tokens_per_s']:.0f} tok/s"
        now = time.monotonic()
        if self.tty and now - self._t > 0.5:
            self._t = now
            print("\r" + line[:150].ljust(150), end="", file=sys.stderr, flush=True)
        elif not self.tty and int(v.get("wall_time_s", 0) // 10) != self._tenth:
            self._tenth = int(v.get("wall_time_s", 0) // 10)
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet:
            print(file=sys.stderr)


def _describe(s: dict) -> str:
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in s["final_metrics"].items())
    return f"{s['id']}: {s['status']} after {s['steps']} steps in {s['wall_time_s']:.1f} s" + (f"; {metrics}" if metrics else "")


def runs_command(ns) -> int:
    from workbench.store import list_runs
    filters = {}
    for w in ns.where:
        if "=" not in w:
            raise SpecError("--where", w, "FIELD=VALUE, e.g. model.layer=mamba")
        k, v = w.split("=", 1)
        filters[k] = _typed(v)
    df = list_runs(ns.runs_dir, **filters)
    if ns.json:
        print(df.to_json(orient="records"))
        return 0
    if df.empty:
        print("no runs")
        return 0
    cols = [c for c in ["id", "status", "step", "model.layer", "ssm.init", "task.kind"] if c in df] + \
        [c for c in df.columns if c.startswith("final.") and c != "final.wall_time_s"]
    print(df[cols].to_string(index=False))
    return 0


def _typed(v: str):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return {"true": 1, "false": 0}.get(v.lower(), v)


def show_command(ns) -> int:
    from workbench.store import open_run
    r = open_run(ns.run, ns.runs_dir)
    m = r.metrics
    print(f"{r.id}  ({r.name})\nstatus: {r.status}   last step: {r.last_step}")
    if r.meta.get("error"):
        print(f"error: {r.meta['error']}")
    print("spec: " + json.dumps(r.spec, sort_keys=True))
    if m.sizes.get("step"):
        last = m.isel(step=-1)
        print("last metrics: " + ", ".join(f"{k} {float(last[k]):.4g}" for k in m.data_vars if last[k].notnull()))
    print("probes: " + (", ".join(f"{n} ({r.probe(n).sizes['step']} steps)" for n in r.probe_names) or "none"))
    print("checkpoints: " + (", ".join(map(str, r.checkpoints)) or "none"))
    return 0
