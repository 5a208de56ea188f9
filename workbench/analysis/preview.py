"""The preview: what the workbench shows of a model, computed by one function for every caller.

The dashboard (an untrained model as a spec is edited), a run's probes (every `probe_every` steps)
and the preview benchmark all call `preview`, so they compute the same quantities under the same
names, with the kernels shared between the kernel and frequency-response views:

    kernels             K[ℓ] of LTI layers; selective layers: the impulse response on `inputs`
    spectrum            poles Ā and eigenvalues A per layer
    frequency_response  H(e^{iω}), from the kernels above (LTI layers only)
    audit               what the initialization realized (Δ, Re A, half-lives)
    memory              StableSSM's memory function (models with continuous inputs)
    gradient_memory     ‖∂y_T/∂u_{T-t}‖ over lag t on `inputs` (any model)
    selective           Δ_t, decay and gates per token (selective and gated layers)
    attention           hidden attention α_ij (Mamba, Mamba-2, attention)
    tokens              token norms and trajectories over depth
    ess                 effective state size per position (Parnichkun et al. 2025) on `inputs`
    state_norms         ‖h_t‖ per layer over positions on `inputs`

A quantity the model does not have (SpecError from its analysis) is absent from the result.
"""

from __future__ import annotations

import torch
import xarray as xr

from workbench.analysis.audit import init_audit
from workbench.analysis.ess import ess_probe
from workbench.analysis.kernels import frequency_response, kernels, response_from_kernels, spectrum
from workbench.analysis.memory import gradient_memory, memory_function
from workbench.analysis.selective import hidden_attention, selective_forgetting
from workbench.analysis.state_norms import state_norms
from workbench.analysis.tokens import token_dynamics
from workbench.analysis.walk import mixers
from workbench.errors import SpecError
from workbench.ssm.attention import Attention
from workbench.ssm.deltanet import DeltaNet
from workbench.ssm.gla import GLA
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.mlstm import MLSTM
from workbench.ssm.rg_lru import RGLRU

FAST = ("kernels", "spectrum", "frequency_response", "audit")  # closed forms: milliseconds, no pass on inputs
SLOW = (
    "memory",
    "gradient_memory",
    "selective",
    "attention",
    "tokens",
    "ess",
    "state_norms",
)  # forward/backward passes on inputs
NAMES = FAST + SLOW
SELECTIVE = (Mamba, Mamba2, MLSTM, GLA, DeltaNet, RGLRU)  # Δ_t, gates, α_t/β_t or a_t per token
ATTENTION = (Mamba, Mamba2, Attention, DeltaNet, RGLRU)  # a materialized mixing matrix


def preview(
    model, length: int, inputs: torch.Tensor | None = None, names=NAMES, n_projections: int | None = 2
) -> dict[str, xr.Dataset]:
    """{name: Dataset} for each of `names` the model has (see the module docstring).

    `inputs` (batch, L[, d]): a probe batch of the task; the quantities that need one are absent
    without it. `n_projections`: random projections of the gradient memory (fewer: faster, noisier;
    None: the exact Jacobian norm)."""
    unknown = set(names) - set(NAMES)
    if unknown:
        raise SpecError("preview", sorted(unknown)[0], "one of " + ", ".join(NAMES))
    out: dict[str, xr.Dataset] = {}

    def attempt(name, fn):
        if name in names and name not in out:
            try:
                out[name] = fn()
            except SpecError:  # this model has no such quantity (e.g. the kernels of attention)
                pass

    attempt("kernels", lambda: kernels(model, length))
    lti = "kernels" in out
    attempt("spectrum", lambda: spectrum(model))
    if lti:  # the rFFT of the kernels just computed; the closed form is the tested reference
        attempt("frequency_response", lambda: response_from_kernels(model, out["kernels"]))
    elif "frequency_response" in names:
        attempt("frequency_response", lambda: frequency_response(model, length=length))
    attempt("audit", lambda: init_audit(model))
    attempt("memory", lambda: memory_function(model, length))
    if inputs is None:
        return out
    attempt("kernels", lambda: kernels(model, length, inputs[:1]))  # selective: the impulse response
    attempt("gradient_memory", lambda: gradient_memory(model, inputs[:2], n_projections=n_projections))
    kinds = tuple(type(m) for m in mixers(model))
    if any(issubclass(k, SELECTIVE) for k in kinds):  # skip a forward pass whose answer is "not applicable"
        attempt("selective", lambda: selective_forgetting(model, inputs[:2]))
    if any(issubclass(k, ATTENTION) for k in kinds):
        attempt("attention", lambda: hidden_attention(model, inputs[:1]))
    attempt("tokens", lambda: token_dynamics(model, inputs[:2]))
    attempt("ess", lambda: ess_probe(model, inputs))
    attempt("state_norms", lambda: state_norms(model, inputs[:1]))
    return out


# A run stores one memory curve under "memory": StableSSM's memory function where the model has
# one, else the gradient memory (token models). Runs on disk and the shipped examples use that name,
# so the probes write the preview's `gradient_memory` there and readers map it back, here only.
STORED_AS = {"gradient_memory": "memory"}


def stored_name(name: str) -> str:
    """The probe name under which a run stores preview quantity `name`."""
    return STORED_AS.get(name, name)


def preview_name(stored: str, ds: xr.Dataset) -> str:
    """The preview name of a stored probe (the inverse of `stored_name`, told apart by its variables)."""
    return "gradient_memory" if stored == "memory" and "grad_norm" in ds else stored
