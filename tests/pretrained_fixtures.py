"""Tiny Hugging Face Mamba / Mamba-2 checkpoints built and saved by `transformers` itself, and the
same weights re-keyed to mamba_ssm's MambaLMHeadModel layout (config.json + pytorch_model.bin)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

VOCAB = 300  # ≥ 256: the byte-level fallback tokenizer applies


def hf_model(kind: str, tie: bool, layers: int = 3, seed: int = 0):
    from transformers import Mamba2Config, Mamba2ForCausalLM, MambaConfig, MambaForCausalLM

    torch.manual_seed(seed)
    if kind == "mamba":
        cfg = MambaConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            state_size=16,
            num_hidden_layers=layers,
            conv_kernel=4,
            expand=2,
            tie_word_embeddings=tie,
        )
        model = MambaForCausalLM(cfg)
    else:
        cfg = Mamba2Config(
            vocab_size=VOCAB,
            hidden_size=32,
            state_size=16,
            num_hidden_layers=layers,
            conv_kernel=4,
            expand=2,
            num_heads=8,
            head_dim=8,
            n_groups=2,
            chunk_size=16,
            tie_word_embeddings=tie,
        )
        model = Mamba2ForCausalLM(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # move every weight off its init (norm weights 1, conv bias 0, ...) except Δ and A
        for name, p in model.named_parameters():
            if not any(k in name for k in ("A_log", "dt_proj.bias", "dt_bias")):
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return model.eval()


def save_hf(kind: str, tie: bool, folder: Path, **kw) -> Path:
    hf_model(kind, tie, **kw).save_pretrained(folder)
    return folder


def to_mamba_ssm(hf_folder: Path, folder: Path, vocab_size: int = VOCAB - 2, pad_multiple: int = 4) -> Path:
    """Re-key a saved HF checkpoint to mamba_ssm's layout; vocab_size + padding recovers VOCAB."""
    from safetensors.torch import load_file

    cfg = json.loads((hf_folder / "config.json").read_text())
    sd = load_file(hf_folder / "model.safetensors")
    out = {k.replace("backbone.embeddings.", "backbone.embedding."): v for k, v in sd.items()}
    if "lm_head.weight" not in out:  # mamba_ssm's state_dict holds the tied head too
        out["lm_head.weight"] = out["backbone.embedding.weight"].clone()
    ssm_cfg = {"d_state": cfg["state_size"], "d_conv": cfg["conv_kernel"], "expand": cfg["expand"]}
    if cfg["model_type"] == "mamba2":
        ssm_cfg.update(layer="Mamba2", headdim=cfg["head_dim"], ngroups=cfg["n_groups"], chunk_size=cfg["chunk_size"])
    new = {
        "d_model": cfg["hidden_size"],
        "d_intermediate": 0,
        "n_layer": cfg["num_hidden_layers"],
        "vocab_size": vocab_size,
        "ssm_cfg": ssm_cfg,
        "attn_layer_idx": [],
        "attn_cfg": {},
        "rms_norm": True,
        "residual_in_fp32": True,
        "fused_add_norm": True,
        "pad_vocab_size_multiple": pad_multiple,
        "tie_embeddings": cfg["tie_word_embeddings"],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(new))
    torch.save(out, folder / "pytorch_model.bin")
    return folder


def word_tokenizer(folder: Path, words: list[str]) -> None:
    """A word-level tokenizer.json (ids = list order), as a checkpoint would ship it."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["[UNK]"] + words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(folder / "tokenizer.json"))
