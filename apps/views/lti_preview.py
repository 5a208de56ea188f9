"""Preview of an untrained LTI layer: kernels, poles and eigenvalues, redrawn on every spec edit.

No tensor mathematics here: `workbench.build_layer` and `workbench.analysis` produce Datasets,
`workbench.plots` draws them. Each figure is a `DynamicMap` fed by a `Pipe`, so an edit sends
new data to the existing Bokeh sources instead of rebuilding the layout (PRACTICE.md).
"""
from __future__ import annotations

import holoviews as hv
import panel as pn
import param
import xarray as xr

from workbench.analysis import layer_kernels, layer_spectrum
from workbench.errors import SpecError
from workbench.plots import eigenvalue_plot, kernel_plot, pole_plot
from workbench.specs import SSMSpec
from workbench.ssm.build import build_layer

# Fields that change the untrained layer; learn_a, learn_dt and ssm_lr only matter in training.
PREVIEW_FIELDS = ["init", "d_state", "dt_min", "dt_max", "dt_transform", "a_reparam",
                  "discretization", "r_min", "r_max", "max_phase", "ptd_eps", "seed"]

# Sliders over (0, inf) or (1, 4096) are useless; typed inputs with sensible steps instead.
# d_state stops at 1024 so one keystroke cannot stall the preview (64×4096×1024 complex kernel).
SPEC_WIDGETS = {
    "d_state": {"type": pn.widgets.IntInput, "start": 1, "end": 1024, "step": 2},
    "dt_min": {"type": pn.widgets.FloatInput, "start": 1e-6, "step": 1e-3, "format": "0.[000000]"},
    "dt_max": {"type": pn.widgets.FloatInput, "start": 1e-6, "step": 1e-2, "format": "0.[000000]"},
    "ptd_eps": {"type": pn.widgets.FloatInput, "start": 1e-12, "end": 1.0, "step": 1e-4},
    "seed": {"type": pn.widgets.IntInput, "start": 0},
}


class LTIPreview(pn.viewable.Viewer):
    """Kernel, pole and eigenvalue plots of `build_layer(spec, d_model)`, kept in sync with `spec`."""

    spec = param.ClassSelector(class_=SSMSpec, doc="The layer being previewed; edited in place.")
    d_model = param.Integer(default=64, bounds=(1, 1024), doc="Channels H.")
    length = param.Integer(default=1024, bounds=(2, 16384), doc="Kernel length L.")
    log_abs = param.Boolean(default=False, doc="Show log10|K| (decay rate) instead of K.")

    error = param.String(default="", doc="Message of the last rejected spec; empty when valid.")
    kernels = param.ClassSelector(class_=xr.Dataset, doc="Last good kernels (channel, lag).")
    spectrum = param.ClassSelector(class_=xr.Dataset, doc="Last good spectrum (channel, mode).")

    def __init__(self, spec: SSMSpec | None = None, **params):
        super().__init__(spec=spec if spec is not None else SSMSpec(), **params)
        self._alert = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        if not self.refresh():  # nothing good to keep yet: draw the defaults under the message
            spec, self.spec = self.spec, SSMSpec()
            self.refresh()
            self.spec = spec
            self.refresh()
        # Streams are per view, hence per session: visitors never share data.
        self._kernel_pipe = hv.streams.Pipe(data=self.kernels)
        self._spectrum_pipe = hv.streams.Pipe(data=self.spectrum)
        self.spec.param.watch(self._on_spec, PREVIEW_FIELDS)
        self.param.watch(self._on_spec, ["d_model", "length"])
        self.param.watch(lambda _: self._kernel_pipe.event(data=self.kernels), ["log_abs"])

    def refresh(self) -> bool:
        """Recompute the Datasets from the spec; on SpecError show it and keep the last good data."""
        try:
            layer = build_layer(self.spec, self.d_model)  # validates the spec first
            kernels = layer_kernels(layer, self.length, spec=self.spec)
            spectrum = layer_spectrum(layer, spec=self.spec)
        except SpecError as err:
            self.error = str(err)
        else:
            self.error = ""
            self.param.update(kernels=kernels, spectrum=spectrum)
        self._alert.param.update(object=self.error, visible=bool(self.error))
        return not self.error

    def _on_spec(self, *_events) -> None:
        if self.refresh():
            self._kernel_pipe.event(data=self.kernels)
            self._spectrum_pipe.event(data=self.spectrum)

    def controls(self) -> pn.Column:
        """Sidebar widgets: the spec's own parameters, then the preview's size and display."""
        spec_widgets = pn.Param(self.spec.param, parameters=PREVIEW_FIELDS, widgets=SPEC_WIDGETS,
                                name="SSM", show_name=True, sizing_mode="stretch_width")
        own = pn.Param(self.param, parameters=["d_model", "length", "log_abs"], name="Preview",
                       widgets={"d_model": pn.widgets.IntInput, "length": pn.widgets.IntInput},
                       sizing_mode="stretch_width")
        return pn.Column(spec_widgets, own, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        kernels = hv.DynamicMap(lambda data: kernel_plot(data, log_abs=self.log_abs),
                                streams=[self._kernel_pipe])
        poles = hv.DynamicMap(lambda data: pole_plot(data), streams=[self._spectrum_pipe])
        eigen = hv.DynamicMap(lambda data: eigenvalue_plot(data), streams=[self._spectrum_pipe])
        pane = dict(sizing_mode="stretch_width", min_height=320)
        return pn.Column(
            self._alert,
            pn.pane.HoloViews(kernels, **pane),
            pn.Row(pn.pane.HoloViews(poles, **pane), pn.pane.HoloViews(eigen, **pane),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
