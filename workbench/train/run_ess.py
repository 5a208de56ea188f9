"""A trained run's mean and total effective state size, measured on its own task's held-out sequences."""

from __future__ import annotations

from workbench.analysis.state_size import ESS_TOL, mean_ess, total_ess

ESS_SEQUENCES = 2  # held-out sequences per run: the rank of every split of every channel, so 2 suffice


def run_mean_ess(run, sequences: int = ESS_SEQUENCES, tol: float = ESS_TOL) -> float:
    """A trained run's mean ESS (`mean_ess`) on the first `sequences` held-out sequences of its own task,
    so runs of one sweep (one task spec) are measured on the same inputs."""
    from workbench.specs import RunSpec
    from workbench.tasks import test_batches
    from workbench.train.checkpoints import load_model

    task = RunSpec.from_dict(run.spec).task
    x = next(iter(test_batches(task, sequences).values())).inputs  # (sequences, L) tokens
    return mean_ess(load_model(run), x, tol=tol)


def run_ess(run, sequences: int = ESS_SEQUENCES, tol: float = ESS_TOL) -> dict[str, float]:
    """{"ess": the run's mean per-group ESS, "total_ess": the same on the state-size axis (`total_ess`)}."""
    from workbench.specs import RunSpec

    spec = RunSpec.from_dict(run.spec)
    ess = run_mean_ess(run, sequences, tol)
    return {"ess": ess, "total_ess": total_ess(ess, spec.model, spec.ssm, spec.task.length())}
