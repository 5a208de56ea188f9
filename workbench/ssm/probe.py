"""Named read-out points inside models (as TransformerLens's hook points).

A `Probe` is an identity module placed where a quantity is worth looking at (Δ_t, gates,
states, outputs). `capture(model, names)` records what flows through the matching probes:

    with capture(model, ["delta", "layers.0.mixer.y"]) as seen:
        model(x)
    seen["layers.0.mixer.delta"]  # (B, D, L)
"""

from __future__ import annotations

import fnmatch
from contextlib import contextmanager

import torch
from torch import nn


class Probe(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def probes(*names: str) -> nn.ModuleDict:
    """A layer's probes, stored as `self.probes`; their public key drops the 'probes' segment."""
    return nn.ModuleDict({n: Probe() for n in names})


def _key(path: str) -> str:
    return ("." + path).replace(".probes.", ".")[1:]


def probe_names(model: nn.Module) -> list[str]:
    return [_key(name) for name, m in model.named_modules() if isinstance(m, Probe)]


def _matches(path: str, pattern: str) -> bool:
    """A bare name ('delta') matches any probe of that name; otherwise a glob on the path."""
    if any(c in pattern for c in "*?[") or "." in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    return path.rsplit(".", 1)[-1] == pattern


@contextmanager
def capture(model: nn.Module, names: list[str] | str, detach: bool = True):
    """Record the output of every probe matching `names`; yields a dict keyed by probe path."""
    names = [names] if isinstance(names, str) else list(names)
    seen: dict[str, torch.Tensor] = {}
    handles = []
    for path, m in model.named_modules():
        path = _key(path)
        if isinstance(m, Probe) and any(_matches(path, n) for n in names):

            def hook(_m, _inp, out, path=path):
                seen[path] = out.detach() if detach else out

            handles.append(m.register_forward_hook(hook))
    if not handles:
        from workbench.errors import SpecError

        raise SpecError("probe", names, "names of probes in this model: " + ", ".join(probe_names(model)))
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()
