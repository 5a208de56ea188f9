"""S4's optimizer hint: SSM parameters (A, Δ, B) carry their own lr and no weight decay."""

from __future__ import annotations

import torch


def hint(p: torch.nn.Parameter, lr: float) -> torch.nn.Parameter:
    p._optim = {"lr": lr, "weight_decay": 0.0}
    return p


def param_groups(model: torch.nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """Optimizer groups: one for ordinary parameters, one per distinct hint."""
    plain, hinted = [], {}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        h = getattr(p, "_optim", None)
        if h is None:
            plain.append(p)
        else:
            hinted.setdefault(tuple(sorted(h.items())), []).append(p)
    groups = [{"params": plain, "lr": lr, "weight_decay": weight_decay}] if plain else []
    groups += [{"params": ps, **dict(key)} for key, ps in hinted.items()]
    return groups
