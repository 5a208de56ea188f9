"""`workbench train | runs | show`: the run store from the terminal."""

from __future__ import annotations

import json
import sys
import time

from workbench.cli_json import dumps
from workbench.errors import SpecError


def train_command(ns, given: dict) -> int:
    from workbench.presets import DEFAULT, load_preset, merge
    from workbench.specs import RunSpec
    from workbench.store import RunLocked, open_run
    from workbench.store.lock import holder
    from workbench.store.run import default_root
    from workbench.train import control, runner
    from workbench.train.build import build_run_model, check_before_start

    root = ns.runs_dir or default_root()
    if ns.resume is not None:  # "" too: an empty id is refused, never a new default run
        if given or ns.name or ns.preset:
            raise SpecError(
                "--resume", ns.resume, "no spec flags, --name or --preset alongside (a run continues with its own spec)"
            )
        r = open_run(ns.resume, root)  # inside the runs root, or refused
        if r.live:
            raise RunLocked(r.id, holder(r.path))
        if r.meta.get("status") == "completed":
            raise SpecError("--resume", r.id, "a run that has not completed (it has: its metrics are final)")
        check_before_start(RunSpec.from_dict(r.spec, name=r.name))
        control.send(r.path, "run")  # a stop left by `workbench stop` would end the resumed run at once
        return _train_paths([r.path], ns, None)
    preset = load_preset(ns.preset or DEFAULT)
    labels = list(preset.runs) if ns.preset else list(preset.runs)[:1]
    if ns.preset_run:
        preset.run_dict(ns.preset_run)  # names the run labels when this one is not among them
        labels = [ns.preset_run]
    runs = []
    for label in labels:  # every bad value is caught here, before any write
        name = ns.name or (f"{preset.name}: {label}" if ns.preset else "")
        run = RunSpec.from_dict(merge(preset.run_dict(label), given), name=name)
        check_before_start(run)  # the device exists, the model and batch fit its memory
        build_run_model(run)  # and combinations only a model build can reject (e.g. mamba + a dense init)
        runs.append(run)
    if ns.detach:
        started = [runner.start(run, root) for run in runs]
        for run_id, proc in started:
            print(
                dumps({"id": run_id, "pid": proc.pid})
                if ns.json and len(started) == 1
                else f"started {run_id} (pid {proc.pid})"
            )
        if ns.json and len(started) > 1:
            print(dumps({"preset": preset.name, "runs": [{"id": i, "pid": p.pid} for i, p in started]}))
        return 0
    return _train_paths([runner.create(run, root) for run in runs], ns, (preset, labels) if ns.preset else None)


def _train_paths(paths: list, ns, preset) -> int:
    """Train each run folder here, in turn; one summary (or, for a preset, one object with every run's)."""
    from workbench.train import runner
    from workbench.train.worker import run_worker

    if ns.detach:
        for path in paths:
            proc = runner.launch(path)
            print(dumps({"id": path.name, "pid": proc.pid}) if ns.json else f"continuing {path.name} (pid {proc.pid})")
        return 0
    from workbench.store import Run

    summaries, finals = [], []
    for path in paths:
        progress = Progress(path.name, total=Run(path).spec.get("train", {}).get("steps"))
        t0 = time.perf_counter()
        try:
            out = run_worker(path, emit_extra=progress)
        except KeyboardInterrupt:
            out = {"status": "stopped", "step": progress.step, "final": {}}
            interrupted = True
        else:
            interrupted = False
        progress.close()
        summary = {
            "id": path.name,
            "status": out["status"],
            "steps": out["step"],
            "final_metrics": {
                k.removeprefix("test/") if k.count("/") == 1 and k.startswith("test/") else k: v
                for k, v in (out.get("final") or {}).items()
                if k != "wall_time_s"
            },
            "wall_time_s": round(time.perf_counter() - t0, 3),
        }
        if out.get("error"):
            summary["error"] = out["error"]
        summaries.append(summary)
        finals.append(out.get("final") or {})
        if not ns.json:
            print(_describe(summary), flush=True)
        if interrupted:
            break
    ok = all(s["status"] in ("completed", "stopped") for s in summaries)
    if preset is None:
        if ns.json:
            print(dumps(summaries[0]))
        return 0 if ok else 1
    p, labels = preset
    finals = dict(zip(labels, finals))
    if p.normalize == "target_power":  # mse / E[y²]: tasks whose targets differ in scale compare fairly
        for label in labels:
            power = target_power(p, label)
            finals[label] = {**finals[label], p.metric: finals[label].get(p.metric, float("nan")) / power}
    verdict = p.separates(finals)
    out = {
        "preset": p.name,
        "metric": p.metric,
        "better": p.better,
        "normalize": p.normalize,
        "expect": p.expect,
        "scores": {label: finals[label].get(p.metric) for label in labels},
        "separates": verdict,
        "runs": {label: s for label, s in zip(labels, summaries)},
    }
    if ns.json:
        print(dumps(out))
    else:
        values = ", ".join(f"{label} {finals[label].get(p.metric, float('nan')):.3g}" for label in labels)
        said = {True: "as the paper says", False: "NOT in the order the paper says", None: "order not checked"}[verdict]
        what = f"{p.metric} / E[y²]" if p.normalize else p.metric
        print(f"{p.name}: {what} ({p.better} is better): {values}; {said}")
    return 0 if ok else 1


def target_power(preset, label: str) -> float:
    """Mean square of the held-out targets where they are scored: the mse of predicting zero."""
    from workbench.specs import RunSpec
    from workbench.tasks import test_batches

    run = RunSpec.from_dict(preset.run_dict(label))
    b = next(iter(test_batches(run.task, min(run.train.batch, 64)).values()))
    return float(b.targets.pow(2).sum(-1)[b.mask].mean())


class Progress:
    """Progress on stderr: step / total, steps per second, ETA, loss and the training metric.

    On a terminal one line is redrawn twice a second; otherwise (a pipe, a log, `--json`) a plain
    line every `every_s` seconds and at the end, so a long run is never silent."""

    def __init__(self, run_id: str, total: int | None = None, every_s: float = 5.0):
        self.run_id, self.every_s, self.step, self.total = run_id, every_s, 0, total
        self.tty = sys.stderr.isatty()
        self._t = self._t0 = time.monotonic()
        self._step0 = None
        self._last = ""

    def __call__(self, e: dict) -> None:
        if e["kind"] != "metrics":
            return
        self.step = e["step"]
        if self._step0 is None:  # the rate counts from the first step seen (a resumed run starts late)
            self._step0, self._t0 = self.step - 1, time.monotonic()
        now = time.monotonic()
        self._last = self.line(e["values"], now)
        if self.tty and now - self._t > 0.5:
            self._t = now
            print("\r" + self._last[:150].ljust(150), end="", file=sys.stderr, flush=True)
        elif not self.tty and now - self._t >= self.every_s:
            self._t = now
            print(self._last, file=sys.stderr, flush=True)

    def line(self, v: dict, now: float) -> str:
        rate = (self.step - self._step0) / max(now - self._t0, 1e-9)
        total = self.total
        where = f"step {self.step}/{int(total)}" if total else f"step {self.step}"
        eta = f"  ETA {format_eta((total - self.step) / rate)}" if total and rate > 0 else ""
        metric = next((f"  {k.split('/')[-1]} {x:.3f}" for k, x in v.items() if k.startswith("train/")), "")
        return f"{self.run_id}  {where}  {rate:.2f} steps/s{eta}  loss {v['loss']:.4f}{metric}"

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)
        elif self._last:
            print(self._last, file=sys.stderr, flush=True)


def format_eta(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _describe(s: dict) -> str:
    metrics = ", ".join(
        f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in s["final_metrics"].items()
    )
    return f"{s['id']}: {s['status']} after {s['steps']} steps in {s['wall_time_s']:.1f} s" + (
        f"; {metrics}" if metrics else ""
    )


def runs_command(ns) -> int:
    import pandas as pd

    from workbench.cli_json import dumps
    from workbench.store import list_runs, rebuild_index
    from workbench.store.examples import example_runs
    from workbench.store.root import live_steps
    from workbench.store.run import default_root

    root = ns.runs_dir or default_root()
    if ns.rebuild:
        import warnings

        damaged = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = rebuild_index(root, skipped=damaged)
        print(
            f"indexed {n} runs" + (f"; damaged: {', '.join(i for i, _ in damaged)}" if damaged else ""), file=sys.stderr
        )
    filters = {}
    for w in ns.where:
        if "=" not in w:
            raise SpecError("--where", w, "FIELD=VALUE, e.g. model.layer=mamba")
        k, v = w.split("=", 1)
        filters[k] = _typed(v)
    df = live_steps(list_runs(root, **filters), root)
    examples = _matching(pd.DataFrame(example_runs()), filters) if ns.examples else pd.DataFrame()
    if ns.json:
        both = pd.concat([df.assign(example=False), examples.assign(example=True)], ignore_index=True)
        print(dumps(both.astype(object).where(both.notna(), None).to_dict(orient="records")))
        return 0
    print(_table(df) if not df.empty else f"no runs in {root}")
    if not examples.empty:
        print("\nshipped example runs (read-only; show and export open them by id):")
        print(_table(examples))
    return 0


def _table(df) -> str:
    df = df.assign(
        step=[f"{s}/{t}" if t == t and t else str(s) for s, t in zip(df["step"], df.get("train.steps", df["step"]))]
    )
    cols = [c for c in ["id", "status", "step", "model.layer", "ssm.init", "task.kind"] if c in df] + [
        c for c in df.columns if c.startswith("final.") and c != "final.wall_time_s"
    ]
    return df[cols].to_string(index=False)


def _matching(df, filters: dict):
    """The example rows whose fields equal the filters (a bare name matches any `*.name` column)."""
    for k, v in filters.items():
        cols = [k] if k in df else [c for c in df.columns if c.endswith("." + k)]
        if df.empty or not cols:
            return df.iloc[0:0]
        df = df[(df[cols] == v).any(axis=1)]
    return df


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
    from workbench.store import RunDamaged
    from workbench.store.examples import open_readable
    from workbench.store.run import default_root

    r = open_readable(ns.run, ns.runs_dir or default_root())
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
        lines.append(
            "last metrics: " + ", ".join(f"{k} {float(last[k]):.4g}" for k in m.data_vars if last[k].notnull())
        )
    lines.append("probes: " + (", ".join(probes) or "none"))
    lines.append("checkpoints: " + (", ".join(map(str, r.checkpoints)) or "none"))
    print("\n".join(lines))
    if damaged:
        print(f"workbench: run {r.id} is damaged: probes {', '.join(damaged)} unreadable", file=sys.stderr)
        return 1
    return 0
