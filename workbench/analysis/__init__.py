"""Analysis: pure functions from a model (or layer) to an `xarray.Dataset` with named dims. No plotting.

kernels, spectrum, frequency_response            what an LTI layer is (§5, §7)
memory_function, gradient_memory                 how fast it forgets
selective_forgetting, hidden_attention           what selective/gated layers do with their input
token_dynamics, token_regimes.regime_trials     depth as time (Vo et al.); the criterion tested
hippo_reconstruction, legs_convergence           HiPPO and S4D-LegS claims
init_audit                                       what the initialization realized
effective_state_size, ess_probe, state_norms     how much state a model uses (Parnichkun et al. 2025)
position_loss                                    loss and accuracy against position and length
reparam_sweep, fit_memory                        StableSSM: reparameterizations of Re A on lf-memory
preview                                          all of the preview's quantities at once
compare (group_curves, final_by_field)           several runs: mean ± std per group, final metric vs a field
"""

from workbench.analysis.audit import init_audit
from workbench.analysis.ess import effective_state_size, ess_probe
from workbench.analysis.hippo_reconstruction import hippo_reconstruction
from workbench.analysis.kernels import frequency_response, kernels, spectrum
from workbench.analysis.lti import layer_kernels, layer_spectrum, legs_convergence
from workbench.analysis.memory import gradient_memory, memory_function
from workbench.analysis.position_loss import position_loss
from workbench.analysis.preview import preview
from workbench.analysis.selective import hidden_attention, selective_forgetting
from workbench.analysis.stable_reparam import fit_memory, reparam_sweep
from workbench.analysis.state_norms import state_norms
from workbench.analysis.tokens import token_dynamics

__all__ = [
    "effective_state_size",
    "fit_memory",
    "reparam_sweep",
    "ess_probe",
    "position_loss",
    "state_norms",
    "frequency_response",
    "gradient_memory",
    "hidden_attention",
    "hippo_reconstruction",
    "init_audit",
    "kernels",
    "layer_kernels",
    "layer_spectrum",
    "legs_convergence",
    "memory_function",
    "preview",
    "selective_forgetting",
    "spectrum",
    "token_dynamics",
]
