"""Runs view: the run index as a table, filters and grouping by a spec field, selected runs
overlaid; and the run controls (train the current spec, pause, resume, stop, delete).

Runs live in their own processes (`workbench.train.runner`), so closing a tab never stops one.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import panel as pn
import param
import xarray as xr

from workbench.analysis.compare import final_by_field, group_curves, short_labels
from workbench.errors import SpecError
from workbench.plots.views_runs import final_vs_field_view, group_band_view
from workbench.plots.views_training import runs_curve_view, runs_metric_view
from workbench.train import runner

from .base import PANE, control_row
from .lengths import LengthsPane
from .state import Workbench
from .sweeps import SweepView

# Workers started here; polled now and then so finished ones do not linger as zombies.
_CHILDREN: list = []
KEY_FIELDS = ["model.layer", "ssm.init", "task.kind", "model.d_model", "model.n_layers", "train.steps"]


def reap() -> None:
    _CHILDREN[:] = [p for p in _CHILDREN if p.poll() is None]


class RunControls(pn.viewable.Viewer):
    """Train the spec being edited; steer or delete the selected run (examples are read-only)."""

    state = param.ClassSelector(class_=Workbench)

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        self.train = pn.widgets.Button(label="Train this spec", color="primary", sizing_mode="stretch_width")
        self.preview = pn.widgets.Button(label="Back to preview", sizing_mode="stretch_width")
        self.pause, self.resume, self.stop = (pn.widgets.Button(label=n, width=70) for n in ("Pause", "Resume", "Stop"))
        self.delete = pn.widgets.Button(label="Delete", color="danger", width=70)
        self.confirm = pn.widgets.Button(
            label="Really delete?", color="danger", visible=False, sizing_mode="stretch_width"
        )
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.train.on_click(lambda _: self.start())
        self.preview.on_click(lambda _: state.select_run(""))
        for b, verb in ((self.pause, "pause"), (self.resume, "resume"), (self.stop, "stop")):
            b.on_click(lambda _, verb=verb: self.control(verb))
        self.delete.on_click(lambda _: self.confirm.param.update(visible=bool(state.run_id)))
        self.confirm.on_click(lambda _: self.remove())
        state.param.watch(self._enable, ["run_id"])
        self._enable()

    def _enable(self, *_):
        own = bool(self.state.run_id) and not self.state.is_example(self.state.run_id)
        for b in (self.pause, self.resume, self.stop, self.delete):
            b.disabled = not own
        self.preview.disabled = not self.state.run_id
        self.confirm.visible = False

    def start(self) -> str | None:
        """Start the edited spec as a run in its own process and follow it."""
        try:
            run_id, proc = runner.start(self.state.run_spec(), self.state.root_of(""))
        except SpecError as err:
            self.message.object = f"Not started: {err}"
            return None
        _CHILDREN.append(proc)
        self.message.object = f"Started **{run_id}**."
        self.state.select_run(run_id)
        return run_id

    def control(self, verb: str) -> None:
        run_id = self.state.run_id
        try:
            said, proc = runner.act(verb, run_id, self.state.root_of(run_id))
        except (SpecError, OSError) as err:
            self.message.object = str(err)
            return
        if proc is not None:
            _CHILDREN.append(proc)
        self.message.object = said

    def remove(self) -> None:
        run_id = self.state.run_id
        if run_id and not self.state.is_example(run_id):
            from workbench.store import delete_run

            try:
                delete_run(run_id, self.state.root_of(run_id))
            except (SpecError, OSError) as err:  # a live run, a read-only store
                self.message.object = f"Not deleted: {err}"
                return
            self.message.object = f"Deleted {run_id}."
            self.state.select_run("")

    def __panel__(self):
        return pn.Column(
            self.train,
            pn.Row(self.pause, self.resume, self.stop, self.delete),
            self.confirm,
            self.preview,
            self.message,
            sizing_mode="stretch_width",
        )


class RunsView(pn.viewable.Viewer):
    """The run index (own runs and shipped examples) with filter, grouping and overlays."""

    state = param.ClassSelector(class_=Workbench)
    field = param.Selector(default="model.layer", objects=KEY_FIELDS, doc="Spec field to filter and group by.")
    value = param.Selector(default="(all)", objects=["(all)"], doc="Keep runs whose field equals this.")
    group = param.Boolean(
        default=False, doc="Group by the field: table rows, and the metric as mean ± std over each group's runs."
    )
    metric = param.Selector(default="loss", objects=["loss"], doc="Metric overlaid for the selected runs.")
    final = param.Selector(
        default=None, objects=[], doc="Final metric drawn against the field (the ticked runs, or all runs shown)."
    )
    title = "Runs"

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        self._df = self._shown = None  # the index; the rows the table shows (filtered)
        self._signature = None
        self.table = pn.widgets.Tabulator(
            None,
            selectable="checkbox",
            disabled=True,
            show_index=False,
            pagination=None,
            height=260,
            sizing_mode="stretch_width",
        )
        self.table.param.watch(self._on_select, ["selection"])
        self.table.on_click(self._on_click)
        self._overlay = pn.pane.HoloViews(runs_metric_view({}), **PANE)
        self._memory = pn.pane.HoloViews(runs_curve_view({}, "Memory at the last probe"), **PANE)
        self._final = pn.pane.HoloViews(final_vs_field_view(xr.Dataset()), **PANE)
        self._data: dict[str, xr.Dataset] = {}  # what the comparison figures draw, for the export
        self.download = pn.widgets.FileDownload(
            callback=self._zip,
            filename="runs-comparison.zip",
            label="Download the comparison (zip: PNG, SVG, PDF, data, specs)",
            embed=False,
            width=420,
        )
        self.sweeps = SweepView(state)
        # damaged and killed runs are named here; the selected run's read error too
        self.notice = pn.pane.Alert(
            "", alert_type="warning", visible=False, sizing_mode="stretch_width", css_classes=["runs-notice"]
        )
        self._damaged = ""
        state.param.watch(lambda _: self._show_notice(), ["error", "run_id"])
        self.lengths = LengthsPane(state)
        self.param.watch(self._show_table, ["field", "value", "group"])
        self.param.watch(lambda _: self._draw_overlays(), ["metric", "group", "field"])
        self.param.watch(lambda _: self._draw_final(), ["final"])
        self.refresh()

    def refresh(self) -> bool:
        """Re-read the index when a run was added, removed or moved on; called periodically."""
        reap()
        df = self.state.runs_table()
        sig = tuple(map(tuple, df[["id", "status", "step"]].astype(str).values)) if len(df) else ()
        if sig == self._signature:
            return False
        self._signature, self._df = sig, df
        bad = df[df["status"].isin(["damaged", "missing"])]["id"].tolist() if len(df) else []
        self._damaged = f"Damaged: {', '.join(bad)} (files unreadable; the other runs are shown)" if bad else ""
        self._show_notice()
        # any spec field (and the sweep) can filter and group; the usual suspects first
        spec = sorted(
            c for c in df.columns if c.split(".")[0] in ("model", "ssm", "task", "train") and c not in KEY_FIELDS
        )
        fields = [f for f in KEY_FIELDS if f in df] + (["sweep"] if "sweep" in df else []) + spec or KEY_FIELDS
        self.param.field.objects = fields
        self._show_table()
        self.sweeps.update(df)
        return True

    def _show_notice(self) -> None:
        err = self.state.error if self.state.run_id and self.state.run_id in self.state.error else ""
        text = "  \n".join(t for t in (self._damaged, err) if t)
        self.notice.param.update(object=text, visible=bool(text))

    def _show_table(self, *_):
        df = self._df
        if df is None or not len(df):
            self.table.value = None
            return
        values = ["(all)"] + sorted(map(str, df[self.field].dropna().unique())) if self.field in df else ["(all)"]
        self.param.value.objects = values
        if self.value not in values:
            self.value = "(all)"
        if self.value != "(all)":
            df = df[df[self.field].astype(str) == self.value]
        finals = [c for c in df.columns if c.startswith("final.") and "time" not in c and "tokens_per_s" not in c]
        shown = dict.fromkeys(["source", "id", "name", "status", "step", "sweep", self.field, *KEY_FIELDS, *finals])
        cols = [c for c in shown if c in df]
        keep = set(self.selected_ids())
        self.table.groupby = [self.field] if self.group and self.field in cols else []
        self.table.value = df[cols].reset_index(drop=True)
        self.table.selection = [i for i, r in enumerate(self.table.value["id"]) if r in keep]
        self._shown = df
        self.param.final.objects = finals
        if self.final not in finals:
            self.final = next((f for f in finals if "accuracy" in f), finals[0] if finals else None)
        self._draw_final()

    def selected_ids(self) -> list[str]:
        v = self.table.value
        return [v["id"].iloc[i] for i in self.table.selection if v is not None and i < len(v)]

    def _on_click(self, event) -> None:
        """A click on a row's data (not its checkbox) opens that run."""
        v = self.table.value
        if v is None or event.row is None or event.row >= len(v) or event.column not in v.columns:
            return
        run_id = str(v["id"].iloc[event.row])
        if run_id != self.state.run_id:
            self.state.select_run(run_id)

    def _on_select(self, *_):
        ids = self.selected_ids()
        if len(ids) == 1 and ids[0] != self.state.run_id:
            self.state.select_run(ids[0])
        self._draw_overlays()

    def _rows(self, ids: list[str]):
        df = self._df
        return df[df["id"].isin(ids)] if df is not None and len(df) else None

    def _draw_overlays(self):
        ids = self.selected_ids()
        rows = self._rows(ids)
        labels = short_labels(rows) if rows is not None and len(rows) else {}
        metrics, memory = {}, {}
        for run_id in ids:
            try:  # a damaged run is left out of the overlays (its row says damaged)
                run = self.state.open_any(run_id)
                metrics[run_id] = run.metrics
                if "memory" in run.probe_names:
                    ds = run.probe("memory").isel(step=-1)
                    var = "rho" if "rho" in ds else "grad_norm"
                    da = ds[var]
                    mean = da.mean([d for d in da.dims if d != "lag"]) if da.ndim > 1 else da
                    memory[labels.get(run_id, run_id)] = mean
            except (SpecError, OSError):
                metrics.pop(run_id, None)
        names = sorted({n for m in metrics.values() for n in m.data_vars}) or ["loss"]
        self.param.metric.objects = names
        if self.metric not in names:
            self.metric = "loss" if "loss" in names else names[0]
        if self.group and rows is not None and self.field in rows:
            groups = dict(zip(rows["id"], rows[self.field]))
            bands = self._data["curves"] = group_curves(metrics, groups, self.metric)
            self._overlay.object = group_band_view(bands, field=self.field)
        else:
            self._data["curves"] = xr.Dataset(
                {labels.get(k, k): m[self.metric] for k, m in metrics.items() if self.metric in m}
            )
            self._overlay.object = runs_metric_view({labels.get(k, k): m for k, m in metrics.items()}, self.metric)
        self._memory.object = runs_curve_view(
            memory, "Memory at the last probe (mean over channels)", ylabel="memory function"
        )
        self.lengths.update(ids)
        self._draw_final()

    def _draw_final(self):
        """The final metric against the field: the ticked runs, or every run shown when fewer are ticked."""
        ids = self.selected_ids()
        rows = self._rows(ids) if len(ids) >= 2 else self._shown
        if rows is None or not self.final or self.field not in rows or self.final not in rows:
            self._final.object = final_vs_field_view(xr.Dataset())
            return
        try:
            ds = final_by_field(rows, self.field, self.final)
        except (KeyError, TypeError):  # a field whose values cannot be grouped (lists): nothing to draw
            ds = xr.Dataset()
        self._data["final"] = ds
        self._final.object = final_vs_field_view(ds)

    def files(self, folder: Path) -> list[Path]:
        """The comparison figure of the ticked runs (PNG, SVG, PDF), its data (.nc) and their specs (.json)."""
        from workbench.plots.comparison import comparison_figure
        from workbench.plots.export import export

        ids = self.selected_ids()
        figure = comparison_figure([self._overlay.object, self._final.object, self._memory.object], f"{len(ids)} runs")
        data = xr.Dataset(
            {
                f"{part}.{v}": d[v].rename({k: f"{part}.{k}" for k in d[v].dims})
                for part, d in self._data.items()
                for v in d.data_vars
            }
        )
        data.attrs = {"runs": ", ".join(ids), "field": self.field, "metric": self.metric, "final": str(self.final)}
        specs = {rid: self.state.open_any(rid).spec for rid in ids}
        return export(
            figure, folder / "runs-comparison", formats=("png", "svg", "pdf"), data=data, spec={"runs": specs}
        )

    def _zip(self) -> io.BytesIO:
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w") as z:
            for f in self.files(Path(tmp)):
                z.write(f, f.name)
        buf.seek(0)
        return buf

    def __panel__(self):
        controls = control_row(self, ["field", "value", "group", "metric", "final"])
        return pn.Column(
            controls,
            self.notice,
            self.table,
            pn.Row(self._overlay, self._memory, sizing_mode="stretch_width"),
            pn.Row(self._final, sizing_mode="stretch_width"),
            self.download,
            pn.panel(self.lengths),
            self.sweeps,
            sizing_mode="stretch_width",
        )
