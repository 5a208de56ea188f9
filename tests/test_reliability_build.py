"""`ssm.learn_a false` builds every layer with every diagonal init (a frozen A is a buffer) and A stays
put through an optimizer step while the rest trains (12 of 12 such builds raised KeyError before)."""

import pytest
import torch

from workbench.specs import DIAGONAL_INITS, RunSpec
from workbench.ssm.mamba import MAMBA_INITS
from workbench.train.build import build_run_model


@pytest.mark.parametrize("layer", ["s4d", "mamba"])
@pytest.mark.parametrize("init", DIAGONAL_INITS)
def test_frozen_a_builds_and_stays_frozen(layer, init):
    if layer == "mamba" and init not in MAMBA_INITS:
        pytest.skip(f"mamba does not take init {init!r} (refused with a SpecError either way)")
    run = RunSpec.from_dict(
        {
            "model": {"layer": layer, "d_model": 8, "n_layers": 1},
            "ssm": {"init": init, "learn_a": False, "d_state": 4},
            "task": {"name": "adding", "seq_len": 16},
        }
    )
    model = build_run_model(run)
    params = dict(model.named_parameters())
    frozen = {k: v.clone() for k, v in model.named_buffers() if k.rsplit(".", 1)[-1] in ("w", "A_log", "A_im")}
    assert frozen and not any(k in params for k in frozen)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(2, 16, 2, generator=torch.Generator().manual_seed(0))).square().mean().backward()
    opt.step()
    state = dict(model.named_buffers())
    assert all(torch.equal(state[k], v) for k, v in frozen.items())
