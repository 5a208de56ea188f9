"""Probe arrays on disk: one Zarr group per probe, every variable pre-allocated along `step`.

Crash safety comes from never rewriting metadata after creation: a probe write only adds the
chunk files of one step index, and the step becomes visible only when run.sqlite commits its
row in `probe_steps`. A kill mid-write leaves at most an orphan chunk that nothing reads and
the next write to that index replaces.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr
import zarr


def create(path: Path, ds: xr.Dataset, capacity: int) -> None:
    """Lay out arrays (capacity, *dims) for every data variable, and write the fixed coordinates."""
    g = zarr.open_group(str(path), mode="w")
    coords = {}
    for name, da in ds.data_vars.items():
        fill = np.nan if np.issubdtype(da.dtype, np.floating) else 0
        dtype = np.float64 if np.issubdtype(da.dtype, np.floating) else da.dtype
        g.create_array(
            name,
            shape=(capacity, *da.shape),
            chunks=(1, *da.shape),
            dtype=dtype,
            fill_value=fill,
            dimension_names=["step", *da.dims],
            attributes={"attrs": json.dumps(_plain(da.attrs))},
        )
    for name, c in ds.coords.items():
        if c.dims == (name,):
            coords[name] = {"values": c.values.tolist(), "attrs": _plain(c.attrs)}
    g.attrs["coords"] = json.dumps(coords)
    g.attrs["attrs"] = json.dumps(_plain(ds.attrs))
    g.attrs["capacity"] = capacity


def write(path: Path, index: int, ds: xr.Dataset) -> None:
    g = zarr.open_group(str(path), mode="r+")
    for name, da in ds.data_vars.items():
        g[name][index] = da.values


def capacity(path: Path) -> int:
    return int(zarr.open_group(str(path), mode="r").attrs["capacity"])


def read(path: Path, steps: list[int]) -> xr.Dataset:
    """Dataset over `step` (the committed indices, in order) plus the probe's own dims."""
    g = zarr.open_group(str(path), mode="r")
    coords = {k: (k, np.asarray(v["values"]), v["attrs"]) for k, v in json.loads(g.attrs["coords"]).items()}
    n = len(steps)
    data = {}
    for name, arr in g.arrays():
        dims = list(arr.metadata.dimension_names)
        data[name] = (dims, arr[:n], json.loads(arr.attrs.get("attrs", "{}")))
    ds = xr.Dataset(
        data, coords={**coords, "step": ("step", np.asarray(steps, dtype=np.int64))}, attrs=json.loads(g.attrs["attrs"])
    )
    return ds


def _plain(attrs: dict) -> dict:
    return {
        k: (v.item() if isinstance(v, np.generic) else v.tolist() if isinstance(v, np.ndarray) else v)
        for k, v in attrs.items()
    }
