"""Timescale probes on random bit streams: n-parity and n-dms (delayed match to sample).

n-parity: the output at step t is the parity of the last N bits b_{t-N+1} .. b_t, scored for
t >= N - 1. Needs exactly an N-step memory and a nonlinear readout.
n-dms: the output at step t is 1 when b_{t-N} equals b_t, else 0, scored for t >= N: a
match against the bit exactly N steps back.
Inputs are tokens 0/1 (vocab 2); targets are classes 0/1.
"""

from __future__ import annotations

import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch


def n_parity(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L, N = spec.length(), spec.n_bits
    bits = torch.randint(0, 2, (batch, L), generator=gen)  # (B, L)
    ones = torch.nn.functional.pad(bits.cumsum(1), (1, 0))  # (B, L+1): ones before t
    t = torch.arange(L)
    window = ones[:, t + 1] - ones[:, (t + 1 - N).clamp(min=0)]  # (B, L): ones in the last N
    mask = (t >= N - 1).expand(batch, L)
    return Batch(bits, window % 2, mask.contiguous())


def n_dms(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L, N = spec.length(), spec.n_bits
    bits = torch.randint(0, 2, (batch, L), generator=gen)  # (B, L)
    targets = torch.zeros(batch, L, dtype=torch.int64)
    targets[:, N:] = (bits[:, N:] == bits[:, :-N]).long()  # b_t == b_{t-N}
    mask = (torch.arange(L) >= N).expand(batch, L)
    return Batch(bits, targets, mask.contiguous())
