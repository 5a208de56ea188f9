"""Loss and accuracy against position and against sequence length, on a task's own generator.

Evaluation is chunked over the batch (rows × L ≤ `tokens_per_chunk`) so long lengths run in
bounded memory; mixers whose fast path builds an L×L matrix (mLSTM's parallel form) run their
recurrent `step` instead beyond `parallel_max_len`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch import nn

from workbench.analysis.walk import mixers, model_attrs
from workbench.errors import SpecError
from workbench.specs import TaskSpec
from workbench.ssm.mlstm import MLSTM
from workbench.tasks import TEST_SEED_OFFSET, get_task

PARALLEL_MAX_LEN = 1024


def check_lengths(lengths, task: TaskSpec | None = None) -> list[int]:
    """Lengths as a sorted list of distinct ints >= 2, or one SpecError naming the bad value."""
    if isinstance(lengths, str):
        parts = [p.strip() for p in lengths.split(",") if p.strip()]
        try:
            lengths = [int(p) for p in parts]
        except ValueError:
            raise SpecError("--lengths", ",".join(parts), "comma-separated integers, e.g. 64,128,256") from None
    lengths = list(lengths or [])
    if not lengths:
        raise SpecError("--lengths", lengths, "at least one length, e.g. 64,128,256")
    lo = 2
    if task is not None and task.kind == "mqar":
        lo = 2 * task.num_kv + 2
    bad = [n for n in lengths if not isinstance(n, (int, np.integer)) or not lo <= int(n) <= (1 << 20)]
    if bad:
        raise SpecError("--lengths", bad[0], f"integers in [{lo}, {1 << 20}]")
    if task is not None and task.kind in ("selective-copying", "digits", "digits-permuted", "copying"):
        raise SpecError(
            "task.kind",
            task.kind,
            "a task whose length is set by seq_len (mqar, induction-heads, "
            "adding, lf-memory, delay, n-parity, n-dms, ar-p, lorenz, listops-lite)",
        )
    return sorted({int(n) for n in lengths})


def _forward(model: nn.Module, inputs: torch.Tensor, parallel_max_len: int) -> torch.Tensor:
    L = inputs.shape[1]
    if L > parallel_max_len and any(isinstance(m, MLSTM) for m in mixers(model)):
        state, outs = None, []
        for t in range(L):  # O(L) memory: the recurrent mode
            o, state = model.step(inputs[:, t], state)
            outs.append(o)
        return torch.stack(outs, 1)
    return model(inputs)


@torch.no_grad()
def position_loss(
    model: nn.Module,
    task: TaskSpec,
    lengths,
    batch: int = 64,
    tokens_per_chunk: int = 1 << 16,
    parallel_max_len: int = PARALLEL_MAX_LEN,
    seed: int | None = None,
) -> xr.Dataset:
    """loss/accuracy (length, position) where scored, and their means per length, on `batch`
    held-out sequences per length (drawn from a stream the training data do not share)."""
    lengths = check_lengths(lengths, task)
    model = model.eval()
    t = get_task(task.kind)
    Lmax = max(lengths)
    loss_lp = np.full((len(lengths), Lmax), np.nan)
    acc_lp = np.full_like(loss_lp, np.nan)
    count_lp = np.zeros_like(loss_lp)
    loss_l, acc_l = np.full(len(lengths), np.nan), np.full(len(lengths), np.nan)
    base = task.seed if seed is None else seed
    for li, L in enumerate(lengths):
        gen = torch.Generator().manual_seed(base + TEST_SEED_OFFSET + 7919 * L)
        b = t.generate(task.replace(seq_len=L), batch, gen, "test")
        rows = max(1, tokens_per_chunk // L)
        losses, rights = [], []
        for r0 in range(0, batch, rows):
            out = _forward(model, b.inputs[r0 : r0 + rows], parallel_max_len).float()  # (rows, L, C|d)
            tgt = b.targets[r0 : r0 + rows]
            if tgt.dtype == torch.int64:
                losses.append(F.cross_entropy(out.transpose(1, 2), tgt, reduction="none"))  # (rows, L)
                rights.append((out.argmax(-1) == tgt).double())
            else:
                losses.append(((out - tgt) ** 2).mean(-1))
        m = b.mask
        lo = torch.cat(losses).double().masked_fill(~m, 0)
        cnt = m.sum(0).double()  # (L,)
        with np.errstate(invalid="ignore"):
            loss_lp[li, :L] = np.where(cnt > 0, (lo.sum(0) / cnt).numpy(), np.nan)
            count_lp[li, :L] = cnt.numpy()
            loss_l[li] = float(lo.sum() / m.sum())
            if rights:
                ri = torch.cat(rights).masked_fill(~m, 0)
                acc_lp[li, :L] = np.where(cnt > 0, (ri.sum(0) / cnt).numpy(), np.nan)
                acc_l[li] = float(ri.sum() / m.sum())
    d2 = ("length", "position")
    return xr.Dataset(
        {
            "loss": (
                "length",
                loss_l,
                {"long_name": "mean loss at scored positions", "units": "nats" if not np.isnan(acc_l).all() else "MSE"},
            ),
            "accuracy": ("length", acc_l, {"long_name": "token accuracy at scored positions", "units": "fraction"}),
            "loss_at": (d2, loss_lp, {"long_name": "loss by position (NaN: not scored)"}),
            "accuracy_at": (d2, acc_lp, {"long_name": "accuracy by position (NaN: not scored)", "units": "fraction"}),
            "scored": (d2, count_lp, {"long_name": "scored sequences at this position"}),
        },
        coords={"length": np.asarray(lengths), "position": np.arange(Lmax)},
        attrs=model_attrs(model, task=task.kind, batch=batch, train_length=task.length()),
    )
