"""digits / digits-permuted: scikit-learn's 8×8 handwritten digits as a 64-step sequence.

A small, offline stand-in for sequential MNIST (sMNIST / psMNIST): 1797 images ship inside
scikit-learn; each is read row by row as 64 steps of one pixel scaled to [0, 1], and the
class (10) is scored at the last step. digits-permuted reorders the 64 steps by the fixed
6-bit bit-reversal permutation, which scatters neighbouring pixels far apart in time.
A seeded permutation of the 1797 images (spec.seed) gives a fixed 80/20 train/test split.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch

N_PIXELS, N_CLASSES, TRAIN_FRACTION = 64, 10, 0.8


def bit_reversal(n_bits: int = 6) -> torch.Tensor:
    """(2^n,) permutation: position i reads pixel bitreverse(i)."""
    i = torch.arange(2**n_bits)
    return sum(((i >> b) & 1) << (n_bits - 1 - b) for b in range(n_bits))


@lru_cache(maxsize=1)
def load() -> tuple[torch.Tensor, torch.Tensor]:
    """(1797, 64) float32 pixels in [0, 1] and (1797,) int64 labels; loaded once, on first use."""
    from sklearn.datasets import load_digits  # local: scikit-learn only when digits are asked for

    d = load_digits()
    return torch.tensor(d.data / 16.0, dtype=torch.float32), torch.tensor(d.target, dtype=torch.int64)


def split_indices(seed: int, split: str) -> torch.Tensor:
    """Indices of the train (80%) or test (20%) images for this data seed."""
    n = load()[1].numel()
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(TRAIN_FRACTION * n)
    return order[:cut] if split == "train" else order[cut:]


def digits_batch(spec: TaskSpec, index: torch.Tensor) -> Batch:
    """The batch of the given image indices (B,)."""
    pixels, labels = load()
    x = pixels[index]  # (B, 64)
    if spec.kind == "digits-permuted":
        x = x[:, bit_reversal()]
    B = index.numel()
    targets = torch.zeros(B, N_PIXELS, dtype=torch.int64)
    targets[:, -1] = labels[index]
    mask = torch.zeros(B, N_PIXELS, dtype=torch.bool)
    mask[:, -1] = True
    return Batch(x[..., None], targets, mask)  # inputs (B, 64, 1)


def digits(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    """`batch` images drawn with replacement from the split's pool."""
    pool = split_indices(spec.seed, split)
    pick = torch.randint(0, pool.numel(), (batch,), generator=gen)
    return digits_batch(spec, pool[pick])


def digits_test_set(spec: TaskSpec) -> Batch:
    """The whole held-out split (360 images), in a fixed order."""
    return digits_batch(spec, split_indices(spec.seed, "test"))
