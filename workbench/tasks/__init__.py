"""Synthetic tasks: a registry of generators, their metric and the model sizes they imply.

Every generator is a plain function `fn(spec, batch, gen, split="train") -> Batch` drawing
only from the explicit `torch.Generator` it is given (no global RNG). Held-out data come
from `test_batches(spec, batch)`, on generator streams derived from `spec.seed` that a
training generator seeded with `spec.seed` does not share.

| task              | inputs            | targets              | scored at            | metric            |
|-------------------|-------------------|----------------------|----------------------|-------------------|
| mqar              | (B, L) tokens     | value at each query  | queries              | token_accuracy    |
| selective-copying | (B, L) tokens     | data tokens in order | markers              | token_accuracy    |
| induction-heads   | (B, L) tokens     | token after trigger  | last                 | accuracy          |
| copying           | (B, L) tokens     | next token           | the copy             | sequence_accuracy |
| adding            | (B, L, 2) float   | (B, L, 1) sum        | last                 | mse               |
| digits[-permuted] | (B, 64, 1) float  | class (10)           | last                 | accuracy          |
| lf-memory         | (B, L, 1) float   | (B, L, 1) y_t        | every step           | mse               |
| delay             | (B, L, 1) float   | (B, L, 1) u_{t-lag}  | t >= lag             | mse               |
| n-parity / n-dms  | (B, L) bits       | class (2)            | t >= N-1 / t >= N    | token_accuracy    |
| listops-lite      | (B, L) tokens     | class (10)           | last                 | accuracy          |
| ar-p              | (B, L, 1) float   | (B, L, 1) x_{t+1}    | every step           | mse               |
| lorenz            | (B, L, 3) float   | (B, L, 3) s_{t+1}    | every step           | mse               |
| needle            | (B, L) tokens     | value of the needle  | last                 | accuracy          |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from workbench.errors import SpecError
from workbench.specs import TaskSpec
from workbench.tasks import bits, copying, digits, dynamics, listops, needle, recall, regression
from workbench.tasks.base import METRICS, Batch, loss, metric_value

TEST_SEED_OFFSET = 0x5EED_0000_0000  # held-out streams: seed + offset + i, far from training seeds


def _tokens(vocab: Callable[[TaskSpec], int], classes: Callable[[TaskSpec], int] | None = None):
    """io of a token task: inputs are tokens; outputs are `classes` (default: the vocabulary)."""
    return lambda s: dict(vocab_size=vocab(s), d_input=1, d_output=(classes or vocab)(s))


def _continuous(d_input: int, d_output: int):
    return lambda s: dict(vocab_size=0, d_input=d_input, d_output=d_output)


def _same(spec: TaskSpec) -> dict[str, TaskSpec]:
    return {"test": spec}


@dataclass(frozen=True)
class Task:
    name: str
    generate: Callable[..., Batch]  # (spec, batch, gen, split) -> Batch
    metric: str  # one of METRICS
    io: Callable[[TaskSpec], dict]  # vocab_size (0: continuous), d_input, d_output
    test_specs: Callable[[TaskSpec], dict[str, TaskSpec]] = _same  # label -> spec of a held-out set
    full_test: Callable[[TaskSpec], Batch] | None = None  # a finite held-out set, used whole

    def make(self, spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
        """A batch; split "test" draws the held-out distribution (first test length, test images)."""
        if split == "test":
            spec = next(iter(self.test_specs(spec).values()))
        return self.generate(spec, batch, gen, split)


def _induction_lengths(spec: TaskSpec) -> dict[str, TaskSpec]:
    return {f"L={n}": spec.replace(seq_len=n) for n in spec.test_lengths}


_io_digits = _continuous(1, digits.N_CLASSES)
TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("mqar", recall.mqar, "token_accuracy", _tokens(TaskSpec.vocab)),
        Task("selective-copying", copying.selective_copying, "token_accuracy", _tokens(lambda s: s.alphabet + 2)),
        Task("induction-heads", recall.induction_heads, "accuracy", _tokens(TaskSpec.vocab), _induction_lengths),
        Task("copying", copying.copying, "sequence_accuracy", _tokens(lambda s: s.alphabet + 2)),
        Task("adding", regression.adding, "mse", _continuous(2, 1)),
        Task("digits", digits.digits, "accuracy", _io_digits, full_test=digits.digits_test_set),
        Task("digits-permuted", digits.digits, "accuracy", _io_digits, full_test=digits.digits_test_set),
        Task("lf-memory", regression.lf_memory, "mse", _continuous(1, 1)),
        Task("delay", regression.delay, "mse", _continuous(1, 1)),
        Task("n-parity", bits.n_parity, "token_accuracy", _tokens(lambda s: 2)),
        Task("n-dms", bits.n_dms, "token_accuracy", _tokens(lambda s: 2)),
        Task("listops-lite", listops.listops_lite, "accuracy", _tokens(lambda s: len(listops.VOCAB), lambda s: 10)),
        Task("ar-p", dynamics.ar_p, "mse", _continuous(1, 1)),
        Task("lorenz", dynamics.lorenz, "mse", _continuous(3, 3)),
        Task("needle", needle.needle, "accuracy", _tokens(TaskSpec.vocab), _induction_lengths),
    )
}
assert tuple(TASKS) == TaskSpec.KINDS, "registry and TaskSpec.kind must list the same tasks"


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise SpecError("task.kind", name, "one of " + ", ".join(TASKS))
    return TASKS[name]


def make_batch(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    return get_task(spec.kind).make(spec, batch, gen, split)


def test_batches(spec: TaskSpec, batch: int) -> dict[str, Batch]:
    """Held-out batches, the same for the same spec: one per test length, or the whole test set."""
    task = get_task(spec.kind)
    if task.full_test is not None:
        return {"test": task.full_test(spec)}
    out = {}
    for i, (label, tspec) in enumerate(task.test_specs(spec).items()):
        gen = torch.Generator().manual_seed(spec.seed + TEST_SEED_OFFSET + i)
        out[label] = task.generate(tspec, batch, gen, "test")
    return out


test_batches.__test__ = False  # not a pytest test, though its name starts with test_

__all__ = ["Batch", "METRICS", "TASKS", "Task", "get_task", "loss", "make_batch", "metric_value", "test_batches"]
