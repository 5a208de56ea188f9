"""Recall tasks: multi-query associative recall (Zoology) and induction heads (Mamba).

MQAR (Arora et al. 2023, "Zoology"): a context of `num_kv` key-value pairs
`k1 v1 k2 v2 ...` (keys distinct from [1, V/2), values distinct from [V/2, V)), then a
query region where each key appears once, at even offsets whose gaps follow a power law
p(k) ∝ a·k^(a-1), k = 1..space. The output at a query position must be the value paired
with that key; nothing else is scored. Non-query positions hold uniform random tokens
from [0, V) (Zoology's `random_non_queries`).

Induction heads (Gu & Dao 2023, after Olsson et al.): uniform tokens from [0, V-1), the
trigger V-1 once somewhere followed by a token t, and the trigger again at the end; the
output at the last position must be t.
"""

from __future__ import annotations

import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch


def power_law_gap_probs(space: int, a: float) -> torch.Tensor:
    """p[k-1] ∝ a·k^(a-1) for gaps k = 1..space (a = 1 is uniform; small a favours short gaps)."""
    k = torch.arange(1, space + 1, dtype=torch.float64)  # (space,)
    p = a * k ** (a - 1)
    return p / p.sum()


def mqar_sequences(
    keys: torch.Tensor, values: torch.Tensor, gaps: torch.Tensor, seq_len: int, fill: torch.Tensor | None = None
) -> Batch:
    """Lay out MQAR sequences from chosen keys, values (B, kv) and gap indices (B, kv) in [0, space).

    Key i is queried at position 2·kv + 2·gaps[i]; `fill` (B, L) supplies the tokens of all
    other query-region positions (zeros when None, as in Zoology's docstring example).
    """
    B, kv = keys.shape
    context = 2 * kv
    inputs = torch.zeros(B, seq_len, dtype=torch.int64) if fill is None else fill.clone()  # (B, L)
    inputs[:, 0:context:2] = keys
    inputs[:, 1:context:2] = values
    qpos = context + 2 * gaps  # (B, kv) query positions
    inputs.scatter_(1, qpos, keys)
    targets = torch.zeros(B, seq_len, dtype=torch.int64)
    targets.scatter_(1, qpos, values)  # the answer sits at the query itself
    mask = torch.zeros(B, seq_len, dtype=torch.bool)
    mask.scatter_(1, qpos, True)
    return Batch(inputs, targets, mask)


def mqar(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    """Multi-query associative recall; `split` does not change the distribution."""
    L, V, kv = spec.length(), spec.vocab(), spec.num_kv
    half = V // 2
    # Distinct keys / values per row: the first kv entries of a random permutation.
    keys = 1 + torch.rand(batch, half - 1, generator=gen).argsort(1)[:, :kv]  # (B, kv) in [1, V/2)
    values = half + torch.rand(batch, V - half, generator=gen).argsort(1)[:, :kv]  # (B, kv) in [V/2, V)
    space = (L - 2 * kv) // 2
    p = power_law_gap_probs(space, spec.power_a).float().expand(batch, space)
    gaps = torch.multinomial(p, kv, replacement=False, generator=gen)  # (B, kv) distinct
    fill = torch.randint(0, V, (batch, L), generator=gen)  # (B, L) noise
    return mqar_sequences(keys, values, gaps, L, fill)


def induction_heads(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    """Induction heads at length spec.length() (the registry passes test lengths via spec.replace)."""
    L, V = spec.length(), spec.vocab()
    trigger = V - 1
    inputs = torch.randint(0, V - 1, (batch, L), generator=gen)  # (B, L), never the trigger
    pos = torch.randint(0, L - 2, (batch, 1), generator=gen)  # (B, 1) first trigger; pos+1 <= L-2
    inputs.scatter_(1, pos, trigger)
    inputs[:, -1] = trigger
    targets = torch.zeros(batch, L, dtype=torch.int64)
    targets[:, -1] = inputs.gather(1, pos + 1)[:, 0]  # the token after the first trigger
    mask = torch.zeros(batch, L, dtype=torch.bool)
    mask[:, -1] = True
    return Batch(inputs, targets, mask)
