"""Shared plumbing of the probe views: redraw on every new `Workbench.data`, pick a layer."""

from __future__ import annotations

import holoviews as hv
import panel as pn
import param
import xarray as xr

from ..compat import (
    apply as apply_patches,
    in_place,  # noqa: F401  re-exported for the views
)
from .state import Workbench

# linked_axes off: Panel links equally named axes across panes, which mixes unrelated plots' ranges
PANE = dict(sizing_mode="stretch_width", min_height=320, linked_axes=False)


def control_row(obj: param.Parameterized, names: list[str], widgets: dict | None = None) -> pn.Param:
    """A view's knobs in a wrapping row of fixed-width widgets: a plain Row of stretching widgets
    gets each one's default 300 px as a minimum and pushes the page wider than the window."""
    sized = {n: {"width": 200, **(widgets or {}).get(n, {})} for n in names}
    return pn.Param(
        obj.param,
        parameters=names,
        widgets=sized,
        show_name=False,
        default_layout=pn.FlexBox,
        sizing_mode="stretch_width",
    )


def at_layer(ds: xr.Dataset | None, layer) -> xr.Dataset | None:
    """One layer of a Dataset with a `layer` dim (the first when `layer` is not among them)."""
    if ds is None or "layer" not in ds.dims:
        return ds
    layers = list(ds["layer"].values)
    out = ds.sel(layer=layer) if layer in layers else ds.isel(layer=0)
    out.attrs = dict(ds.attrs)
    return out


def pane_options(fig) -> dict:
    """PANE, but a fixed-size pane for a figure with a fixed frame (the z-plane's square): a stretching
    pane resizes such a figure when its object is replaced, and the page then clips its canvas."""
    fixed = "frame_width" in hv.Store.lookup_options("bokeh", fig, "plot").kwargs
    return dict(PANE, sizing_mode="fixed") if fixed else PANE


def _plot_opts(obj) -> tuple:
    kw = hv.Store.lookup_options("bokeh", obj, "plot").kwargs
    # tick labels too: a pipe event updates the data, not the axes' words (a checkpoint's text)
    keys = ("logx", "logy", "colorbar", "invert_yaxis", "xticks", "yticks", "cticks")
    return tuple(sorted((k, repr(v)) for k, v in kw.items() if k in keys))


def structure(fig) -> tuple:
    """What an in-place update cannot change: the elements' kinds, names and dimensions (axis labels,
    legend entries, glyphs) and axis types. Equal structures redraw in place; others rebuild."""
    leaves = list(fig.values()) if isinstance(fig, hv.Overlay) else [fig]
    return (
        type(fig).__name__,
        _plot_opts(fig),
        tuple(
            (type(e).__name__, e.group, e.label, tuple(d.pprint_label for d in e.dimensions()), _plot_opts(e))
            for e in leaves
        ),
    )


def framewise(data):
    """The figure itself: the DynamicMap's callback (ranges follow each update: `FRAMEWISE`)."""
    return data


class ProbeView(pn.viewable.Viewer):
    """A view of `state.data`: subclasses list their figures in `figures()`; panes follow `version`."""

    state = param.ClassSelector(class_=Workbench)
    layer = param.Selector(default=0, objects=[0], doc="Which block's mixer to show.")
    on_screen = param.Boolean(default=True, doc="Whether the view's tab is open: hidden views redraw when opened.")
    title = "View"
    controls_params: list[str] = ["layer"]

    def __init__(self, state: Workbench, **params):
        apply_patches()  # framewise ranges and in-place updates (idempotent)
        super().__init__(state=state, **params)
        self._panes: dict[str, pn.pane.HoloViews] = {}
        self._pipes: dict[str, hv.streams.Pipe] = {}
        self._keys: dict[str, tuple] = {}  # structure() of what each pane's plot was built for
        self._figs: dict = {}
        self._pending = False
        self._stale = False  # new data arrived while the view was hidden
        self.param.watch(self._on_screen, ["on_screen"])
        self._note = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        state.param.watch(self._on_data, ["version"])
        self.param.watch(self._redraw, [p for p in self.controls_params])
        self._body: pn.Column | None = None  # the view's layout, once shown (panes join it when first drawn)
        self._sync_layers()
        if self.on_screen:
            self._redraw()
        else:  # built for a tab that is not open: its figures are drawn when the tab opens
            self._stale = True

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
        out.attrs = {
            "view": self.title,
            "run": self.state.run_id or "(preview)",
            "layer": int(self.layer),
            "step": int(self.state.step),
        }
        return out

    sources: list[str] = []

    urgent = False  # redrawn in the callback that changed the data; the others in the next one

    def _on_data(self, *_events) -> None:
        if not self.state.changed & set(self.sources):  # e.g. the slow half of a preview leaves kernels alone
            return
        if not self.on_screen:  # a followed run publishes every second: draw only what is looked at
            self._stale = True
        elif self.urgent:
            self._redraw()
        elif not self._pending:  # the urgent view's data goes out to the page before this one is drawn
            self._pending = True
            self.state.defer(self._redraw)

    def _on_screen(self, event) -> None:
        if event.new and self._stale:
            self._redraw()

    def _redraw(self, *_events) -> None:
        self._stale = False
        with in_place():
            rebuilt = self._draw()
        # New Bokeh models outside the outer freeze: Bokeh themes a model when it joins the document,
        # which inside the freeze happens after Panel has sent it (titles came out unstyled).
        for name, (fig, key) in rebuilt.items():
            self._panes[name].object = self._stream_of(name, fig, key)
        if self._body is not None and len(self._body) - 2 != len(self.layout()):  # first drawn after shown
            self._body[2:] = self._rows()

    def _draw(self) -> dict:
        """Update every figure whose structure is unchanged in place; return the others (name: (fig, key))."""
        self._pending = False
        self._sync_layers()
        rebuilt = {}
        for name, fig in self.figures().items():
            self._figs[name] = fig
            key = structure(fig)
            if name not in self._panes:
                self._panes[name] = pn.pane.HoloViews(self._stream_of(name, fig, key), **pane_options(fig))
            elif key == self._keys[name]:
                self._pipes[name].event(data=fig)  # in place: new source data, no new Bokeh models
            else:
                rebuilt[name] = fig, key
        note = self.note()
        if note != self._note.object:  # a Markdown update restyles its model, which rebuilds the graph
            self._note.object = note
        return rebuilt

    def _stream_of(self, name: str, fig, key: tuple) -> hv.DynamicMap:
        """A DynamicMap that redraws `name` from a Pipe: replacing a pane's object builds new Bokeh
        models, and every new model makes the server recompute the whole document's references
        (about 0.3 s per figure on 1700 models), while a Pipe event only sends new source data."""
        self._pipes[name], self._keys[name] = hv.streams.Pipe(data=fig), key
        return hv.DynamicMap(framewise, streams=[self._pipes[name]])

    def shown(self, name: str):
        """The HoloViews object last drawn as figure `name`."""
        return self._figs[name]

    def controls(self) -> pn.viewable.Viewable:
        return control_row(self, self.controls_params)

    def layout(self) -> list:
        """Rows of pane names; subclasses may arrange them."""
        names = list(self._panes)
        return [names[i : i + 2] for i in range(0, len(names), 2)]

    def _rows(self) -> list[pn.Row]:
        return [pn.Row(*[self._panes[n] for n in row], sizing_mode="stretch_width") for row in self.layout()]

    def __panel__(self) -> pn.viewable.Viewable:
        if self._body is None:
            self._body = pn.Column(self.controls(), self._note, *self._rows(), sizing_mode="stretch_width")
        return self._body
