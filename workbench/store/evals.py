"""Evaluations stored with a run, after training: <run>/evals/<name>.json, one xarray Dataset each.

Written atomically (a reader never sees half a file) and never over another evaluation of a
different name; the same name replaces the earlier result, as re-running an evaluation should.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import xarray as xr

from workbench.errors import SpecError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _check(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise SpecError("eval name", name, "1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)")
    return name


def save_eval(run_path, name: str, ds: xr.Dataset) -> Path:
    folder = Path(run_path) / "evals"
    folder.mkdir(exist_ok=True)
    path = folder / f"{_check(name)}.json"
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(ds.to_dict(data="list"), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def eval_names(run_path) -> list[str]:
    folder = Path(run_path) / "evals"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []


def load_eval(run_path, name: str) -> xr.Dataset:
    path = Path(run_path) / "evals" / f"{_check(name)}.json"
    if not path.exists():
        raise SpecError("eval", name, "one of " + (", ".join(eval_names(run_path)) or "(none stored yet)"))
    ds = xr.Dataset.from_dict(json.loads(path.read_text()))
    ds.attrs["run"] = Path(run_path).name
    return ds
