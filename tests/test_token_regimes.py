"""The token-dynamics criterion in the paper's setting: the Mamba stack is the paper's flow, and the
criterion's regime is the observed one."""

import numpy as np
import pytest
import torch

from workbench.analysis.token_regimes import (
    EPS,
    KINDS,
    draw_parameters,
    geometric_steps,
    paper_s6_model,
    regime_trials,
    stable_step,
    token_flow,
)
from workbench.analysis.tokens import criterion_eigenvalues, token_dynamics


def _tokens(seed=1, batch=2, L=6, D=3):
    return torch.randn(batch, L, D, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", ["negative definite", "indefinite"])
def test_mamba_stack_is_an_euler_scheme_of_the_papers_flow(kind):
    """Against scipy's solution of the continuous system (hidden-attention form, no scan): the error
    of the layer stack is first order in the step (halving the step halves it)."""
    P = draw_parameters(0, kind)
    x = _tokens()
    errors = []
    for h, depth in ((0.01, 10), (0.005, 20)):
        stack = token_dynamics(paper_s6_model(*P, depth, h), x).state.values  # (depth + 1, B, L, D)
        flow = token_flow(x.numpy(), *P, np.arange(depth + 1) * h)
        errors.append(np.abs(stack[-1] - flow[-1]).max() / np.abs(flow[-1]).max())
    assert errors[0] < 0.02 and 1.8 < errors[0] / errors[1] < 2.2


def test_draws_steer_the_criterion_and_the_model_carries_it():
    for kind in KINDS:
        S_B, S_C, S_D, b, a = draw_parameters(3, kind)
        eig = np.linalg.eigvalsh((S_C.T @ S_B + S_B.T @ S_C) / 2)
        assert {"negative definite": eig.max() < -0.4, "positive definite": eig.min() > 0.4}.get(
            kind, eig.min() < -0.4 and eig.max() > 0.4
        )
        m = paper_s6_model(S_B, S_C, S_D, b, a, depth=1, step=0.1)
        # the block's x_proj carries S_B, S_C times 2/ε (the SiLU linearization): same eigenvalues, scaled
        assert np.allclose(criterion_eigenvalues(m.layers[0].mixer) * (EPS / 2) ** 2, eig, rtol=1e-8)


def test_a_large_step_is_not_the_flow():
    """Why `stable_step`: a contracting token overshoots under a large Euler step and blows up."""
    P = draw_parameters(0, "negative definite")
    x = _tokens(seed=0, L=8)
    assert token_dynamics(paper_s6_model(*P, 10, 0.5), x).attrs["observed"] == "divergent"
    steps = geometric_steps(stable_step(x.numpy(), *P), 10, 0.4)
    assert token_dynamics(paper_s6_model(*P, 10, steps), x).attrs["observed"] == "convergent"


def test_geometric_steps_reach_the_geometric_times():
    h = geometric_steps(0.1, 5, 0.5)
    assert np.allclose(np.cumsum(h), 0.1 * 1.5 ** np.arange(5)) and np.allclose(h[1:] / np.cumsum(h)[:-1], 0.5)


def test_criterion_predicts_the_observed_regime():
    df = regime_trials(seeds=(0, 1), depth=24, growth=0.4)
    assert (df.outside_setting == "").all()
    assert (df.predicted == df.kind.map({"negative definite": "convergent"}).fillna("divergent")).all()
    clear = df[np.minimum(df.eig_max.abs(), df.eig_min.abs()) > 0.1]  # not borderline: no eigenvalue near 0
    assert len(clear) == len(df) and clear.agree.mean() >= 0.9
