"""listops-lite: a short ListOps (Nangia & Bowman 2018; LRA, Tay et al. 2021).

Expressions such as `[MAX 4 3 [MIN 2 3 ] 1 0 ]` over digits 0-9 with MIN, MAX, MED
(median, rounded down) and SM (sum mod 10); the answer (10 classes) is the value of the
whole expression. Trees follow LRA's generator: `depth` counts node levels with the root
at 1 and digits included (so depth 3 nests at most two operators); a non-root node below
the deepest level is an operator with probability 1/4, else a digit; an operator takes
2..10 arguments. The root is always an operator, and trees whose token count falls outside
[20, min(100, L)] are redrawn. Expressions are left-padded so they end at the last position,
where the class is scored.
Tokens: 0 = pad, 1 + d = digit d, 11..14 = [MIN [MAX [MED [SM, 15 = ].
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.specs import TaskSpec
from workbench.tasks.base import Batch, numpy_rng

OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
CLOSE = "]"
VOCAB = ["<pad>"] + [str(d) for d in range(10)] + list(OPERATORS) + [CLOSE]
TOKEN = {t: i for i, t in enumerate(VOCAB)}
MAX_ARGS, OPERATOR_P, MIN_LEN, MAX_LEN = 10, 0.25, TaskSpec.LISTOPS_MIN_LEN, 100


def random_tree(rng: np.random.Generator, depth: int, max_depth: int):
    """A digit (int) or (operator, [children]); the root (depth 1) is always an operator."""
    if depth > 1 and (depth >= max_depth or rng.random() >= OPERATOR_P):
        return int(rng.integers(10))
    op = OPERATORS[rng.integers(len(OPERATORS))]
    return op, [random_tree(rng, depth + 1, max_depth) for _ in range(rng.integers(2, MAX_ARGS + 1))]


def to_tokens(tree) -> list[str]:
    if isinstance(tree, int):
        return [str(tree)]
    op, args = tree
    return [op] + [t for a in args for t in to_tokens(a)] + [CLOSE]


def evaluate(tree) -> int:
    """The value of a tree (0..9)."""
    if isinstance(tree, int):
        return tree
    op, args = tree
    v = sorted(evaluate(a) for a in args)
    if op == "[MIN":
        return v[0]
    if op == "[MAX":
        return v[-1]
    if op == "[MED":  # LRA: int(np.median(...)), i.e. the lower-rounded mean of the middle two
        mid = len(v) // 2
        return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) // 2
    return sum(v) % 10


def parse(tokens: list[str]):
    """Tokens back to a tree (the inverse of to_tokens), so a test can re-evaluate a batch."""
    stack: list = [("root", [])]
    for t in tokens:
        if t in OPERATORS:
            stack.append((t, []))
        elif t == CLOSE:
            node = stack.pop()
            stack[-1][1].append(node)
        elif t != "<pad>":
            stack[-1][1].append(int(t))
    return stack[0][1][0]


def sample_tree(rng: np.random.Generator, max_depth: int, max_len: int):
    while True:
        tree = random_tree(rng, 1, max_depth)
        if MIN_LEN <= len(to_tokens(tree)) <= max_len:
            return tree


def listops_lite(spec: TaskSpec, batch: int, gen: torch.Generator, split: str = "train") -> Batch:
    L = spec.length()
    rng = numpy_rng(gen)
    inputs = torch.zeros(batch, L, dtype=torch.int64)  # (B, L), left padding
    targets = torch.zeros(batch, L, dtype=torch.int64)
    for b in range(batch):
        tree = sample_tree(rng, spec.depth, min(MAX_LEN, L))
        ids = [TOKEN[t] for t in to_tokens(tree)]
        inputs[b, L - len(ids) :] = torch.tensor(ids)
        targets[b, -1] = evaluate(tree)
    mask = torch.zeros(batch, L, dtype=torch.bool)
    mask[:, -1] = True
    return Batch(inputs, targets, mask)
