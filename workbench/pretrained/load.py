"""`load_pretrained(source)`: a checkpoint as a `SequenceModel` of the workbench's own layers.

Hugging Face and mamba_ssm checkpoints share the block structure (pre-norm residual blocks of
one mixer, final RMSNorm, LM head): they differ in key names and config keys only. Every key,
shape and dtype is checked against the model the config describes before any weight is copied,
so a refused checkpoint leaves nothing half-loaded.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import nn

from workbench.errors import SpecError
from workbench.pretrained.configs import Arch, read_arch
from workbench.pretrained.source import resolve
from workbench.pretrained.tokenizer import tokenizer_for
from workbench.pretrained.weights import read_weights
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2, RMSNorm
from workbench.ssm.model import Block, SequenceModel

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}
# checkpoint key (after 'backbone.') -> workbench key; anything else is an error
RENAMES = [(r"^embeddings?\.weight$", "encoder.weight"), (r"^norm_f\.", "norm."),
           (r"\.mixer\.conv1d\.", ".mixer.conv."), (r"^lm_head\.weight$", "decoder.weight")]


def _mixer(a: Arch, seed: int) -> nn.Module:
    if a.kind == "mamba":
        return Mamba(d_model=a.d_model, d_state=a.d_state, expand=a.expand, d_conv=a.d_conv, dt_rank=a.dt_rank,
                     init="s4d-real", dt_min=a.dt_min, dt_max=a.dt_max, proj_bias=a.bias, seed=seed)
    return Mamba2(d_model=a.d_model, d_state=a.d_state, expand=a.expand, heads=a.heads, d_conv=a.d_conv,
                  dt_min=a.dt_min, dt_max=a.dt_max, chunk=min(a.chunk, 64), n_groups=a.n_groups, bias=a.bias,
                  norm_eps=a.eps, gated_norm=a.gated_norm, dt_limit=a.dt_limit, seed=seed)


def _norm(a: Arch) -> nn.Module:
    return RMSNorm(a.d_model, eps=a.eps) if a.norm == "rmsnorm" else nn.LayerNorm(a.d_model, eps=a.eps)


def build_from_arch(a: Arch) -> SequenceModel:
    """The architecture with placeholder weights (every one is overwritten by the checkpoint)."""
    blocks = []
    for i in range(a.n_layer):
        block = Block(_mixer(a, seed=i), a.d_model, "none", mlp=False, dropout=0.0)
        block.norm = _norm(a)
        blocks.append(block)
    model = SequenceModel(nn.Embedding(a.vocab_size, a.d_model), blocks, _norm(a),
                          nn.Linear(a.d_model, a.vocab_size, bias=False))
    if a.tie:
        model.decoder.weight = model.encoder.weight
    return model


def _rename(key: str) -> str:
    k = key[len("backbone."):] if key.startswith("backbone.") else key
    for pat, rep in RENAMES:
        k = re.sub(pat, rep, k)
    return k


def _checked_state(model: SequenceModel, a: Arch, given: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map checkpoint keys to the model's; refuse a missing, extra or misshapen weight, naming it."""
    want = model.state_dict()
    implied = {k for k in want if k.endswith("mixer.conv.bias")} if not a.conv_bias else set()
    if a.tie:
        implied.add("decoder.weight")
    state, origin = {}, {}
    for key, t in given.items():
        k = _rename(key)
        if k == "decoder.weight" and a.tie:
            continue  # tied: the head is the embedding (mamba_ssm saves both)
        if k not in want or k in implied:
            raise SpecError(f"weights[{key}]", tuple(t.shape), f"a weight of this {a.kind} config "
                            f"({a.n_layer} layers); the mapping has no place for it")
        if tuple(t.shape) != tuple(want[k].shape):
            raise SpecError(f"weights[{key}]", tuple(t.shape), f"shape {tuple(want[k].shape)} for this config")
        if not t.is_floating_point():
            raise SpecError(f"weights[{key}].dtype", str(t.dtype), "a floating-point tensor")
        state[k], origin[k] = t, key
    missing = sorted(set(want) - set(state) - implied, key=lambda k: (len(k), k))
    if missing:
        raise SpecError("weights", f"no {missing[0]!r}", f"every weight of this {a.kind} config "
                                                         f"({len(missing)} missing)")
    for k in implied - {"decoder.weight"}:
        state[k] = torch.zeros_like(want[k])  # use_conv_bias=False: a zero bias is the same convolution
    return state


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights are counted once


def load_pretrained(source, dtype=None, device=None) -> SequenceModel:
    """A model of workbench layers, in eval mode, with `.tokenizer` and `.meta`.

    source: a folder (Hugging Face MambaForCausalLM / Mamba2ForCausalLM, mamba_ssm MambaLMHeadModel,
    or a workbench run) or a Hugging Face id in the local cache. dtype: float32 (default), float64,
    bfloat16 or float16 (a torch dtype or its name). device: where the weights go (default cpu).
    """
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise SpecError("dtype", dtype, "one of " + ", ".join(DTYPES))
        dtype = DTYPES[dtype]
    dtype = dtype or torch.float32
    folder = resolve(source)
    if (folder / "spec.json").exists() and not (folder / "config.json").exists():
        return _load_run(folder, dtype, device)
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except ValueError as err:
        raise SpecError("config.json", str(folder / "config.json"), f"valid JSON ({err})") from None
    arch, fmt = read_arch(cfg)
    given, files = read_weights(folder)
    model = build_from_arch(arch)
    state = _checked_state(model, arch, given)
    model.load_state_dict(state, strict=not arch.tie)
    model = model.to(dtype=dtype, device=device).eval()
    model.tokenizer = tokenizer_for(folder, arch.vocab_size)
    model.meta = {"format": fmt, "source": str(source), "folder": str(folder), "files": files, "config": cfg,
                  "arch": arch.to_dict(), "parameters": _count(model), "dtype": str(dtype).replace("torch.", ""),
                  "tokenizer": model.tokenizer.kind, "dt_init": {"dt_min": arch.dt_min, "dt_max": arch.dt_max,
                                                                 "dt_floor": arch.dt_floor}}
    return model


def _load_run(folder: Path, dtype, device) -> SequenceModel:
    from workbench.store import open_run
    run = open_run(folder)
    model = run.load_model().to(dtype=dtype, device=device).eval()
    spec = run.spec
    vocab = model.encoder.num_embeddings if isinstance(model.encoder, nn.Embedding) else 0
    if not vocab:
        raise SpecError("source", str(folder), "a run of a token model (vocab_size > 0) to read text")
    model.tokenizer = tokenizer_for(None, vocab)
    ssm = spec.get("ssm", {})
    model.meta = {"format": "workbench-run", "source": str(folder), "folder": str(folder), "files": [],
                  "config": spec, "arch": {"kind": spec["model"].get("layer"), "n_layer": spec["model"].get("n_layers"),
                                           "d_model": spec["model"].get("d_model"), "vocab_size": vocab},
                  "parameters": _count(model), "dtype": str(dtype).replace("torch.", ""),
                  "tokenizer": model.tokenizer.kind,
                  "dt_init": {"dt_min": ssm.get("dt_min", 1e-3), "dt_max": ssm.get("dt_max", 1e-1), "dt_floor": 1e-4}}
    return model
