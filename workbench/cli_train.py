"""`workbench train | runs | show`: the run store from the terminal."""
from __future__ import annotations

import json
import sys
import time

from workbench.errors import SpecError


def train_command(ns, given: dict) -> int:
    from workbench.cli_json import dumps
    from workbench.specs import RunSpec
    from workbench.store import RunLocked, open_run
    from workbench.store.lock import holder
    from workbench.store.run import default_root
    from workbench.train import control, runner
    from workbench.train.build import build_run_model, check_before_start
    from workbench.train.worker import run_worker
    root = ns.runs_dir or default_root()
    if ns.resume is not None:  # "" too: an empty id is refused, never a new default run
        if given or ns.name:
            raise SpecError("--resume", ns.resume, "no spec flags or --name alongside (a run continues with its own spec)")
        r = open_run(ns.resume, root)  # inside the runs root, or refused
        if r.live:
            raise RunLocked(r.id, holder(r.path))
        if r.meta.get("status") == "completed":
            raise SpecError("--resume", r.id, "a run that has not completed (it has: its metrics are final)")
        check_before_start(RunSpec.from_dict(r.spec, name=r.name))
        control.send(r.path, "run")  # a stop left by `workbench stop` would end the resumed run at once
        path = r.path
    else:
        run = RunSpec.from_dict(given, name=ns.name)  # every bad value is caught here, before any write
        check_before_start(run)  # the device exists, the model and batch fit its memory
        build_run_model(run)  # and combinations only a model build can reject (e.g. mamba + a dense init)
        if ns.detach:
            run_id, proc = runner.start(run, root)
            print(dumps({"id": run_id, "pid": proc.pid}) if ns.json else f"started {run_id} (pid {proc.pid})")
            return 0
        path = runner.create(run, root)
    if ns.detach:
        proc = runner.launch(path)
        print(dumps({"id": path.name, "pid": proc.pid}) if ns.json else f"continuing {path.name} (pid {proc.pid})")
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
    print(dumps(summary) if ns.json else _describe(summary))
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
    metrics = ", ".join(f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in s["final_metrics"].items())
    return f"{s['id']}: {s['status']} after {s['steps']} steps in {s['wall_time_s']:.1f} s" + (f"; {metrics}" if metrics else "")


def runs_command(ns) -> int:
    from workbench.cli_json import dumps
    from workbench.store import list_runs, rebuild_index
    from workbench.store.run import default_root
    root = ns.runs_dir or default_root()
    if ns.rebuild:
        import warnings
        damaged = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = rebuild_index(root, skipped=damaged)
        print(f"indexed {n} runs" + (f"; damaged: {', '.join(i for i, _ in damaged)}" if damaged else ""),
              file=sys.stderr)
    filters = {}
    for w in ns.where:
        if "=" not in w:
            raise SpecError("--where", w, "FIELD=VALUE, e.g. model.layer=mamba")
        k, v = w.split("=", 1)
        filters[k] = _typed(v)
    df = list_runs(root, **filters)
    if ns.json:
        print(dumps(df.astype(object).where(df.notna(), None).to_dict(orient="records")))
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
    """Everything is read before the first line is printed; a damaged probe is shown as damaged
    (exit 1) beside the rest, a damaged run.sqlite or spec.json is one error line (exit 2)."""
    from workbench.store import RunDamaged, open_run
    from workbench.store.run import default_root
    r = open_run(ns.run, ns.runs_dir or default_root())
    meta, m, status, last_step = r.meta, r.metrics, r.status, r.last_step
    probes, damaged = [], []
    for n in r.probe_names:
        try:
            probes.append(f"{n} ({len(r.probe_steps(n))} steps)" if r.probe(n).sizes["step"] >= 0 else n)
        except RunDamaged as err:
            probes.append(f"{n} (DAMAGED: {err.why})")
            damaged.append(n)
    lines = [f"{r.id}  ({meta.get('name', r.id)})", f"status: {status}   last step: {last_step}"]
    if meta.get("error"):
        lines.append(f"error: {meta['error']}")
    lines.append("spec: " + json.dumps(r.spec, sort_keys=True))
    if m.sizes.get("step"):
        last = m.isel(step=-1)
        lines.append("last metrics: " + ", ".join(f"{k} {float(last[k]):.4g}" for k in m.data_vars if last[k].notnull()))
    lines.append("probes: " + (", ".join(probes) or "none"))
    lines.append("checkpoints: " + (", ".join(map(str, r.checkpoints)) or "none"))
    print("\n".join(lines))
    if damaged:
        print(f"workbench: run {r.id} is damaged: probes {', '.join(damaged)} unreadable", file=sys.stderr)
        return 1
    return 0
