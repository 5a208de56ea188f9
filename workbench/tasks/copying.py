"""Copying tasks: selective copying (Mamba) and "repeat after me" copying (Jelassi et al. 2024).

Selective copying (Gu & Dao 2023, Fig. 2): `n_data` data tokens sit at random positions of
a region of noise_len + n_data positions, the rest is the noise token; then come n_data
marker tokens, and the output at the k-th marker must be the k-th data token. Spacing is
random, so an LTI (time-invariant) kernel cannot know where the data are: selectivity.
Tokens: 0 = noise, 1..alphabet = data, alphabet + 1 = marker.

Copying: a string s of length n ∈ [copy_min, copy_max], a separator, then s again,
right-padded. Teacher-forced next-token prediction, scored only on the copy: at the
separator predict s_1, at copy token s_k predict s_{k+1}. Tokens: 0 = pad,
1..alphabet = symbols, alphabet + 1 = separator.
"""

from __future__ import annotations

import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch


def selective_copying(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    M, region = spec.n_data, spec.noise_len + spec.n_data
    L, marker = region + M, spec.alphabet + 1
    data = torch.randint(1, spec.alphabet + 1, (batch, M), generator=gen)  # (B, M)
    where = torch.rand(batch, region, generator=gen).argsort(1)[:, :M].sort(1).values  # (B, M) increasing
    inputs = torch.zeros(batch, L, dtype=torch.int64)  # (B, L) noise = 0
    inputs.scatter_(1, where, data)  # data in order
    inputs[:, region:] = marker
    targets = torch.zeros(batch, L, dtype=torch.int64)
    targets[:, region:] = data
    mask = torch.zeros(batch, L, dtype=torch.bool)
    mask[:, region:] = True
    return Batch(inputs, targets, mask)


def copying(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L, sep = spec.length(), spec.alphabet + 1
    n = torch.randint(spec.copy_min, spec.copy_max + 1, (batch, 1), generator=gen)  # (B, 1) lengths
    s = torch.randint(1, spec.alphabet + 1, (batch, spec.copy_max), generator=gen)  # (B, n_max)
    j = torch.arange(L + 1)  # (L+1,)
    # Full token stream (B, L+1): s_j for j < n, separator at n, s_{j-n-1} for n < j <= 2n, pad after.
    first = s.gather(1, j.clamp(max=spec.copy_max - 1).expand(batch, -1))
    second = s.gather(1, (j - n - 1).clamp(0, spec.copy_max - 1))
    tokens = torch.where(j < n, first, torch.where(j == n, sep, torch.where(j <= 2 * n, second, 0)))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]  # (B, L) each: next-token targets
    pos = torch.arange(L)
    mask = (pos >= n) & (pos < 2 * n)  # (B, L): separator .. last-but-one copy
    return Batch(inputs.contiguous(), targets.contiguous(), mask)
