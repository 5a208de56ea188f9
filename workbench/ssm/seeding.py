"""Seeded construction: every random number of a model's initialization comes from a local torch.Generator.

PyTorch's modules draw their default initialization from the global generator. `seeded(cls, ...)`
builds a module without initializing it (torch.nn.utils.skip_init) and draws PyTorch's own default
initialization from `gen` instead — weights kaiming-uniform with a = √5, i.e. U(±1/√fan_in), biases
U(±1/√fan_in), embeddings N(0, 1) — so building a model neither reads nor advances the global generator.
"""

from __future__ import annotations

import hashlib
import math

import torch
from torch import nn


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


def seeded(cls, *args, gen: torch.Generator, **kwargs) -> nn.Module:
    """`cls(*args, **kwargs)` (Linear, Conv1d, Embedding) initialized from `gen` only."""
    return default_init_(nn.utils.skip_init(cls, *args, **kwargs), gen)
