"""The run store: the only link between a training run and whatever watches it."""

from workbench.store.lock import RunLocked
from workbench.store.root import delete_run, list_runs, open_run, rebuild_index
from workbench.store.run import Run, RunDamaged, RunWriter

__all__ = ["Run", "RunDamaged", "RunLocked", "RunWriter", "delete_run", "list_runs", "open_run", "rebuild_index"]
