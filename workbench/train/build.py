"""From a RunSpec to a model sized for its task, on the chosen device."""

from __future__ import annotations

import torch

from workbench.specs import RunSpec
from workbench.ssm.model import build_model
from workbench.tasks import get_task


def build_run_model(run: RunSpec):
    """The task fixes the model's inputs and outputs (vocabulary or continuous sizes).

    The parameters come from `model.seed` (and `ssm.seed`) alone; `train.seed` drives the data
    stream and dropout, so the two vary independently (a seed sweep over either changes only it).
    """
    io = get_task(run.task.kind).io(run.task)
    model = build_model(run.model.replace(**io), run.ssm)
    model.spec_json = __import__("json").dumps(run.to_dict(), sort_keys=True)
    return model


def pick_device(name: str) -> torch.device:
    """auto: CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    from workbench.errors import SpecError

    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError("train.device", name, "auto or cpu: no CUDA device is visible")
    mps = getattr(torch.backends, "mps", None)
    if name == "mps" and not (mps is not None and mps.is_available()):
        raise SpecError("train.device", name, "auto or cpu: no Apple MPS device is visible")
    return torch.device(name)


def check_before_start(run: RunSpec) -> torch.device:
    """Everything about a run that can be refused without training it: the device exists and the
    model and batch fit in its memory. Called before a run folder is created."""
    from workbench.train.budget import check_memory

    device = pick_device(run.train.device)
    check_memory(run, device.type)
    return device


def autocast_dtype(precision: str, device: torch.device):
    """bf16 autocast on CUDA (auto or bf16); None means full precision."""
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.bfloat16
    return None
