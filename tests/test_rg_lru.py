"""Hawk's RG-LRU: scan = step loop, the initialization of a^c, the gated recurrence in closed form."""

import math

import pytest
import torch

from workbench import analysis
from workbench.errors import SpecError
from workbench.specs import ModelSpec, RunSpec
from workbench.ssm.model import build_model
from workbench.ssm.probe import capture
from workbench.ssm.rg_lru import RGLRU, rg_lru_lambda_init


def rel_err(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max()) / max(1.0, float(b.abs().max()))


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-8), (torch.float32, 1e-4)])
def test_scan_equals_step_loop_values_and_gradients(dtype, tol):
    torch.manual_seed(0)
    m = RGLRU(d_model=8, expand=2, heads=4, seed=2).to(dtype)
    x = torch.randn(2, 70, 8, dtype=dtype, requires_grad=True)
    y, y_ref = m(x), m.forward_ref(x)
    assert rel_err(y, y_ref) <= tol
    w = torch.randn_like(y)
    params = [x] + list(m.parameters())
    for a, b in zip(torch.autograd.grad((y * w).sum(), params), torch.autograd.grad((y_ref * w).sum(), params)):
        assert rel_err(a, b) <= 10 * tol


def test_lambda_init_makes_a_to_the_c_uniform_on_the_ring():
    g = torch.Generator().manual_seed(0)
    lam = rg_lru_lambda_init(20000, 8.0, 0.9, 0.999, g)
    ac = torch.sigmoid(lam) ** 8
    assert float(ac.min()) >= 0.9 - 1e-12 and float(ac.max()) <= 0.999 + 1e-12
    qs = torch.quantile(ac, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    assert torch.allclose(qs, torch.tensor([0.92475, 0.9495, 0.97425], dtype=torch.float64), atol=3e-3)
    with pytest.raises(SpecError, match="ssm.r_min"):
        rg_lru_lambda_init(4, 8.0, 0.99, 0.9, g)


def test_gates_follow_the_closed_form():
    """Zero gate weights: r = σ(b_a), i = σ(b_x) constant, so a_t = σ(Λ)^{c·r} and the operator is
    M_ij = a^{i−j}·√(1 − a²)·i (j ≥ 1), a^i·i on the first token."""
    torch.manual_seed(0)
    m = RGLRU(d_model=4, expand=1, heads=2, c=8.0, seed=1).double()
    with torch.no_grad():
        m.W_a.zero_(), m.W_x.zero_()
        m.b_a.fill_(0.3), m.b_x.fill_(-0.2)
    x = torch.randn(1, 9, 4, dtype=torch.float64)
    r, i = torch.sigmoid(torch.tensor(0.3, dtype=torch.float64)), torch.sigmoid(torch.tensor(-0.2, dtype=torch.float64))
    a = torch.sigmoid(m.Lambda.detach()) ** (8 * r)  # (E,)
    assert torch.allclose(m.a_at_rest(), a, atol=1e-12)
    M = m.operator(x)[0]  # (E, L, L)
    t = torch.arange(9, dtype=torch.float64)
    lag = (t[:, None] - t[None, :]).clamp(min=0)
    expect = a[:, None, None] ** lag * torch.tril(torch.ones(9, 9, dtype=torch.float64))
    norm = torch.sqrt(1 - a**2)[:, None].expand(-1, 9).clone()
    norm[:, 0] = 1.0
    expect = expect * (norm * i)[:, None, :]
    assert torch.allclose(M, expect, atol=1e-12)
    with capture(m, "state") as seen, torch.no_grad():
        m(x)
        xc = m.conv(m.in_x(x).transpose(1, 2))[..., :9]  # (1, E, L) the conv output the operator acts on
    assert torch.allclose(torch.einsum("eij,ej->ie", M, xc[0]), seen["state"][0], atol=1e-12)


def test_normalized_input_keeps_unit_variance():
    """h_t = a h_{t−1} + √(1 − a²) x_t with white unit-variance x has stationary variance 1 for every a."""
    g = torch.Generator().manual_seed(0)
    a = torch.tensor([0.5, 0.9, 0.99], dtype=torch.float64)
    x = torch.randn(4000, 3, 64, generator=g, dtype=torch.float64)
    h, hs = torch.zeros(3, 64, dtype=torch.float64), []
    for x_t in x.unbind(0):
        h = a[:, None] * h + torch.sqrt(1 - a**2)[:, None] * x_t
        hs.append(h)
    var = torch.stack(hs[1000:]).var(dim=(0, 2))
    assert torch.allclose(var, torch.ones(3, dtype=torch.float64), atol=0.1)


def test_rg_lru_in_models_probes_and_half_lives():
    model = build_model(ModelSpec(layer="rg-lru", d_model=8, expand=2, heads=4, vocab_size=10))
    x = torch.randint(0, 10, (2, 16))
    ds = analysis.selective_forgetting(model, x)
    for name in ("recurrence_gate", "input_gate", "a", "decay_to_end"):
        assert ds[name].dims == ("layer", "sample", "channel", "token")
    spec = analysis.spectrum(model)
    a = model.layers[0].mixer.a_at_rest().double().numpy()
    assert (
        abs(spec["half_life"].isel(layer=0, mode=0).values - math.log(2) / -torch.log(torch.tensor(a)).numpy()).max()
        < 1e-6
    )
    assert analysis.hidden_attention(model, x)["alpha"].shape == (2, 16, 16, 16)
    with pytest.raises(SpecError, match="model.heads"):
        RunSpec.from_dict({"model": {"layer": "rg-lru", "d_model": 6, "expand": 1, "heads": 4}})
