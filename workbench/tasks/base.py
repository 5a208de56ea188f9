"""What every task returns (`Batch`), and the losses and metrics that read it.

Alignment convention: the model's output at position i is scored against `targets[i]`
where `mask[i]` is true; a causal model has seen `inputs[: i + 1]` there. Integer targets
mean classification (cross-entropy, accuracies); float targets mean regression (MSE).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

METRICS = ("token_accuracy", "sequence_accuracy", "accuracy", "mse")


class Batch(NamedTuple):
    inputs: torch.Tensor  # (B, L) int64 tokens, or (B, L, d_in) float32
    targets: torch.Tensor  # (B, L) int64 classes, or (B, L, d_out) float32
    mask: torch.Tensor  # (B, L) bool: where loss and metric count

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device) for t in self))


def numpy_rng(gen: torch.Generator) -> np.random.Generator:
    """A NumPy generator seeded from (and advancing) `gen`, for Python-level sampling (trees)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen)))


def loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cross-entropy (integer targets) or MSE (float targets) over the masked positions."""
    m = batch.mask
    if batch.targets.dtype == torch.int64:
        return F.cross_entropy(outputs[m].float(), batch.targets[m])  # outputs (B, L, C) -> (n, C)
    return F.mse_loss(outputs[m].float(), batch.targets[m])  # (n, d_out)


@torch.no_grad()
def metric_value(metric: str, outputs: torch.Tensor, batch: Batch) -> float:
    """token_accuracy / sequence_accuracy / accuracy from logits (B, L, C); mse from predictions (B, L, d_out)."""
    m = batch.mask
    if metric == "mse":
        return float(((outputs.float() - batch.targets) ** 2)[m].mean())
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not allowed: one of {', '.join(METRICS)}")
    right = outputs.argmax(-1) == batch.targets  # (B, L)
    if metric == "sequence_accuracy":
        rows = m.any(1)  # rows with something to score
        whole = (right | ~m).all(1)  # every masked position right
        return float(whole[rows].float().mean())
    # token_accuracy: over all masked positions; accuracy: the classification tasks mask
    # exactly one position per row, so the same mean is the per-example accuracy.
    return float(right[m].float().mean())
