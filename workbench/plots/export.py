"""Publication export: one figure as PNG/SVG/PDF (matplotlib backend, no browser) and standalone
HTML (Bokeh, inline resources), beside the data (`.nc`) and the configuration (`.json`) behind it.

Only scipy's netCDF3 writer is installed. It cannot store int64, bool, unsigned or complex arrays,
dicts or booleans as attributes, or names holding '/'. `to_netcdf3` converts those and records each
conversion in attrs (keys starting `wb_`), and `open_data` undoes them, so a round trip gives the
same values, dtypes and names.
"""

from __future__ import annotations

import json
from pathlib import Path

import holoviews as hv
import numpy as np
import xarray as xr

from workbench.errors import SpecError

FORMATS = ("png", "svg", "pdf", "html")
DPI = 200  # PNG resolution: a 4.5 in panel is 900 px wide
_INT32 = np.iinfo(np.int32)


def _renderers() -> None:
    """Register both renderers without changing the caller's current backend (importing a
    plotting module first switches the default only when it is the first one registered)."""
    current = hv.Store.current_backend
    import holoviews.plotting.bokeh  # noqa: F401
    import holoviews.plotting.mpl  # noqa: F401

    hv.Store.set_current_backend(current)


def check_formats(formats) -> tuple[str, ...]:
    """Normalise `formats` (a name or names, any case, optional dot) or raise naming `formats`."""
    if isinstance(formats, str):
        formats = (formats,)
    try:
        fmts = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    except TypeError:
        raise SpecError("formats", formats, "one or more of " + ", ".join(FORMATS)) from None
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise SpecError("formats", bad[0] if bad else list(formats), "one or more of " + ", ".join(FORMATS))
    return fmts


def export(figure, path, formats=FORMATS, data: xr.Dataset | None = None, spec=None, dpi: int = DPI) -> list[Path]:
    """Write `<path>.<fmt>` for each format, `<path>.nc` when `data` is given and `<path>.json`
    when a spec is known (`spec`, else the JSON spec recorded in `data.attrs['spec']`).
    The same figure gives the same bytes every time (no dates, fixed SVG ids); `dpi`: the PNG's.
    `path` is a stem: a suffix that names a format is dropped. Returns the files written."""
    fmts = check_formats(formats)
    stem = Path(path)
    if stem.suffix.lstrip(".").lower() in FORMATS + ("nc", "json"):
        stem = stem.with_suffix("")
    spec_dict = spec_to_dict(spec if spec is not None else (data.attrs.get("spec") if data is not None else None))
    nc = to_netcdf3(data) if data is not None else None  # fail on the data before writing anything
    stem.parent.mkdir(parents=True, exist_ok=True)
    _renderers()
    current = hv.Store.current_backend
    written = []
    try:
        for fmt in fmts:
            out = stem.with_name(f"{stem.name}.{fmt}")
            if fmt == "html":
                _save_html(figure, out, stem.name)
            else:
                _save_matplotlib(figure, out, fmt, dpi)
            written.append(out)
    except BaseException:
        for f in written + [stem.with_name(f"{stem.name}.{fmt}") for fmt in fmts]:  # no half export left
            f.unlink(missing_ok=True)
        raise
    finally:
        hv.Store.set_current_backend(current)
        _close_matplotlib()
    if nc is not None:
        written.append(stem.with_name(stem.name + ".nc"))
        nc.to_netcdf(written[-1], engine="scipy")
    if spec_dict is not None:
        written.append(stem.with_name(stem.name + ".json"))
        written[-1].write_text(json.dumps(spec_dict, indent=1, sort_keys=True))
    return written


def _save_html(figure, out: Path, title: str) -> None:
    """Standalone HTML with BokehJS inline. Bokeh's own `file_html`, not `hv.save`: the latter wraps
    the plot in a Panel document whose stylesheets are links to HoloViz's CDN. And no external
    files: Bokeh adds the `__javascript__` URLs every imported model class declares (Panel's ESM
    shim, a server-relative path), though no HoloViews figure uses them and a file cannot load them."""
    from bokeh.embed import file_html
    from bokeh.resources import Resources

    class Inline(Resources):
        js_files = property(lambda self: [])
        css_files = property(lambda self: [])

        def clone(self, *, components=None):  # Bokeh clones to pick the components a document needs
            return Inline(mode="inline", components=components if components is not None else self.components)

    html = file_html(hv.render(figure, backend="bokeh"), Inline(mode="inline"), title)
    out.write_text(html, encoding="utf-8")


# no creation dates, no random SVG ids: a figure exported twice (CLI, dashboard) is the same file
_METADATA = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}


def _save_matplotlib(figure, out: Path, fmt: str, dpi: int) -> None:
    """The figure through HoloViews' matplotlib plotting, saved by matplotlib itself: HoloViews'
    `save` passes no metadata and caches bounding boxes by `id` of the figure (reused ids)."""
    from itertools import chain

    import matplotlib as mpl

    with mpl.rc_context({"svg.hashsalt": "workbench", "svg.fonttype": "path"}):
        plot = hv.renderer("matplotlib").get_plot(figure)
        extra = list(chain.from_iterable(a for a in plot.traverse(lambda p: p.handles.get("bbox_extra_artists")) if a))
        plot.state.savefig(
            out,
            format=fmt,
            dpi=dpi,  # also the resolution of the images (heat maps) inside SVG and PDF
            bbox_inches="tight",
            bbox_extra_artists=extra,
            pad_inches=0.05,
            metadata=_METADATA[fmt],
        )


def _close_matplotlib() -> None:
    """hv.save leaves its figures registered with pyplot; many exports would otherwise pile up."""
    import matplotlib.pyplot as plt

    plt.close("all")


def spec_to_dict(spec) -> dict | None:
    """A RunSpec or Spec, a dict, or a JSON string -> the dict its `from_dict` reloads (or None)."""
    if spec is None or spec == "":
        return None
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError:
            raise SpecError("spec", spec[:60], "a spec object, a dict or a JSON object") from None
    if hasattr(spec, "to_dict"):
        spec = spec.to_dict()
    if not isinstance(spec, dict):
        raise SpecError("spec", spec, "a spec object, a dict or a JSON object")
    return spec


# ---- netCDF3 round trip -------------------------------------------------------------------------


def _safe_name(name) -> str:
    s = str(name).replace("/", "__")
    return s if s[:1].isalpha() or s[:1] == "_" else "v_" + s


def _attr(value, key: str, converted: dict):
    """One attribute as netCDF3 can hold it (str, number, 1-D numeric array); else JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list, tuple)) and not _numeric(value):
        converted[key] = "json"
        return json.dumps(value)
    if isinstance(value, int) and not _INT32.min <= value <= _INT32.max:
        converted[key] = "int"
        return str(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        converted[key] = "list" if isinstance(value, (list, tuple)) else "array"
        return np.asarray(value, dtype=np.float64)
    return value


def _numeric(v) -> bool:
    return len(v) > 0 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)


def _attrs(attrs: dict) -> dict:
    converted: dict = {}
    out = {k: _attr(v, k, converted) for k, v in attrs.items()}
    if converted:
        out["wb_attrs"] = json.dumps(converted)
    return out


def _array(da: xr.DataArray) -> xr.DataArray:
    """int64/uint/bool -> int32 (or float64 past int32), recording the original dtype."""
    kind, dt = da.dtype.kind, str(da.dtype)
    attrs = _attrs(da.attrs)
    if kind == "b" or kind in "iu" and da.dtype.itemsize > 4 or kind == "u":
        v = da.values
        fits = v.size == 0 or (_INT32.min <= v.min() and v.max() <= _INT32.max)
        da = da.astype(np.int32 if fits else np.float64)
        attrs["wb_dtype"] = dt
    da = da.copy()
    da.attrs = attrs
    return da


def to_netcdf3(ds: xr.Dataset) -> xr.Dataset:
    """A Dataset the scipy (netCDF3) engine writes; `open_data` restores the original."""
    ds = ds.copy()
    renames = {n: _safe_name(n) for n in list(ds.variables) if _safe_name(n) != n}
    ds = ds.rename(renames)
    out = {}
    for name, da in ds.data_vars.items():
        da = da.drop_vars(list(da.coords))
        if da.dtype.kind == "c":  # complex: two real variables, rejoined by open_data
            for part, v in (("real", da.real), ("imag", da.imag)):
                out[f"{name}__{part}"] = _array(v.assign_attrs(da.attrs)).assign_attrs(wb_complex=f"{name}:{part}")
        else:
            out[name] = _array(da)
    coords = {n: _array(xr.DataArray(c.values, dims=c.dims, attrs=c.attrs)) for n, c in ds.coords.items()}
    res = xr.Dataset(out, coords={n: (c.dims, c.values, c.attrs) for n, c in coords.items()})
    attrs = _attrs(ds.attrs)
    if renames:
        attrs["wb_names"] = json.dumps({v: k for k, v in renames.items()})
    return res.assign_attrs(attrs)


def _restore_attrs(attrs: dict) -> dict:
    attrs = dict(attrs)
    converted = json.loads(attrs.pop("wb_attrs", "{}"))
    for k, how in converted.items():
        v = attrs[k]
        attrs[k] = (
            json.loads(v)
            if how == "json"
            else int(v)
            if how == "int"
            else np.atleast_1d(v).tolist()
            if how == "list"
            else np.atleast_1d(v)
        )
    return attrs


def _restore(da: xr.DataArray) -> xr.DataArray:
    attrs = _restore_attrs(da.attrs)
    dt = attrs.pop("wb_dtype", None)
    attrs.pop("wb_complex", None)
    da = da.astype(dt) if dt is not None else da.copy()
    da.attrs = attrs
    return da


def open_data(path) -> xr.Dataset:
    """Reopen an exported `.nc` with the original dtypes, names and attribute types."""
    with xr.open_dataset(path, engine="scipy") as f:
        ds = f.load()
    parts: dict = {}
    out = {}
    for name, da in ds.data_vars.items():
        tag = da.attrs.get("wb_complex")
        if tag:
            orig, part = tag.rsplit(":", 1)
            parts.setdefault(orig, {})[part] = _restore(da)
        else:
            out[name] = _restore(da)
    for name, p in parts.items():
        out[name] = (p["real"] + 1j * p["imag"]).assign_attrs(p["real"].attrs)
    coords = {n: _restore(xr.DataArray(c.values, dims=c.dims, attrs=c.attrs)) for n, c in ds.coords.items()}
    res = xr.Dataset(
        {n: da.drop_vars(list(da.coords)).variable for n, da in out.items()},
        coords={n: c.variable for n, c in coords.items()},
    )
    attrs = _restore_attrs(ds.attrs)
    names = json.loads(attrs.pop("wb_names", "{}"))
    return res.rename({k: v for k, v in names.items() if k in res.variables}).assign_attrs(attrs)
