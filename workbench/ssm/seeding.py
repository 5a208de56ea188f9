"""Seeded construction: every random number of a model's initialization comes from a local torch.Generator.

PyTorch's modules draw their default initialization from the global generator. `seeded(cls, ...)`
builds a module without initializing it (`skip_init`) and draws PyTorch's own default
initialization from `gen` instead — weights kaiming-uniform with a = √5, i.e. U(±1/√fan_in), biases
U(±1/√fan_in), embeddings N(0, 1) — so building a model neither reads nor advances the global generator.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import math

import torch
from torch import nn

_SHAPES_ONLY = contextvars.ContextVar("shapes_only", default=False)


@contextlib.contextmanager
def shapes_only():
    """Modules built by `seeded` inside keep uninitialized weights: for a model whose every parameter is
    about to be replaced (a checkpoint loaded with `assign=True`), drawing the initialization is wasted
    time (a 130m model: seconds). Per thread/context, so a concurrent build elsewhere is unaffected."""
    token = _SHAPES_ONLY.set(True)
    try:
        yield
    finally:
        _SHAPES_ONLY.reset(token)


def derive_seed(*parts) -> int:
    """A 53-bit seed from any tuple of ints/strings, stable across processes (unlike `hash`); 53 bits
    so that a derived seed is itself a valid spec seed (exact in JSON's float64)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 11


def generator(*parts) -> torch.Generator:
    """A CPU generator seeded from `derive_seed(*parts)`."""
    return torch.Generator().manual_seed(derive_seed(*parts))


def default_init_(module: nn.Module, gen: torch.Generator) -> nn.Module:
    """PyTorch's default initialization of a Linear, Conv1d or Embedding, drawn from `gen`."""
    if _SHAPES_ONLY.get():
        return module
    if isinstance(module, nn.Embedding):
        with torch.no_grad():
            module.weight.normal_(0.0, 1.0, generator=gen)
        return module
    if not isinstance(module, (nn.Linear, nn.Conv1d)):
        raise TypeError(f"no seeded default initialization for {type(module).__name__}")
    fan_in = module.weight.shape[1] * math.prod(module.weight.shape[2:])  # in (/groups) × kernel width
    bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
    with torch.no_grad():
        module.weight.uniform_(-bound, bound, generator=gen)  # = kaiming_uniform_(a=√5)
        if module.bias is not None:
            module.bias.uniform_(-bound, bound, generator=gen)
    return module


def skip_init(cls, *args, device=None, **kwargs) -> nn.Module:
    """`cls(*args, **kwargs)` with uninitialized (torch.empty) parameters, as torch.nn.utils.skip_init,
    whose `to_empty` goes through `empty_like` of meta tensors: its first call imports sympy and
    torch.fx's symbolic shapes (~2 s). Building on meta and allocating with `torch.empty` avoids it."""
    device = torch.device(device or "cpu")
    module = cls(*args, device="meta", **kwargs)
    return module._apply(lambda t: torch.empty(t.shape, dtype=t.dtype, device=device))


def seeded(cls, *args, gen: torch.Generator, **kwargs) -> nn.Module:
    """`cls(*args, **kwargs)` (Linear, Conv1d, Embedding) initialized from `gen` only."""
    return default_init_(skip_init(cls, *args, **kwargs), gen)
