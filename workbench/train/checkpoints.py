"""A trained model back from the store: the run's spec rebuilds the model, a checkpoint fills it.

This lives in `train`, not in `store`: the store knows specs and files, and rebuilding a model
sized for its task is what training does (`build_run_model`); the import order stays one-way.
"""

from __future__ import annotations

from workbench.specs import RunSpec
from workbench.store import Run, open_run
from workbench.train.build import build_run_model


def load_model(run, step: int | None = None, root=None):
    """The model of `run` (a `Run`, a run folder or an id under `root`) at a checkpoint (the latest
    by default), on the CPU, in eval mode. Checkpoints load with `torch.load(weights_only=True)`."""
    run = run if isinstance(run, Run) else open_run(run, root)
    model = build_run_model(RunSpec.from_dict(run.spec, name=run.name))
    model.load_state_dict(run.checkpoint(step)["model"])
    return model.eval()
