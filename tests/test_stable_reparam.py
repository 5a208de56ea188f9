"""StableSSM's experiment: the sampled loss estimates its closed form; stable maps keep Re A < 0 while fitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.analysis.stable_reparam import fit_memory, linear_rnn, population_loss, reparam_sweep
from workbench.errors import SpecError
from workbench.tasks.regression import memory_rho


@pytest.mark.parametrize("memory", ["exponential", "polynomial"])
def test_sampled_loss_estimates_the_closed_form(memory):
    layer, L = linear_rnn("exp", d_state=4, seed=1), 24
    x = torch.randn(20000, L, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rho = memory_rho(memory, L)
    y = torch.stack([torch.stack([(rho[: t + 1].flip(0) * x[:, : t + 1]).sum(1)]) for t in range(L)], -1)[0]
    with torch.no_grad():
        mse = float((layer(x[..., None])[..., 0] - y).pow(2).mean())
    assert mse == pytest.approx(population_loss(layer, memory, L), rel=0.03)
    A_bar = layer.materialize().A_bar.detach()
    assert A_bar.imag.abs().max() == 0  # real modes, Δ ≡ 1: Ā = e^{Re A}
    np.testing.assert_allclose(A_bar.real, np.exp(-0.5), rtol=1e-6)


def test_stable_maps_stay_stable_and_fitting_lowers_the_loss():
    for rep in ("exp", "softplus", "best"):
        loss, re_a = fit_memory("polynomial", rep, L=20, d_state=4, steps=15, lr=0.3)
        assert (re_a < 0).all() and loss[-5:].mean() < loss[:5].mean()
    # Adam's first step moves every parameter by lr: w itself under direct, log(−Re A) under exp
    _, direct = fit_memory("polynomial", "direct", L=20, d_state=4, steps=2, lr=0.3)
    _, exp = fit_memory("polynomial", "exp", L=20, d_state=4, steps=2, lr=0.3)
    assert abs(direct[1] - direct[0]) == pytest.approx(0.3, rel=1e-6)
    assert abs(np.log(exp[1] / exp[0])) == pytest.approx(0.3, rel=1e-6)


def test_sweep_dataset_and_bad_names():
    ds = reparam_sweep(memories=("exponential",), reparams=("exp", "direct"), seeds=(0,), steps=3, L=8, d_state=2)
    assert ds.loss.dims == ("memory", "reparam", "seed", "step") and ds.loss.shape == (1, 2, 1, 3)
    assert ds.attrs["lr"] == 1e-2 and np.isfinite(ds.loss.values).all()
    with pytest.raises(SpecError, match="memory"):
        fit_memory("linear", "exp")
    with pytest.raises(SpecError, match="reparam"):
        fit_memory("polynomial", "tanh")
