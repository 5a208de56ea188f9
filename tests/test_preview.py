"""One preview for the dashboard, the run probes and the benchmark: the same names, the same values
as each analysis function called on its own (the slow reference), and the same on screen as on disk."""

import numpy as np
import pytest
import torch
import xarray as xr

from workbench.analysis import (
    frequency_response,
    gradient_memory,
    hidden_attention,
    init_audit,
    kernels,
    memory_function,
    selective_forgetting,
    spectrum,
    token_dynamics,
)
from workbench.analysis.kernels import frequency_response_closed_form
from workbench.analysis.preview import FAST, NAMES, preview, preview_name, stored_name
from workbench.errors import SpecError
from workbench.specs import ModelSpec, RunSpec, SSMSpec
from workbench.ssm.model import build_model
from workbench.train.probes import Probes, preview_run


def _close(a: xr.Dataset, b: xr.Dataset):
    xr.testing.assert_allclose(a, b)
    assert a.attrs == b.attrs


def test_lti_preview_equals_each_function_separately():
    m = build_model(ModelSpec(d_model=8, n_layers=2), SSMSpec(d_state=8)).double()
    p = preview(m, 64)  # no inputs: the closed-form quantities and the memory function
    assert set(p) == {"kernels", "spectrum", "frequency_response", "audit", "memory"}
    _close(p["kernels"], kernels(m, 64))
    _close(p["spectrum"], spectrum(m))
    _close(p["frequency_response"], frequency_response(m, length=64))
    _close(p["audit"], init_audit(m))
    _close(p["memory"], memory_function(m, 64))
    # the shared-kernel response against the closed form per mode on the same grid
    ref = frequency_response_closed_form(m, n_freq=33, length=64)
    assert np.allclose(p["frequency_response"].gain.values, ref.gain.values, rtol=1e-8, atol=1e-10)


def test_selective_preview_with_inputs_equals_each_function():
    torch.manual_seed(0)
    m = (
        build_model(
            ModelSpec(layer="mamba", d_model=8, n_layers=2, vocab_size=12),
            SSMSpec(d_state=4, init="s4d-real", dt_transform="softplus"),
        )
        .double()
        .eval()
    )
    x = torch.randint(0, 12, (3, 16), generator=torch.Generator().manual_seed(1))
    p = preview(m, 16, x, n_projections=None)
    assert {"kernels", "spectrum", "selective", "attention", "tokens", "gradient_memory"} <= set(p)
    assert "memory" not in p and "frequency_response" not in p  # a token model; kernels are input-dependent
    _close(p["kernels"], kernels(m, 16, x[:1]))
    _close(p["selective"], selective_forgetting(m, x[:2]))
    _close(p["attention"], hidden_attention(m, x[:1]))
    _close(p["tokens"], token_dynamics(m, x[:2]))
    _close(p["gradient_memory"], gradient_memory(m, x[:2]))


def test_fast_names_need_no_inputs_and_unknown_names_are_refused():
    m = build_model(ModelSpec(d_model=8), SSMSpec(d_state=8))
    assert set(preview(m, 32, names=FAST)) == set(FAST)
    with pytest.raises(SpecError, match="preview.*one of kernels"):
        preview(m, 32, names=("kernel",))


def test_probes_store_the_preview_under_one_memory_name():
    run = RunSpec.from_dict(
        {
            "model": {"layer": "s4d", "d_model": 8, "n_layers": 1},
            "ssm": {"d_state": 4},
            "task": {"name": "selective-copying", "noise_len": 8, "n_data": 2},
        }
    )
    from workbench.tasks import test_batches
    from workbench.train.build import build_run_model

    model = build_run_model(run).eval()
    batch = next(iter(test_batches(run.task, 4).values()))
    probes = Probes(model, batch, batch.inputs.shape[1])
    rec = probes.compute(model)
    assert set(probes.initial) == set(rec)  # a run records the choosing pass at step 0: the same quantities
    for name in ("kernels", "memory", "ess"):
        _close(probes.initial[name], rec[name])
    assert set(rec) == {"kernels", "spectrum", "memory", "tokens", "ess", "state_norms"}  # gradient memory as "memory"
    assert "grad_norm" in rec["memory"] and preview_name("memory", rec["memory"]) == "gradient_memory"
    assert stored_name("gradient_memory") == "memory" and stored_name("kernels") == "kernels"
    on_screen = preview_run(run, model=model)
    _close(rec["kernels"], on_screen["kernels"])
    _close(rec["spectrum"], on_screen["spectrum"])
    assert set(on_screen) <= set(NAMES)
    assert set(preview_run(run, fast_only=True, model=model)) == {"kernels", "spectrum", "frequency_response", "audit"}
