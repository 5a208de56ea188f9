"""What a run records every `probe_every` steps: the preview's quantities (workbench.analysis.preview),
on a fixed probe batch of the task.

Which quantities apply is decided once from the model (a layer kind without one skips it); each is
an xarray Dataset that the store appends along `step`, under `stored_name` (one memory curve per run).
"""

from __future__ import annotations

import torch

from workbench.analysis.preview import FAST, preview, stored_name
from workbench.specs import RunSpec

PROBED = (
    "kernels",
    "spectrum",
    "memory",
    "gradient_memory",
    "selective",
    "attention",
    "tokens",
    "ess",
    "state_norms",
)
N_PROJECTIONS = 8  # gradient memory: random projections per probe (the preview on screen uses 2)
# hidden attention per probe step: the first example (the preview's), its first ATTENTION_LENGTH
# tokens, the first ATTENTION_GROUPS channels|heads of each layer, in float32 (at most
# 4 × 64 × 64 × 2 arrays × 4 B = 128 KiB per layer per step, where the full matrices grow as L²).
# Every mixer is causal, so α_ij for i, j < 64 on the first 64 tokens is the full matrix's corner;
# the min-max scaling is over that corner.
ATTENTION_GROUPS, ATTENTION_LENGTH = 4, 64


def bounded_attention(model, inputs):
    """The hidden attention a run stores: `hidden_attention` on the first example's first
    ATTENTION_LENGTH tokens, first ATTENTION_GROUPS channels|heads (absent: {})."""
    out = preview(model, ATTENTION_LENGTH, inputs[:1, :ATTENTION_LENGTH], names=("attention",))
    if "attention" not in out:
        return {}
    ds = out["attention"]
    group = "head" if "head" in ds.dims else "channel"
    ds = ds.isel({group: slice(0, ATTENTION_GROUPS)}).astype("float32")
    stored = f"first {ATTENTION_GROUPS} {group}s, first {ATTENTION_LENGTH} tokens of the first example"
    return {"attention": ds.assign_attrs(stored=stored)}


class Probes:
    def __init__(self, model, batch, length: int):
        self.batch, self.length = batch, length
        got = self._evaluate(model, PROBED)
        # one memory curve: the memory function where the model has one, else the gradient memory
        self.active = tuple(n for n in got if not (n == "gradient_memory" and "memory" in got))
        # the model as given, already computed: a run records it at step 0 instead of computing it twice
        self.initial = {stored_name(n): got[n] for n in self.active}

    def _preview(self, model, names) -> dict:
        rest = tuple(n for n in names if n != "attention")
        out = preview(model, self.length, self.batch.inputs, names=rest, n_projections=N_PROJECTIONS)
        if "tokens" in out:  # norms and trajectories; the full states would dominate the store
            out["tokens"] = out["tokens"][["norm", "projection"]].isel(sample=slice(0, 2))
        if "attention" in names:  # (layers, C, L, L) grows as L²: a bounded corner of it
            with torch.no_grad():
                out.update(bounded_attention(model, self.batch.inputs))
        return out

    @torch.no_grad()
    def _evaluate(self, model, names) -> dict:
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():  # gradient memory needs it; the others run under no_grad inside
                return self._preview(model, names)
        finally:
            model.train(was_training)

    def compute(self, model) -> dict:
        return {stored_name(n): ds for n, ds in self._evaluate(model, self.active).items()}


def preview_run(run: RunSpec, fast_only: bool = False, model=None) -> dict:
    """The preview of `run`'s untrained model (or of `model`), as the dashboard shows it: `preview` on a
    fixed probe batch of the task. `fast_only`: only the closed-form quantities a knob waits for (no
    pass on the batch), plus a selective model's impulse response, which stands in for its kernels."""
    from workbench.tasks import test_batches
    from workbench.train.build import build_run_model

    model = build_run_model(run.validate()).eval() if model is None else model
    L = run.task.length()

    def batch():  # a fixed probe batch of the task (the test split's first)
        return next(iter(test_batches(run.task, 4).values())).inputs

    if not fast_only:
        return preview(model, L, batch())
    out = preview(model, L, names=FAST)
    if "kernels" not in out:
        out.update(preview(model, L, batch(), names=("kernels",)))
    return out
