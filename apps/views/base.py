"""Shared plumbing of the probe views: redraw on every new `Workbench.data`, pick a layer."""
from __future__ import annotations

import holoviews as hv
import panel as pn
import param
import xarray as xr

from apps.views.state import Workbench

# linked_axes off: Panel links equally named axes across panes, which mixes unrelated plots' ranges
PANE = dict(sizing_mode="stretch_width", min_height=320, linked_axes=False)


def control_row(obj: param.Parameterized, names: list[str], widgets: dict | None = None) -> pn.Param:
    """A view's knobs in a wrapping row of fixed-width widgets: a plain Row of stretching widgets
    gets each one's default 300 px as a minimum and pushes the page wider than the window."""
    sized = {n: {"width": 200, **(widgets or {}).get(n, {})} for n in names}
    return pn.Param(obj.param, parameters=names, widgets=sized, show_name=False, default_layout=pn.FlexBox,
                    sizing_mode="stretch_width")


def at_layer(ds: xr.Dataset | None, layer) -> xr.Dataset | None:
    """One layer of a Dataset with a `layer` dim (the first when `layer` is not among them)."""
    if ds is None or "layer" not in ds.dims:
        return ds
    layers = list(ds["layer"].values)
    out = ds.sel(layer=layer) if layer in layers else ds.isel(layer=0)
    out.attrs = dict(ds.attrs)
    return out


class ProbeView(pn.viewable.Viewer):
    """A view of `state.data`: subclasses list their figures in `figures()`; panes follow `version`."""

    state = param.ClassSelector(class_=Workbench)
    layer = param.Selector(default=0, objects=[0], doc="Which block's mixer to show.")
    title = "View"
    controls_params: list[str] = ["layer"]

    def __init__(self, state: Workbench, **params):
        super().__init__(state=state, **params)
        self._panes: dict[str, pn.pane.HoloViews] = {}
        self._note = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        state.param.watch(self._on_data, ["version"])
        self.param.watch(self._redraw, [p for p in self.controls_params])
        self._sync_layers()
        self._redraw()

    def _layers_source(self) -> list:
        """Layer indices offered by the picker: those of the view's main Dataset."""
        for ds in self.state.data.values():
            if "layer" in ds.dims:
                return [int(v) for v in ds["layer"].values]
        return [0]

    def _sync_layers(self) -> None:
        layers = self._layers_source()
        self.param.layer.objects = layers
        if self.layer not in layers:
            self.layer = layers[0]

    def get(self, name: str, layer=True) -> xr.Dataset | None:
        ds = self.state.data.get(name)
        return at_layer(ds, self.layer) if layer else ds

    def figures(self) -> dict[str, hv.core.Dimensioned]:
        raise NotImplementedError

    def note(self) -> str:
        return ""

    def dataset(self) -> xr.Dataset:
        """What the view shows, for export: its Datasets merged with a prefix per source."""
        parts = {}
        for name in self.sources:
            ds = self.get(name)
            if ds is not None:
                for v in ds.data_vars:
                    da = ds[v].reset_coords(drop=True)  # scalar coords (layer, step) go to attrs below
                    parts[f"{name}.{v}"] = da.rename({d: f"{name}.{d}" for d in da.dims})
        out = xr.Dataset(parts)
        out.attrs = {"view": self.title, "run": self.state.run_id or "(preview)", "layer": int(self.layer),
                     "step": int(self.state.step)}
        return out

    sources: list[str] = []

    def _on_data(self, *_events) -> None:
        if self.state.changed & set(self.sources):  # e.g. the slow half of a preview leaves kernels alone
            self._redraw()

    def _redraw(self, *_events) -> None:
        self._sync_layers()
        for name, fig in self.figures().items():
            if name in self._panes:
                self._panes[name].object = fig
            else:
                self._panes[name] = pn.pane.HoloViews(fig, **PANE)
        self._note.object = self.note()

    def controls(self) -> pn.viewable.Viewable:
        return control_row(self, self.controls_params)

    def layout(self) -> list:
        """Rows of pane names; subclasses may arrange them."""
        names = list(self._panes)
        return [names[i:i + 2] for i in range(0, len(names), 2)]

    def __panel__(self) -> pn.viewable.Viewable:
        rows = [pn.Row(*[self._panes[n] for n in row], sizing_mode="stretch_width") for row in self.layout()]
        return pn.Column(self.controls(), self._note, *rows, sizing_mode="stretch_width")
