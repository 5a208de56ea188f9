"""Sweeps on Dask distributed: a LocalCluster by default, any scheduler address for a real cluster."""

from workbench.sweep.client import run_sweep

__all__ = ["run_sweep"]
