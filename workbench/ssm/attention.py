"""Causal multi-head softmax attention with rotary positions: the recall baseline.

`forward` uses PyTorch's fused scaled_dot_product_attention; `forward_ref` the explicit
softmax with a causal mask; `step` a key/value cache. x (B, L, H) -> (B, L, H).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import SpecError
from workbench.ssm.probe import probes
from workbench.ssm.seeding import seeded


def rotary(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]) by angle pos·10000^(-2i/d). x (..., L, d), pos (L,)."""
    d = x.shape[-1]
    freq = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = (pos.double()[:, None] * freq).to(x.dtype)  # (L, d/2)
    cos, sin = torch.cos(ang), torch.sin(ang)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, *, d_model: int, heads: int = 4, seed: int = 0):
        super().__init__()
        if d_model % heads or (d_model // heads) % 2:
            raise SpecError("model.heads", heads, f"a divisor of d_model = {d_model} leaving an even head size")
        self.h, self.d = heads, d_model // heads
        gen = torch.Generator().manual_seed(seed)
        self.qkv = seeded(nn.Linear, d_model, 3 * d_model, bias=False, gen=gen)
        self.out_proj = seeded(nn.Linear, d_model, d_model, bias=False, gen=gen)
        self.probes = probes("attn", "out")

    def _qkv(self, x, pos):
        B, L, _ = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.h, self.d).permute(2, 0, 3, 1, 4)  # (B, h, L, d) each
        return rotary(q, pos), rotary(k, pos), v

    def _out(self, o):
        B, h, L, d = o.shape
        return self.probes["out"](self.out_proj(o.transpose(1, 2).reshape(B, L, h * d)))

    def forward(self, x):
        q, k, v = self._qkv(x, torch.arange(x.shape[1], device=x.device))
        return self._out(F.scaled_dot_product_attention(q, k, v, is_causal=True))

    def forward_ref(self, x):
        L = x.shape[1]
        q, k, v = self._qkv(x, torch.arange(L, device=x.device))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d)
        scores = scores.masked_fill(~torch.tril(torch.ones(L, L, dtype=torch.bool, device=x.device)), -torch.inf)
        return self._out(self.probes["attn"](torch.softmax(scores, -1)) @ v)

    def step(self, x_t, state=None):
        """x_t (B, H); state = (keys, values) (B, h, t, d) so far."""
        t = 0 if state is None else state[0].shape[2]
        q, k, v = self._qkv(x_t[:, None], torch.tensor([t], device=x_t.device))
        if state is not None:
            k, v = torch.cat([state[0], k], 2), torch.cat([state[1], v], 2)
        o = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.d), -1) @ v  # (B, h, 1, d)
        return self._out(o)[:, 0], (k, v)
