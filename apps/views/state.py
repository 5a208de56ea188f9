"""One session's state: the spec being edited, the selected run and step, and the Datasets on show.

No Panel here and no tensor mathematics: `workbench.analysis` turns an untrained model into
Datasets (preview), `workbench.store` gives a run's metrics and probes. Every view watches
`version` and redraws from `data`; a fresh `Workbench` per session keeps visitors apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import param
import xarray as xr

from workbench.analysis.stability import stability
from workbench.analysis.text_preview import MAX_TOKENS
from workbench.errors import SpecError
from workbench.presets import default_run
from workbench.specs import ModelSpec, RunSpec, SSMSpec, TaskSpec, TrainSpec, default_ssm
from workbench.store import list_runs, open_run
from workbench.store.examples import EXAMPLES, example_runs
from workbench.store.root import live_steps
from workbench.store.run import default_root as runs_root
from workbench.train.probes import preview_run


def preview_datasets(run: RunSpec, slow: bool = True, model=None) -> dict[str, xr.Dataset]:
    """What the views draw for the untrained model of `run` (the run probes' and the benchmark's function)."""
    return preview_run(run, fast_only=not slow, model=model)


def append_steps(old: xr.Dataset, new: xr.Dataset) -> xr.Dataset:
    """`old` followed by the later steps of `new`, over the union of their variables (NaN where absent)."""
    if not new.sizes.get("step"):
        return old
    n_old, n_new = old.sizes["step"], new.sizes["step"]

    def part(ds, name, n):
        return ds[name].values if name in ds else np.full(n, np.nan)

    names = sorted(set(old.data_vars) | set(new.data_vars))
    return xr.Dataset(
        {n: ("step", np.concatenate([part(old, n, n_old), part(new, n, n_new)])) for n in names},
        coords={"step": np.concatenate([old.step.values, new.step.values])},
        attrs=dict(old.attrs),
    )


class Workbench(param.Parameterized):
    ssm = param.ClassSelector(class_=SSMSpec)
    model = param.ClassSelector(class_=ModelSpec)
    task = param.ClassSelector(class_=TaskSpec)
    train = param.ClassSelector(class_=TrainSpec)

    run_id = param.String(default="", doc="Selected run; empty: preview the spec's untrained model.")
    checkpoint = param.String(
        default="", doc="The opened checkpoint every probe view shows on a text; empty: the spec's model or a run."
    )
    step = param.Integer(default=0, doc="Step every probe view shows (the nearest probed step at or before it).")
    steps = param.List(default=[], doc="Probed steps of the selected run.")
    follow_latest = param.Boolean(default=True, doc="Track the live end of the selected run.")
    data = param.Dict(default={}, doc="name -> Dataset on show (all layers).")
    metrics = param.ClassSelector(class_=xr.Dataset, doc="Scalar metrics of the selected run.")
    error = param.String(default="")
    stability = param.Dict(
        default={}, doc="The shown model's realized max |z| and, when unstable, the field to change."
    )
    version = param.Integer(default=0, doc="Bumped whenever `data` changes; views watch it.")
    probes_wanted = param.Boolean(
        default=True,
        doc="Whether a probe view is open: a followed run's probe arrays are read only then (its steps always).",
    )

    def __init__(self, defer=None, **params):
        quick = default_run()  # the `quick` preset: the same defaults as `workbench train`
        params.setdefault("model", quick.model)
        params.setdefault(
            "ssm", quick.ssm if params["model"].layer == quick.model.layer else default_ssm(params["model"].layer)
        )
        params.setdefault("task", quick.task)
        params.setdefault("train", quick.train)
        super().__init__(**params)
        if defer is not None:  # a served session's scheduler, before the first preview
            self.defer = defer
        self._probes: dict[str, xr.Dataset] = {}
        self._probes_stale = False  # new probes recorded but not read (no probe view open)
        self._seen = (-2, -1)  # (last metric step, probe count) of the selected run already read
        self._quiet = False
        self._generation = 0  # of preview requests: a deferred part of an older one is dropped
        self.changed: set = set()
        self._slow: dict = {}  # the last preview's slow quantities
        self._preview = False  # whether `data` is a preview (else a run's probes)
        self.checkpoint_skipped: dict[str, str] = {}  # preview names left out for an opened checkpoint, and why
        for part in (self.ssm, self.model, self.task):
            part.param.watch(self._on_spec, [p for p in part.param if p not in ("name", "layer")])
        self.model.param.watch(self._on_layer, ["layer"])
        self.refresh()

    # ---- specs and preview -------------------------------------------------------------------
    def run_spec(self) -> RunSpec:
        return RunSpec(ssm=self.ssm, model=self.model, task=self.task, train=self.train).validate()

    def _on_layer(self, event) -> None:
        """A new layer kind starts from its published SSM defaults (Mamba: S4D-Real, softplus Δ)."""
        was, self._quiet = self._quiet, True
        try:
            self.ssm.param.update(**default_ssm(event.new).to_dict())
        finally:
            self._quiet = was
        if not was:  # inside load_spec: it previews once at the end
            self.refresh()

    def load_spec(self, run: RunSpec) -> None:
        """Set every field of the edited spec from `run` (a preset's, a run's), then preview once."""
        self._quiet = True
        try:
            for part in ("model", "ssm", "task", "train"):  # the layer first: it resets the SSM's defaults
                getattr(self, part).param.update(**getattr(run, part).to_dict())
        finally:
            self._quiet = False
        if not self.run_id:
            self.refresh()

    def _on_spec(self, *_events) -> None:
        if not self._quiet and not self.run_id and not self.checkpoint:
            self.refresh()

    def refresh(self) -> bool:
        """Preview the spec's untrained model; on an invalid spec keep the last good pictures.

        Kernels and spectra (milliseconds) are published at once; the quantities that need forward
        and backward passes on the probe input follow through `defer`, so a knob answers at once.
        While a checkpoint is shown it stays on show (False)."""
        from workbench.train.build import build_run_model

        self._generation += 1
        if self.checkpoint:
            return False
        try:
            run = self.run_spec()
            model = build_run_model(run).eval()
            fast = preview_datasets(run, slow=False, model=model)
        except SpecError as err:
            self.error = str(err)
            return False
        except Exception as err:  # a bug below us must not take the session down; show it instead
            self.error = f"{type(err).__name__}: {err}"
            return False
        self.error = ""
        self.stability = stability(fast.get("spectrum"), fast.get("kernels"), run.ssm.discretization, run.ssm.dt_max)
        # until the slow part arrives, the last preview's slow quantities stay on show
        was_preview = self._preview
        self._preview = True
        self._publish({**self._slow, **fast}, changed=set(fast) if was_preview else None)
        generation = self._generation

        def slow():
            if generation != self._generation or self.run_id or self.checkpoint:  # a newer edit, a run took over
                return
            try:
                data = preview_datasets(run, model=model)
            except Exception as err:  # as above: say it, keep the session
                self.error = f"{type(err).__name__}: {err}"
                return
            self._slow = {k: v for k, v in data.items() if k not in fast}
            self._publish(data, changed=set(self._slow))

        self.defer(slow)
        return True

    # ---- an opened checkpoint -----------------------------------------------------------------
    def show_checkpoint(self, model, text: str, name: str, max_tokens: int = MAX_TOKENS) -> None:
        """Every probe view shows `model` (a loaded checkpoint) read on `text` (its first `max_tokens`
        tokens), words on the token axes; a selected run steps aside. SpecError: nothing changes."""
        from workbench.analysis.text_preview import skipped, text_preview

        data = text_preview(model, text, max_tokens=max_tokens)
        L = next(iter(data.values())).attrs["text_tokens"]
        self.checkpoint_skipped = skipped(model, L)  # what the views say instead of drawing
        self._generation += 1  # a pending preview's slow half is dropped
        self._probes, self._seen, self._slow, self._preview = {}, (-2, -1), {}, False
        self.param.update(run_id="", steps=[], metrics=None, error="", checkpoint=name)
        # its poles at rest, reported; no spec field to name as the fix
        self.stability = {**stability(data.get("spectrum")), "field": "", "value": "", "fix": ""}
        self._publish(data)

    def close_checkpoint(self) -> None:
        """Back to the spec's model."""
        if self.checkpoint:
            self.checkpoint = ""
            if not self.run_id:
                self.refresh()

    def defer(self, fn) -> None:
        """Run `fn` soon; served sessions replace this with their event loop's scheduler."""
        fn()

    def _publish(self, data: dict, changed: set | None = None) -> None:
        # views whose sources did not change skip redrawing; by default everything old or new changed
        self.changed = set(data) | set(self.data) if changed is None else changed
        self.data = data
        self.version += 1

    # ---- runs ---------------------------------------------------------------------------------
    def root_of(self, run_id: str) -> Path:
        return EXAMPLES if (EXAMPLES / run_id / "spec.json").exists() else runs_root()

    def is_example(self, run_id: str) -> bool:
        return self.root_of(run_id) == EXAMPLES

    def runs_table(self):
        """The runs root's index and the shipped examples, one DataFrame (column `source`)."""
        import pandas as pd

        try:
            own = live_steps(list_runs(runs_root()), runs_root())
        except (SpecError, OSError) as err:  # an unreadable index: say so, keep the examples on show
            self.error = f"Runs: {err}"
            own = pd.DataFrame()
        ex = pd.DataFrame(example_runs())
        frames = [f.assign(source=s) for f, s in ((own, "runs"), (ex, "example")) if len(f)]
        return (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["id", "name", "status", "step"])
        )

    def select_run(self, run_id: str) -> None:
        """Show a run (its probes at the selected step), or the preview again with ''."""
        self._probes, self._seen = {}, (-2, -1)
        if run_id:  # a run takes the probe views over from an opened checkpoint
            self.checkpoint = ""
        self.param.update(run_id=run_id, steps=[], metrics=None)
        if not run_id:
            self.refresh()
            return
        self.follow_latest = True
        self.poll()

    def open(self):
        return open_run(self.run_id, self.root_of(self.run_id))

    def open_any(self, run_id: str):
        """Any run of the index or the examples (overlays, sweeps), read-only."""
        return open_run(run_id, self.root_of(run_id))

    def poll(self) -> bool:
        """Read what is new of the selected run; True when something changed. Called periodically."""
        if not self.run_id:
            return False
        try:  # a damaged run (RunDamaged is a SpecError) is reported once per change, never raised
            run = self.open()
            last = run.last_step
            names = run.probe_names
            probe_steps = run.probe_steps("kernels" if "kernels" in names else names[0]) if names else []
            seen = (last, len(probe_steps))
            if seen == self._seen:
                return False
            if last != self._seen[0]:
                self.metrics = self._read_metrics(run, last)
            new_probes = len(probe_steps) != self._seen[1]
            if new_probes:
                self._probes_stale = True
                self.steps = [int(s) for s in probe_steps]
                if self.probes_wanted:
                    self._read_probes(run)
        except (SpecError, OSError) as err:
            self._seen = (-3, -3)
            if self.error != str(err):
                self.error = str(err)
            return False
        self._seen = seen
        if self.follow_latest and self.steps and self.step != self.steps[-1]:
            self.step = self.steps[-1]  # publishes through show_step
        elif new_probes:  # publish once, and only what is new: views redraw on every publication
            self.show_step()
        return True

    def _read_metrics(self, run, last: int) -> xr.Dataset:
        """The run's metrics: only the steps after those on show are read while the run grows (a
        whole re-read each second grew with the history); all of them when it went back (a resume)."""
        old = self.metrics
        if old is None or not old.sizes.get("step") or last < int(old.step.values[-1]):
            return run.metrics
        return append_steps(old, run.metrics_after(int(old.step.values[-1])))

    @property
    def shown_step(self) -> int | None:
        """The probed step actually on show (the nearest at or before `step`)."""
        steps = [s for s in self.steps if s <= self.step]
        return steps[-1] if steps else (self.steps[0] if self.steps else None)

    def _read_probes(self, run=None) -> None:
        run = self.open() if run is None else run
        self._probes = {n: run.probe(n) for n in run.probe_names}
        self._probes_stale = False

    @param.depends("probes_wanted", watch=True)
    def _on_wanted(self) -> None:
        if self.probes_wanted and self.run_id:  # the step may have moved while no probe view was open
            if self._probes_stale:
                try:
                    self._read_probes()
                except (SpecError, OSError) as err:
                    self.error = str(err)
                    return
            self.show_step()

    @param.depends("step", watch=True)
    def show_step(self) -> None:
        """Publish every probe at the nearest recorded step at or before `step`."""
        if not self.run_id or not self._probes or not self.probes_wanted:
            return
        from workbench.plots.composite import probes_at  # what `workbench export` draws at a step, too

        out = probes_at(self._probes, self.step)
        ssm = (self.open().spec.get("ssm") or {}) if self.run_id else {}
        self.stability = stability(
            out.get("spectrum"), out.get("kernels"), ssm.get("discretization", ""), ssm.get("dt_max")
        )
        self._preview = False
        self._publish(out)
