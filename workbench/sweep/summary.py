"""A sweep's results as one table: swept fields and final metrics, one row per run."""

from __future__ import annotations

import json

import pandas as pd

from workbench.errors import SpecError
from workbench.store import list_runs


def sweep_ids(root=None) -> list[str]:
    df = list_runs(root)
    return sorted(df["sweep"].dropna().unique().tolist()) if "sweep" in df else []


def sweep_summary(sweep: str, root=None) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(rows, swept field columns, final metric columns) of one sweep."""
    df = list_runs(root, sweep=sweep) if sweep in sweep_ids(root) else pd.DataFrame()
    if df.empty:
        raise SpecError(
            "sweep", sweep, "the id of a sweep in the store: " + (", ".join(sweep_ids(root)) or "(none yet)")
        )
    fields = sorted({f for s in df["swept"].dropna() for f in json.loads(s)})
    metrics = [c for c in df.columns if c.startswith("final.") and c != "final.wall_time_s" and df[c].notna().any()]
    return df[["id", "status"] + fields + metrics].reset_index(drop=True), fields, metrics
