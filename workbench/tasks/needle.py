"""Single needle in a haystack: one key-value pair planted in a long distractor sequence, queried at the end.

A synthetic stand-in for RULER's single-needle retrieval (Hsieh et al. 2024, S-NIAH), the test on
which Gated DeltaNet, Mamba-2 and DeltaNet separate (Yang et al. 2025, Table 2). With vocabulary V,
keys come from [1, V/2) and values from [V/2, V). Two haystacks (`task.haystack`):

- "filler": uniform over the value alphabet (look-alike distractors that never contain a key).
  The needle `key value` sits at a uniform position; the last token repeats the key and the
  output there must be the value. Nothing but the needle needs storing, as in the pass-key test
  (S-NIAH-1, a repeated-sentence haystack).
- "pairs": the haystack is itself key-value pairs over the other keys, rebound at random and, half
  the time a key comes back, recalled (its value is the last one bound to it, and training scores
  the prediction at the key). So the model must write the haystack into its state, as a language
  model writes the essays of S-NIAH-2. The needle is one more pair whose key never recurs; the
  sequence ends with a marker (token 0) and that key, and the output there must be its value.

Training batches score the query (and, for "pairs", the haystack's recalls); held-out batches
score the query alone, at the lengths `task.test_lengths` (longer than training: the state must
keep one association through L − 2 other tokens).
"""

from __future__ import annotations

import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch

RECALL = 0.5  # "pairs": the chance that a key seen before comes back with its bound value, not a new one
MARKER = 0  # "pairs": the token before the final query


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


def pair_haystack(L: int, V: int, batch: int, gen: torch.Generator, score_recalls: bool) -> Batch:
    """A needle among key-value pairs that are rebound and recalled (haystack "pairs").

    Layout: [one value if L is odd] (k_0 v_0) ... (k_{P-1} v_{P-1}) MARKER k*, P = (L − 2) // 2 slots;
    the needle is the slot j* with key k*, which no other slot uses."""
    half, P, lead = V // 2, (L - 2) // 2, L % 2
    star = torch.randint(1, half, (batch,), generator=gen)  # (B,) the needle's key
    slot = torch.randint(0, P, (batch,), generator=gen)  # (B,) the needle's slot
    keys = torch.randint(1, half - 1, (batch, P), generator=gen)  # (B, P) the other keys: [1, half) \ {k*}
    keys = keys + (keys >= star[:, None]).long()
    fresh = torch.randint(half, V, (batch, P), generator=gen)  # (B, P) values of new bindings
    recall = torch.rand(batch, P, generator=gen) < RECALL  # (B, P) come back with the bound value
    rows = torch.arange(batch)
    keys[rows, slot] = star
    bound = torch.full((batch, half), -1, dtype=torch.int64)  # (B, keys) the value bound now, -1: none yet
    values = torch.empty(batch, P, dtype=torch.int64)
    recalled = torch.zeros(batch, P, dtype=torch.bool)
    for j in range(P):
        before = bound[rows, keys[:, j]]  # (B,)
        recalled[:, j] = recall[:, j] & (before >= 0)
        values[:, j] = torch.where(recalled[:, j], before, fresh[:, j])
        bound[rows, keys[:, j]] = values[:, j]
    inputs = torch.empty(batch, L, dtype=torch.int64)
    if lead:
        inputs[:, 0] = torch.randint(half, V, (batch,), generator=gen)
    inputs[:, lead : L - 2] = torch.stack([keys, values], -1).reshape(batch, 2 * P)
    inputs[:, -2], inputs[:, -1] = MARKER, star
    targets = torch.zeros(batch, L, dtype=torch.int64)
    mask = torch.zeros(batch, L, dtype=torch.bool)
    if score_recalls:  # the value is predicted at its key, before it is seen
        targets[:, lead : L - 2 : 2] = values
        mask[:, lead : L - 2 : 2] = recalled
    targets[:, -1] = values[rows, slot]
    mask[:, -1] = True
    return Batch(inputs, targets, mask)


def needle(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    """Needle in a haystack at length spec.length() (the registry passes test lengths via spec.replace)."""
    L, V = spec.length(), spec.vocab()
    if spec.haystack == "pairs":
        return pair_haystack(L, V, batch, gen, score_recalls=split == "train")
    half = V // 2
    keys = torch.randint(1, half, (batch,), generator=gen)  # (B,) in [1, V/2)
    values = torch.randint(half, V, (batch,), generator=gen)  # (B,) in [V/2, V)
    pos = torch.randint(0, L - 2, (batch,), generator=gen)  # (B,) key at pos, value at pos + 1 <= L - 2
    haystack = torch.randint(half, V, (batch, L), generator=gen)  # (B, L) distractors: value look-alikes
    return needle_sequences(keys, values, pos, haystack)
