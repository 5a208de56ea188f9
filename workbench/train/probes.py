"""What a run records every `probe_every` steps, computed through workbench.analysis.

Which probes apply is decided once from the model (a layer kind without a quantity skips it);
each returns an xarray Dataset that the store appends along `step`.
"""
from __future__ import annotations

import torch

from workbench import analysis
from workbench.errors import SpecError


def _token_norms(model, batch):
    ds = analysis.token_dynamics(model, batch.inputs)
    return ds[["norm", "projection"]].isel(sample=slice(0, 2))


def _memory(model, batch, length):
    if isinstance(getattr(model, "encoder", None), torch.nn.Embedding):
        return analysis.gradient_memory(model, batch.inputs[:4], n_projections=8)
    return analysis.memory_function(model, length)


CANDIDATES = {
    # LTI kernels at the probe length; selective layers: the impulse response on the probe batch
    "kernels": lambda model, batch, L: analysis.kernels(model, min(L, batch.inputs.shape[1]), batch.inputs[:1]),
    "spectrum": lambda model, batch, L: analysis.spectrum(model),
    "memory": _memory,
    "selective": lambda model, batch, L: analysis.selective_forgetting(model, batch.inputs[:2]),
    "tokens": lambda model, batch, L: _token_norms(model, batch),
    "ess": lambda model, batch, L: analysis.ess_probe(model, batch.inputs),
    "state_norms": lambda model, batch, L: analysis.state_norms(model, batch.inputs[:1]),
}


class Probes:
    def __init__(self, model, batch, length: int):
        self.batch, self.length, self.active = batch, length, {}
        for name, fn in CANDIDATES.items():
            try:
                fn(model, batch, length)
            except SpecError:  # this model has no such quantity
                continue
            self.active[name] = fn

    @torch.no_grad()
    def compute(self, model) -> dict:
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():  # gradient memory needs it; the others run under no_grad inside
                return {n: fn(model, self.batch, self.length) for n, fn in self.active.items()}
        finally:
            model.train(was_training)
