"""Comparing runs: a metric's mean and spread over the runs of each group (seeds, typically),
and a final metric against a spec field; plus the short labels that tell selected runs apart.

Pure functions of the runs' metrics and index rows (no model), xarray out like every analysis."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import xarray as xr

SPEC_PARTS = ("model.", "ssm.", "task.", "train.")


def group_curves(metrics: dict[str, xr.Dataset], groups: dict[str, object], name: str) -> xr.Dataset:
    """Per group: mean, standard deviation, min and max of metric `name` over its runs, at each
    step that every run of the group recorded (a group's curve stops where its shortest run does).

    metrics: run id -> the run's metrics (dim `step`); groups: run id -> group value.
    Out: mean, std (ddof 0), lo, hi, each (group, step), NaN where a group has no value; n (group)."""
    by: dict[str, list[pd.Series]] = {}
    for rid, m in metrics.items():
        if m is None or name not in m or not m.sizes.get("step"):
            continue
        s = pd.Series(m[name].values.astype(float), index=m["step"].values.astype(int)).dropna()
        if len(s):
            by.setdefault(str(groups.get(rid)), []).append(s)
    keys = sorted(by)
    steps = sorted({int(i) for ss in by.values() for s in ss for i in s.index})
    shape = (len(keys), len(steps))
    out = {k: np.full(shape, np.nan) for k in ("mean", "std", "lo", "hi")}
    n = np.zeros(len(keys), dtype=int)
    for g, key in enumerate(keys):
        table = pd.concat(by[key], axis=1, join="inner")  # (step, run): steps every run has
        n[g] = table.shape[1]
        at = np.searchsorted(steps, table.index.values)
        v = table.values
        out["mean"][g, at], out["std"][g, at] = v.mean(1), v.std(1)
        out["lo"][g, at], out["hi"][g, at] = v.min(1), v.max(1)
    dims = ("group", "step")
    return xr.Dataset(
        {k: (dims, v) for k, v in out.items()} | {"n": ("group", n)},
        coords={"group": keys, "step": np.asarray(steps, dtype=int)},
        attrs={"metric": name, "description": f"{name}: mean ± std over the runs of each group"},
    )


def final_by_field(rows: pd.DataFrame, field: str, metric: str) -> xr.Dataset:
    """A final metric against a spec field: per value of the field, mean, std (ddof 0) and count
    of `final.<metric>` over the rows (runs) that have it. Numeric fields sort numerically."""
    col = metric if metric.startswith("final.") else f"final.{metric}"
    if field not in rows or col not in rows:
        raise KeyError(f"{field if field not in rows else col} is not a column of these runs")
    df = rows[[field, col]].dropna()
    stats = df.groupby(field, sort=True)[col].agg(["mean", "std", "count"])
    stats["std"] = df.groupby(field, sort=True)[col].std(ddof=0)
    values = stats.index.values
    numeric = np.issubdtype(np.asarray(values).dtype, np.number)
    return xr.Dataset(
        {
            "mean": ("value", stats["mean"].values.astype(float)),
            "std": ("value", stats["std"].values.astype(float)),
            "n": ("value", stats["count"].values.astype(int)),
        },
        coords={"value": values if numeric else values.astype(str)},
        attrs={"field": field, "metric": col.removeprefix("final."), "numeric": int(numeric)},
    )


def short_labels(rows: pd.DataFrame) -> dict[str, str]:
    """A legend label per run (id -> label): its name when the names tell the runs apart, else the
    spec fields whose values differ between these runs ("model.layer=mamba, train.seed=1"), else
    the end of its id."""
    ids = rows["id"].astype(str).tolist()
    names = rows["name"].astype(str).tolist() if "name" in rows else ids
    if len(set(names)) == len(names) and names != ids:
        return dict(zip(ids, _without_common_prefix(names)))
    spec = [c for c in rows.columns if c.startswith(SPEC_PARTS)]
    differ = sorted(c for c in spec if rows[c].astype(str).nunique() > 1)
    short = [c.split(".", 1)[1] for c in differ]
    keys = short if len(set(short)) == len(short) else differ  # model.seed and train.seed stay apart
    if differ:
        labels = [", ".join(f"{k}={v}" for k, v in zip(keys, r)) for r in rows[differ].values]
        if len(set(labels)) == len(labels):
            return dict(zip(ids, labels))
    tails = [i.rsplit("-", 1)[-1] for i in ids]
    return dict(zip(ids, tails if len(set(tails)) == len(tails) else ids))


def _without_common_prefix(names: list[str]) -> list[str]:
    """ "selective-copying: mamba", "selective-copying: s4d" -> "mamba", "s4d" (cut at a word boundary)."""
    if len(names) < 2:
        return names
    prefix = os.path.commonprefix(names)
    cut = max(prefix.rfind(c) for c in (" ", ":", "-", "_", "/")) + 1
    rest = [n[cut:].lstrip(" :-_/") for n in names]
    return rest if all(rest) and len(set(rest)) == len(rest) else names
