"""The publication composite of each view: one figure per (run or preview, step, view), built here
for both the dashboard's Export and `workbench export`, so the two write the same files.

`composite` takes the Datasets a view shows (preview names, one step: `probes_at` turns a run's
probes into them exactly as the dashboard does) and lays out the panels that have data, each
titled with the run (or "preview") and the step; a quantity the model lacks is left out, never
drawn as a message. `FigureOptions` sets the printed width (one or two journal columns), the
PNG resolution and the type size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import holoviews as hv
import xarray as xr

from workbench.analysis.preview import preview_name
from workbench.errors import SpecError
from workbench.plots import panels as P
from workbench.plots.figures import (
    kernels_figure,
    memory_figure,
    selective_figure,
    spectrum_figure,
    tokens_figure,
    training_figure,
)

WIDTHS = {"single": 3.5, "double": 7.2}  # inches: one and two columns of a two-column journal page
DPI_RANGE, FONT_RANGE = (50, 1200), (5, 16)
KINDS = ("kernels", "spectrum", "memory", "tokens", "training", "selective")
VIEWS = {"Kernels": "kernels", "Spectrum": "spectrum", "Memory": "memory", "Token dynamics": "tokens"}
VIEWS["Training"] = "training"
HEIGHT = 0.6  # fig height per row over the panel width: with vspace, room for 4 title lines and the x label


@dataclass(frozen=True)
class FigureOptions:
    width: str = "double"  # "single" or "double" column
    dpi: int = 200  # PNG resolution
    font: int = 8  # axis-label size in points; titles one larger, ticks and legends smaller

    @property
    def inches(self) -> float:
        return WIDTHS[self.width]

    @property
    def cols(self) -> int:
        return 1 if self.width == "single" else 2

    def fontsize(self) -> dict:
        f = self.font
        return {"title": f, "labels": f, "xticks": f - 1, "yticks": f - 1, "legend": f - 1, "cticks": f - 1}


def figure_options(width="double", dpi=200, font=8, names=("width", "dpi", "font")) -> FigureOptions:
    """Validated options; `names`: the fields as the caller's user knows them (CLI flags, widgets)."""
    if width not in WIDTHS:
        raise SpecError(names[0], width, "one of " + ", ".join(WIDTHS))
    for name, v, (lo, hi) in ((names[1], dpi, DPI_RANGE), (names[2], font, FONT_RANGE)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise SpecError(name, v, f"an integer from {lo} to {hi}")
    return FigureOptions(width, dpi, font)


def probes_at(probes: dict[str, xr.Dataset], step: int) -> dict[str, xr.Dataset]:
    """A run's stored probes (each along `step`) as the Datasets the views draw at `step`: the
    nearest recorded step at or before it, under the preview's names, plus the poles over steps."""
    out = {}
    for name, ds in probes.items():
        at = ds.sel(step=min(max(int(step), int(ds.step[0])), int(ds.step[-1])), method="pad")
        at.attrs["step"] = int(at.step)
        out[preview_name(name, ds)] = at
    if "spectrum" in probes:
        out["spectrum_steps"] = probes["spectrum"]
    return out


def run_data(run, step=None) -> tuple[dict[str, xr.Dataset], int]:
    """(the views' Datasets, the step) of a stored run at a recorded `step` (None: the latest)."""
    names = run.probe_names
    steps = [int(s) for s in run.probe_steps("kernels" if "kernels" in names else names[0])] if names else []
    if not steps:
        raise SpecError("step", step, "a recorded step (none recorded yet)")
    if step is None:
        step = steps[-1]
    elif int(step) not in steps:
        shown = ", ".join(map(str, steps if len(steps) <= 12 else steps[:5] + ["..."] + steps[-5:]))
        raise SpecError("step", step, f"one of the recorded steps {shown}")
    return probes_at({n: run.probe(n) for n in names}, int(step)), int(step)


def _layer(ds: xr.Dataset | None, layer) -> xr.Dataset | None:
    """One layer of a Dataset with a `layer` dim: `layer`, else the first."""
    if ds is None or "layer" not in ds.dims:
        return ds
    layers = ds["layer"].values.tolist()
    return ds.sel(layer=layer if layer in layers else layers[0])


def _panels(kind: str, data: dict, metrics, step, layer, channels, heat: str, channel: int) -> list:
    get = lambda name: _layer(data.get(name), layer)
    has = lambda name: data.get(name) is not None
    if kind == "training":
        if metrics is None:
            raise SpecError("view", "Training", "a run with recorded metrics (a preview has none)")
        return list(training_figure(metrics, step))
    if kind == "kernels" and has("kernels"):
        return list(kernels_figure(get("kernels"), channels=channels or None))
    if kind == "spectrum" and has("spectrum"):
        return list(spectrum_figure(get("spectrum")))
    if kind == "selective" and has("selective"):
        return list(selective_figure(get("selective")))
    if kind == "memory":
        curve = data.get("memory") if has("memory") and "rho" in data["memory"] else data.get("gradient_memory")
        sel = get("selective")
        heat = (
            heat
            if sel is not None and heat in sel
            else next((v for v in P.SELECTIVE if sel is not None and v in sel), "")
        )
        return [
            P.half_lives(data.get("spectrum")),
            *(list(memory_figure(curve)) if curve is not None else []),
            P.selective(sel, heat),
            P.ess(get("ess")),
            P.state_norms(get("state_norms")),
        ]
    if kind == "tokens":
        sel = get("selective")
        gate = next((v for v in ("forget_gate", "alpha", "input_gate", "a") if sel is not None and v in sel), "")
        return [
            *(list(tokens_figure(data["tokens"])) if has("tokens") else []),
            P.selective(sel, "delta"),
            P.selective(sel, gate),
            P.attention(get("attention"), channel),
        ]
    return []


SOURCES = {  # the Datasets each composite draws, in the order of its panels
    "kernels": ("kernels",),
    "spectrum": ("spectrum",),
    "memory": ("spectrum", "memory", "gradient_memory", "selective", "ess", "state_norms"),
    "tokens": ("tokens", "selective", "attention"),
    "selective": ("selective",),
}


def composite_data(kind: str, data: dict, who: str, step, metrics=None, layer=None) -> xr.Dataset:
    """The data behind `composite(kind, ...)`, one Dataset: each source's variables as `source.var`
    (dims `source.dim`, so sources of different lengths sit side by side); training: the metrics."""
    title = next((t for t, k in VIEWS.items() if k == kind), kind.capitalize())
    attrs = {"view": title, "run": who, "step": -1 if step is None else int(step)}
    if kind == "training":
        return (metrics if metrics is not None else xr.Dataset()).assign_attrs(attrs)
    parts = {}
    for name in SOURCES[kind]:
        ds = data.get(name) if name == "spectrum" and kind == "memory" else _layer(data.get(name), layer)
        for v in [] if ds is None else ds.data_vars:
            da = ds[v].reset_coords(drop=True)  # scalar coords (layer, step) go to attrs
            parts[f"{name}.{v}"] = da.rename({d: f"{name}.{d}" for d in da.dims})
    out = xr.Dataset(parts)
    out.attrs = attrs
    return out


_STEP = re.compile(r"\s*\(step \d+\)|,\s*step \d+")


def composite(
    kind: str,
    data: dict[str, xr.Dataset],
    who: str,
    step: int | None,
    options: FigureOptions = FigureOptions(),
    metrics: xr.Dataset | None = None,
    layer=None,
    channels=None,
    heat: str = "decay_to_end",
    channel: int = 0,
) -> hv.Layout:
    """The figure of view `kind` from its Datasets `data`; `who`: the run id (or "preview")."""
    if kind not in KINDS:
        raise SpecError("figure", kind, "one of " + ", ".join(KINDS))
    panels = [p for p in _panels(kind, data, metrics, step, layer, channels, heat, channel) if p is not None]
    if not panels:
        raise SpecError("figure", kind, f"a view with data for {who} (this model records none of it)")
    subject = who + (f"\nstep {step}" if step is not None and who != "preview" else "")
    if kind == "training" and step is None and metrics is not None and metrics.sizes.get("step"):
        subject = f"{who}\nsteps {int(metrics.step[0])}–{int(metrics.step[-1])}"
    return arrange(panels, subject, options)


def _title(el) -> str:
    for backend in ("matplotlib", "bokeh"):
        t = hv.Store.lookup_options(backend, el, "plot").kwargs.get("title")
        if t:
            return _STEP.sub("", str(t)).strip()
    return ""


def _tick_size(size: int):
    """matplotlib hook: every tick label (minor ones of log axes, the colour bar's) at `size` points,
    where HoloViews' fontsize reaches only the major ticks of the axes."""

    def hook(plot, element) -> None:
        axes = [plot.handles["axis"]] + ([plot.handles["cax"]] if plot.handles.get("cax") is not None else [])
        for ax in axes:
            ax.tick_params(which="both", labelsize=size)

    return hook


def arrange(panels: list, subject: str, options: FigureOptions) -> hv.Layout:
    """Panels in `options.cols` columns over `options.inches`, each titled '<its name>\\n<subject>'."""
    fs = options.fontsize()
    cols = min(options.cols, len(panels))
    rows = -(-len(panels) // cols)
    w = options.inches / cols  # one panel's share of the width
    out = []
    for p in panels:
        title = f"{_title(p)}\n{subject}"
        # inside the axes (outside, a legend would widen the figure past the column): the corner the
        # builder chose for the screen where it chose one (the poles' bottom left), else matplotlib's best
        corner = hv.Store.lookup_options("bokeh", p, "plot").kwargs.get("legend_position", "top_right")
        legend = {"legend_position": corner if corner != "top_right" else "best"} if isinstance(p, hv.Overlay) else {}
        hooks = [*hv.Store.lookup_options("matplotlib", p, "plot").kwargs.get("hooks", []), _tick_size(fs["xticks"])]
        out.append(
            p.opts(title=title, backend="bokeh").opts(
                title=title, fontsize=fs, hooks=hooks, **legend, backend="matplotlib"
            )
        )
    return (
        hv.Layout(out)
        .cols(cols)
        .opts(shared_axes=False, backend="bokeh")
        .opts(
            sublabel_format="",
            fig_inches=(options.inches, rows * w * HEIGHT),
            aspect_weight=0,
            hspace=0.7,
            vspace=0.6,
            backend="matplotlib",
        )
    )
