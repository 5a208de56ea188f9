"""Export view: the publication figure of a chosen view as PNG/SVG/PDF/HTML, with the data behind
it (netCDF) and the spec (JSON), downloaded as one zip. The figure is `workbench.plots.composite`'s,
the one `workbench export` writes for the same run, step and view."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import panel as pn
import param

from .base import control_row
from .state import Workbench

FORMATS = ["png", "svg", "pdf", "html"]


class ExportView(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)
    view = param.Selector(default=None, objects=[], doc="Which view to export.")
    formats = param.ListSelector(default=list(FORMATS), objects=FORMATS, doc="Figure formats (plus .nc and .json).")
    width = param.Selector(default="double", objects=["single", "double"], doc="Printed width: journal columns.")
    dpi = param.Integer(default=200, doc="PNG resolution (50 to 1200).")
    font = param.Integer(default=8, doc="Axis-label size in points (5 to 16).")
    title = "Export"

    def __init__(self, state: Workbench, views: dict, **params):
        super().__init__(state=state, **params)
        self._views = views  # title -> view with figures() and dataset()
        self.param.view.objects = list(views)
        if self.view not in views:  # a view named by the caller is kept
            self.view = next(iter(views))
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.download = pn.widgets.FileDownload(
            callback=self._zip,
            filename="export.zip",
            color="primary",
            label="Download the export (zip)",
            embed=False,
            sizing_mode="stretch_width",
        )
        self.param.watch(self._rename, ["view"])
        self._rename()

    def _stem(self) -> str:
        who = self.state.run_id or "preview"
        at = f"-step{self.state.shown_step}" if self.state.run_id else ""
        return f"{self.view.lower().replace(' ', '-')}-{who}{at}"

    def _rename(self, *_):
        self.download.filename = self._stem() + ".zip"

    def files(self, folder: Path) -> list[Path]:
        """Write the export of the chosen view into `folder`; the list of files written."""
        from workbench.plots.composite import VIEWS, composite, composite_data, figure_options
        from workbench.plots.export import export

        options = figure_options(self.width, self.dpi, self.font)
        view, kind, st = self._views[self.view], VIEWS[self.view], self.state
        who = st.run_id or "preview"
        step = st.shown_step if st.run_id else None
        layer = getattr(view, "layer", None)
        knobs = dict(channels=getattr(view, "channels", None), heat=getattr(view, "heat", "decay_to_end"))
        figure = composite(
            kind, st.data, who, step, options, st.metrics, layer, channel=getattr(view, "channel", 0), **knobs
        )
        data = composite_data(kind, st.data, who, step, st.metrics, layer)
        spec = st.open().spec if st.run_id else st.run_spec()
        return export(figure, folder / self._stem(), formats=tuple(self.formats), data=data, spec=spec, dpi=options.dpi)

    def _zip(self) -> io.BytesIO:
        self._rename()
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                written = self.files(Path(tmp))
            except Exception as err:  # show why instead of a silent empty download
                self.message.object = f"Export failed: {type(err).__name__}: {err}"
                raise
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for f in written:
                    z.write(f, f.name)
        self.message.object = "Exported: " + ", ".join(f"`{f.name}`" for f in written)
        buf.seek(0)
        return buf

    def __panel__(self):
        controls = control_row(
            self,
            ["view", "formats", "width", "dpi", "font"],
            {
                "formats": {"type": pn.widgets.CheckBoxGroup, "width": 320},
                "dpi": {"width": 120},
                "font": {"width": 120},
            },
        )
        intro = pn.pane.Markdown(
            "Exports the chosen view as it is now (preview, or the selected run at the "
            "selected step) as one publication figure, the same as `workbench export` writes: "
            "PNG, SVG, PDF (matplotlib) and standalone HTML, with the Datasets drawn (`.nc`) and the "
            "spec (`.json`). Width: one or two journal columns.",
            sizing_mode="stretch_width",
        )
        return pn.Column(intro, controls, self.download, self.message, sizing_mode="stretch_width")
