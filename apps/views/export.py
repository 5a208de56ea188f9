"""Export view: the figures of a chosen view as PNG/SVG/PDF/HTML, with the data behind them
(netCDF) and the spec (JSON), written by `workbench.plots.export` and downloaded as one zip."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import holoviews as hv
import panel as pn
import param

from .base import control_row
from .state import Workbench

FORMATS = ["png", "svg", "pdf", "html"]


class ExportView(pn.viewable.Viewer):
    state = param.ClassSelector(class_=Workbench)
    view = param.Selector(default=None, objects=[], doc="Which view to export.")
    formats = param.ListSelector(default=list(FORMATS), objects=FORMATS, doc="Figure formats (plus .nc and .json).")
    title = "Export"

    def __init__(self, state: Workbench, views: dict, **params):
        super().__init__(state=state, **params)
        self._views = views  # title -> view with figures() and dataset()
        self.param.view.objects = list(views)
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
        at = f"-step{self.state.step}" if self.state.run_id else ""
        return f"{self.view.lower().replace(' ', '-')}-{who}{at}"

    def _rename(self, *_):
        self.download.filename = self._stem() + ".zip"

    def files(self, folder: Path) -> list[Path]:
        """Write the export of the chosen view into `folder`; the list of files written."""
        from workbench.plots.export import export

        view = self._views[self.view]
        figs = [f for f in view.figures().values()]
        figure = figs[0] if len(figs) == 1 else hv.Layout(figs).cols(2)
        spec = self.state.open().spec if self.state.run_id else self.state.run_spec()
        return export(figure, folder / self._stem(), formats=tuple(self.formats), data=view.dataset(), spec=spec)

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
        controls = control_row(self, ["view", "formats"], {"formats": {"type": pn.widgets.CheckBoxGroup, "width": 320}})
        intro = pn.pane.Markdown(
            "Exports the chosen view as it is now (preview, or the selected run at the "
            "selected step): figures through the matplotlib backend (PNG, SVG, PDF) and "
            "standalone HTML, with the Datasets drawn (`.nc`) and the spec (`.json`).",
            sizing_mode="stretch_width",
        )
        return pn.Column(intro, controls, self.download, self.message, sizing_mode="stretch_width")
