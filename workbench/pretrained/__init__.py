"""Pretrained checkpoints (Hugging Face / mamba_ssm Mamba and Mamba-2, workbench runs) as workbench models."""

from workbench.pretrained.load import build_from_arch, load_pretrained
from workbench.pretrained.source import cached_ids, resolve

__all__ = ["load_pretrained", "build_from_arch", "resolve", "cached_ids"]
