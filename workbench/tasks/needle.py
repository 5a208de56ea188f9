"""Single needle in a haystack: one key-value pair planted in a long distractor sequence, queried at the end.

A synthetic stand-in for RULER's single-needle retrieval (Hsieh et al. 2024, S-NIAH), the test on
which Gated DeltaNet, Mamba-2 and DeltaNet separate (Yang et al. 2025, Table 2). With vocabulary V,
keys come from [1, V/2) and values from [V/2, V); the haystack is uniform over the value alphabet
(look-alike distractors that never contain a key). The needle `key value` sits at a uniform position;
the last token repeats the key and the output there must be the value. Only that position is scored.
Held-out sets at the lengths `task.test_lengths` (longer than training: the state must keep one
association through L − 2 distractor tokens).
"""

from __future__ import annotations

import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch


def needle_sequences(keys: torch.Tensor, values: torch.Tensor, pos: torch.Tensor, haystack: torch.Tensor) -> Batch:
    """Plant keys, values (B,) at positions pos (B,) (key at pos, value at pos+1) into haystack (B, L)."""
    B, L = haystack.shape
    inputs = haystack.clone()  # (B, L)
    rows = torch.arange(B)
    inputs[rows, pos] = keys
    inputs[rows, pos + 1] = values
    inputs[:, -1] = keys  # the query
    targets = torch.zeros(B, L, dtype=torch.int64)
    targets[:, -1] = values
    mask = torch.zeros(B, L, dtype=torch.bool)
    mask[:, -1] = True
    return Batch(inputs, targets, mask)


def needle(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    """Needle in a haystack at length spec.length() (the registry passes test lengths via spec.replace)."""
    L, V = spec.length(), spec.vocab()
    half = V // 2
    keys = torch.randint(1, half, (batch,), generator=gen)  # (B,) in [1, V/2)
    values = torch.randint(half, V, (batch,), generator=gen)  # (B,) in [V/2, V)
    pos = torch.randint(0, L - 2, (batch,), generator=gen)  # (B,) key at pos, value at pos + 1 <= L - 2
    haystack = torch.randint(half, V, (batch, L), generator=gen)  # (B, L) distractors: value look-alikes
    return needle_sequences(keys, values, pos, haystack)
