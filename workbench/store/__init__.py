"""The run store: the only link between a training run and whatever watches it."""
from workbench.store.lock import RunLocked
from workbench.store.run import Run, RunDamaged, RunWriter, delete_run, list_runs, open_run, rebuild_index

__all__ = ["Run", "RunDamaged", "RunLocked", "RunWriter", "delete_run", "list_runs", "open_run", "rebuild_index"]
