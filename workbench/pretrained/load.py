"""`load_pretrained(source)`: a checkpoint as a `SequenceModel` of the workbench's own layers.

Hugging Face and mamba_ssm checkpoints share the block structure (pre-norm residual blocks of
one mixer, final RMSNorm, LM head): they differ in key names and config keys only. Every key,
shape and dtype is checked against the model the config describes (extra keys before anything is
built, the rest as each layer is assembled); a refused checkpoint raises and returns no model, so
nothing is ever half-loaded. Mamba-2's SSD chunk length is capped at 64: the chunked and
recurrent forms are the same function, and shorter chunks are faster on a CPU.
"""

from __future__ import annotations

import contextlib
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
from workbench.ssm.seeding import generator, seeded, shapes_only

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}
# checkpoint key (after 'backbone.') -> workbench key; anything else is an error
RENAMES = [
    (r"^embeddings?\.weight$", "encoder.weight"),
    (r"^norm_f\.", "norm."),
    (r"\.mixer\.conv1d\.", ".mixer.conv."),
    (r"^lm_head\.weight$", "decoder.weight"),
]


def _mixer(a: Arch, seed: int) -> nn.Module:
    if a.kind == "mamba":
        return Mamba(
            d_model=a.d_model,
            d_state=a.d_state,
            expand=a.expand,
            d_conv=a.d_conv,
            dt_rank=a.dt_rank,
            init="s4d-real",
            dt_min=a.dt_min,
            dt_max=a.dt_max,
            proj_bias=a.bias,
            seed=seed,
        )
    return Mamba2(
        d_model=a.d_model,
        d_state=a.d_state,
        expand=a.expand,
        heads=a.heads,
        d_conv=a.d_conv,
        dt_min=a.dt_min,
        dt_max=a.dt_max,
        chunk=min(a.chunk, 64),
        n_groups=a.n_groups,
        bias=a.bias,
        norm_eps=a.eps,
        gated_norm=a.gated_norm,
        dt_limit=a.dt_limit,
        seed=seed,
    )


def _norm(a: Arch) -> nn.Module:
    return RMSNorm(a.d_model, eps=a.eps) if a.norm == "rmsnorm" else nn.LayerNorm(a.d_model, eps=a.eps)


def build_from_arch(a: Arch) -> SequenceModel:
    """The architecture with placeholder weights (initialized as the layers do)."""
    return _assemble(a, _no_fill)


def _assemble(a: Arch, fill) -> SequenceModel:
    """Blocks one at a time, each given its weights (`fill`) before the next is built: the
    placeholder weights of one layer, not of the whole model, exist beside the checkpoint's."""
    blocks = []
    for i in range(a.n_layer):
        with shapes_only() if fill is not _no_fill else contextlib.nullcontext():  # every weight is replaced
            mixer = _mixer(a, seed=i)
        block = Block(mixer, a.d_model, "none", mlp=False, dropout=0.0, gen=generator("pretrained", i))
        block.norm = _norm(a)
        block.residual_in_fp32 = a.residual_in_fp32
        fill(block, f"layers.{i}.")
        blocks.append(block)
    if fill is _no_fill:  # placeholders drawn from a local generator, never the global one
        gen = generator("pretrained", "ends")
        ends = {
            "encoder.": seeded(nn.Embedding, a.vocab_size, a.d_model, gen=gen),
            "norm.": _norm(a),
            "decoder.": seeded(nn.Linear, a.d_model, a.vocab_size, bias=False, gen=gen),
        }
    else:
        with torch.device("meta"):  # shapes only: the checkpoint's tensors become the parameters
            ends = {
                # a given weight skips the N(0, 1) fill: on meta tensors that fill imports torch._dynamo (~2 s)
                "encoder.": nn.Embedding(a.vocab_size, a.d_model, _weight=torch.empty(a.vocab_size, a.d_model)),
                "norm.": _norm(a),
                "decoder.": nn.Linear(a.d_model, a.vocab_size, bias=False),
            }
    if a.tie:
        del ends["decoder."]
    for prefix, module in ends.items():
        fill(module, prefix)
    head = ends["decoder."] if "decoder." in ends else nn.Linear(a.d_model, a.vocab_size, bias=False, device="meta")
    model = SequenceModel(ends["encoder."], blocks, ends["norm."], head)
    if a.tie:
        model.decoder.weight = model.encoder.weight
    return model


def _no_fill(module, prefix):
    return None


def _rename(key: str) -> str:
    k = key[len("backbone.") :] if key.startswith("backbone.") else key
    for pat, rep in RENAMES:
        k = re.sub(pat, rep, k)
    return k


def _load_checked(a: Arch, given: dict[str, torch.Tensor]) -> SequenceModel:
    """Map checkpoint keys to the model's; refuse a missing, extra or misshapen weight, naming it."""
    renamed = {}
    for key, t in given.items():
        k = _rename(key)
        if not (k == "decoder.weight" and a.tie):  # tied: the head is the embedding (mamba_ssm saves both)
            renamed[k] = (key, t)
    used = set()

    def fill(module: nn.Module, prefix: str) -> None:
        state = {}
        for name, w in module.state_dict().items():
            k = prefix + name
            if k.endswith("mixer.conv.bias") and not a.conv_bias:  # use_conv_bias=False: a zero bias
                state[name] = torch.zeros(w.shape, dtype=torch.float32)
                continue
            if k not in renamed:
                raise SpecError(
                    "weights",
                    f"no {k!r}",
                    f"every weight of this {a.kind} config ({a.n_layer} layers; checkpoint key '[backbone.]{k}')",
                )
            key, t = renamed[k]
            if tuple(t.shape) != tuple(w.shape):
                raise SpecError(f"weights[{key}]", tuple(t.shape), f"shape {tuple(w.shape)} for this config")
            if not t.is_floating_point():
                raise SpecError(f"weights[{key}].dtype", str(t.dtype), "a floating-point tensor")
            state[name] = t
            used.add(k)
        module.load_state_dict(state, strict=True, assign=True)  # the read tensors become the parameters

    # an extra key is refused before anything is built
    expected = _expected_keys(a)
    extra = sorted(k for k in renamed if k not in expected)
    if extra:
        key, t = renamed[extra[0]]
        raise SpecError(
            f"weights[{key}]",
            tuple(t.shape),
            f"a weight of this {a.kind} config ({a.n_layer} layers); the mapping has no place for it",
        )
    return _assemble(a, fill)


def _expected_keys(a: Arch) -> set[str]:
    with shapes_only():
        mixer = _mixer(a, seed=0)
    one = Block(mixer, a.d_model, "none", mlp=False, dropout=0.0, gen=generator("pretrained", 0))
    one.norm = _norm(a)
    per = list(one.state_dict())
    keys = {f"layers.{i}.{k}" for i in range(a.n_layer) for k in per}
    keys |= {"encoder.weight", "norm.weight"} | ({"norm.bias"} if a.norm == "layernorm" else set())
    return keys | (set() if a.tie else {"decoder.weight"})


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
    model = _load_checked(arch, given).to(dtype=dtype, device=device).eval()
    model.tokenizer = tokenizer_for(folder, arch.vocab_size)
    model.meta = {
        "format": fmt,
        "source": str(source),
        "folder": str(folder),
        "files": files,
        "config": cfg,
        "arch": arch.to_dict(),
        "parameters": _count(model),
        "dtype": str(dtype).replace("torch.", ""),
        "tokenizer": model.tokenizer.kind,
        "dt_init": {"dt_min": arch.dt_min, "dt_max": arch.dt_max, "dt_floor": arch.dt_floor},
    }
    return model


def _load_run(folder: Path, dtype, device) -> SequenceModel:
    from workbench.store import open_run
    from workbench.train.checkpoints import load_model

    run = open_run(folder)
    model = load_model(run).to(dtype=dtype, device=device).eval()
    spec = run.spec
    vocab = model.encoder.num_embeddings if isinstance(model.encoder, nn.Embedding) else 0
    if not vocab:
        raise SpecError("source", str(folder), "a run of a token model (vocab_size > 0) to read text")
    model.tokenizer = tokenizer_for(None, vocab)
    ssm = spec.get("ssm", {})
    model.meta = {
        "format": "workbench-run",
        "source": str(folder),
        "folder": str(folder),
        "files": [],
        "config": spec,
        "arch": {
            "kind": spec["model"].get("layer"),
            "n_layer": spec["model"].get("n_layers"),
            "d_model": spec["model"].get("d_model"),
            "vocab_size": vocab,
        },
        "parameters": _count(model),
        "dtype": str(dtype).replace("torch.", ""),
        "tokenizer": model.tokenizer.kind,
        "dt_init": {"dt_min": ssm.get("dt_min", 1e-3), "dt_max": ssm.get("dt_max", 1e-1), "dt_floor": 1e-4},
    }
    return model
