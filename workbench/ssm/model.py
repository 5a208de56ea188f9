"""`build_model(model, ssm)`: the only place specs become a sequence model.

SequenceModel: encoder (token embedding or linear) -> n_layers pre-norm residual blocks
(mixer [+ MLP]) -> final norm -> decoder. x (B, L) tokens or (B, L, d_input) -> (B, L, d_out).
Each block has a `resid` probe (the residual stream after it), for token dynamics.
A block with `residual_in_fp32` (a checkpoint's flag, transformers' and mamba_ssm's) keeps the
residual stream in float32 while its layers run in bfloat16 or float16.
"""

from __future__ import annotations

import json

import torch
from torch import nn

from workbench.specs import ModelSpec, SSMSpec, default_ssm
from workbench.ssm import alloc
from workbench.ssm.mamba2 import HALF, RMSNorm
from workbench.ssm.mixers import MIXERS
from workbench.ssm.probe import probes
from workbench.ssm.seeding import derive_seed, generator, seeded

NORMS = {"layernorm": nn.LayerNorm, "rmsnorm": RMSNorm, "none": lambda d: nn.Identity()}


class Block(nn.Module):
    residual_in_fp32 = False  # set per block by the checkpoint loader

    def __init__(self, mixer: nn.Module, d_model: int, norm: str, mlp: bool, dropout: float, gen: torch.Generator):
        super().__init__()
        self.norm, self.mixer, self.drop = NORMS[norm](d_model), mixer, nn.Dropout(dropout)
        self.mlp = (
            nn.Sequential(
                NORMS[norm](d_model),
                seeded(nn.Linear, d_model, 4 * d_model, gen=gen),
                nn.GELU(),
                seeded(nn.Linear, 4 * d_model, d_model, gen=gen),
                nn.Dropout(dropout),
            )
            if mlp
            else None
        )
        self.probes = probes("resid")

    def _finish(self, x):
        if self.mlp is not None:
            x = x + self.mlp(x)
        return self.probes["resid"](x)

    def _streams(self, x):
        """(residual, the layer's input): with `residual_in_fp32` and half-precision weights the sum
        x + mixer(norm(x)) is taken in float32, and the norm reads x rounded to the weights' dtype."""
        w = next(self.mixer.parameters()).dtype
        if not (self.residual_in_fp32 and w in HALF):
            return x, x
        return x.float(), x.to(w)

    def forward(self, x, reference: bool = False):
        mix = self.mixer.forward_ref if reference else self.mixer
        res, x = self._streams(x)
        return self._finish(res + self.drop(mix(self.norm(x))))

    def step(self, x_t, state=None):
        res, x_t = self._streams(x_t)
        y, state = self.mixer.step(self.norm(x_t), state)
        return self._finish(res + self.drop(y)), state


class SequenceModel(nn.Module):
    def __init__(self, encoder: nn.Module, blocks: list[Block], norm: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.layers, self.norm, self.decoder = encoder, nn.ModuleList(blocks), norm, decoder

    def forward(self, x: torch.Tensor, reference: bool = False) -> torch.Tensor:
        """`reference=True` runs every mixer through its sequential reference path."""
        return self.run_layers(self.encoder(x), reference)

    def run_layers(self, h: torch.Tensor, reference: bool = False) -> torch.Tensor:
        """From encoded inputs h (B, L, H) to outputs: lets analysis differentiate w.r.t. embeddings."""
        for block in self.layers:
            h = block(h, reference=reference)
        return self._head(h)

    def _head(self, h):
        """decoder(norm(h)); a float32 residual stream (`residual_in_fp32`) is rounded to the head's dtype."""
        nw = getattr(self.norm, "weight", None)
        if isinstance(self.norm, nn.LayerNorm) and nw is not None and nw.dtype != h.dtype:
            h = h.to(nw.dtype)  # layer_norm takes one dtype (RMSNorm reads the float32 stream as transformers' does)
        h = self.norm(h)
        w = getattr(self.decoder, "weight", None)
        if w is not None and h.device.type == "cpu" and not torch.is_grad_enabled():
            # inference: the layers' freed intermediates go back to the OS before the logits arrive
            alloc.before_large(h[..., 0].numel() * w.shape[0] * w.element_size())
        return self.decoder(h if w is None or w.dtype == h.dtype else h.to(w.dtype))

    def step(self, x_t: torch.Tensor, state: list | None = None):
        """One token: x_t (B,) or (B, d_input) -> (out (B, d_out), per-layer states)."""
        h = self.encoder(x_t)
        state = state or [None] * len(self.layers)
        new = []
        for block, s in zip(self.layers, state):
            h, s = block.step(h, s)
            new.append(s)
        return self._head(h), new


def build_model(model: ModelSpec, ssm: SSMSpec | None = None) -> SequenceModel:
    """ssm=None takes `default_ssm(model.layer)`, the layer kind's published defaults.

    Seeds: `model.seed` is the model's initialization seed. Encoder, MLPs and decoder draw from a
    generator seeded by it; mixer i from one seeded by (model.seed, ssm.seed, i), so `ssm.seed`
    (the standalone layer's seed in `build_layer`) varies the SSM layers within a model too. Every
    draw is from a local torch.Generator: building a model leaves the global generator untouched.
    Training randomness (data stream, dropout) belongs to `train.seed`, never to the parameters.
    """
    model.validate()
    ssm = (ssm or default_ssm(model.layer)).validate()
    gen = generator("model", model.seed)  # encoder, MLPs, decoder
    H = model.d_model
    encoder = (
        seeded(nn.Embedding, model.vocab_size, H, gen=gen)
        if model.vocab_size
        else seeded(nn.Linear, model.d_input, H, gen=gen)
    )
    d_out = model.vocab_size if model.vocab_size and model.d_output == 1 else model.d_output
    blocks = [
        Block(
            MIXERS[model.layer](model, ssm, seed=derive_seed("mixer", model.seed, ssm.seed, i)),
            H,
            model.norm,
            model.mlp,
            model.dropout,
            gen,
        )
        for i in range(model.n_layers)
    ]
    out = SequenceModel(encoder, blocks, NORMS[model.norm](H), seeded(nn.Linear, H, d_out, gen=gen))
    out.spec_json = json.dumps({"model": model.to_dict(), "ssm": ssm.to_dict()}, sort_keys=True)
    return out
