"""Mamba-2's SSD: the chunked fast path, the quadratic (attention-like) form and the recurrence agree,
at lengths spanning several chunks and not divisible by the chunk."""

import pytest
import torch

from workbench.specs import ModelSpec, default_ssm
from workbench.ssm.mixers import MIXERS
from workbench.ssm.recurrence import step_loop
from workbench.ssm.ssd import segsum, ssd_chunked, ssd_quadratic, ssd_recurrent


def ssd_inputs(L, seed=0, b=2, h=3, P=2, N=4):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    dt = torch.nn.functional.softplus(r(b, L, h))
    a = -(1 + 15 * torch.rand(h, generator=g, dtype=torch.float64))
    return [r(b, L, h, P), dt, a, r(b, L, N), r(b, L, N)]


def test_segsum_is_the_sum_over_the_open_closed_interval():
    x = torch.randn(2, 6, dtype=torch.float64)
    S = segsum(x)
    for i in range(6):
        for j in range(6):
            want = x[:, j + 1 : i + 1].sum(-1) if j <= i else torch.full((2,), -torch.inf, dtype=torch.float64)
            assert torch.allclose(S[:, i, j], want, atol=1e-14)


@pytest.mark.parametrize("L", [1, 7, 16, 17, 64, 100, 257])
@pytest.mark.parametrize("chunk", [16, 64])
def test_chunked_equals_recurrence_values_and_gradients(L, chunk):
    args = [t.requires_grad_() for t in ssd_inputs(L, seed=L)]
    y = ssd_chunked(*args, chunk=chunk)
    y_ref = ssd_recurrent(*args)
    assert y.shape == y_ref.shape == args[0].shape
    assert torch.allclose(y, y_ref, rtol=1e-10, atol=1e-10)
    w = torch.randn_like(y)
    for a, b in zip(torch.autograd.grad((y * w).sum(), args), torch.autograd.grad((y_ref * w).sum(), args)):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("L", [1, 5, 40])
def test_quadratic_form_equals_recurrence(L):
    """y_i = Σ_{j≤i} (C_i·B_j) exp(Σ_{k=j+1..i} Δ_k a) Δ_j x_j (Dao & Gu 2024, the SSD's matrix form)."""
    args = ssd_inputs(L, seed=100 + L)
    assert torch.allclose(ssd_quadratic(*args), ssd_recurrent(*args), rtol=1e-10, atol=1e-10)


def test_quadratic_form_by_hand_for_one_output():
    x, dt, a, B, C = ssd_inputs(5, seed=9)
    i, b, hh = 4, 1, 2
    want = sum(
        (C[b, i] @ B[b, j]) * torch.exp(a[hh] * dt[b, j + 1 : i + 1, hh].sum()) * dt[b, j, hh] * x[b, j, hh]
        for j in range(i + 1)
    )
    assert torch.allclose(ssd_quadratic(x, dt, a, B, C)[b, i, hh], want, rtol=1e-12)


@pytest.mark.parametrize("L, chunk", [(29, 8), (64, 16), (50, 64)])
def test_mamba2_layer_across_chunks(L, chunk):
    spec = ModelSpec(layer="mamba2", d_model=8, heads=2, chunk=chunk)
    m = MIXERS["mamba2"](spec, default_ssm("mamba2").replace(d_state=4), seed=0).double()
    x = torch.randn(2, L, 8, generator=torch.Generator().manual_seed(L), dtype=torch.float64, requires_grad=True)
    y, y_ref = m(x), m.forward_ref(x)
    assert torch.allclose(y, y_ref, rtol=1e-10, atol=1e-10)
    with torch.no_grad():
        assert torch.allclose(step_loop(m, x), y, rtol=1e-9, atol=1e-10)
    params = [x] + list(m.parameters())
    w = torch.randn_like(y)
    for a, b in zip(torch.autograd.grad((y * w).sum(), params), torch.autograd.grad((y_ref * w).sum(), params)):
        assert torch.allclose(a, b, rtol=1e-8, atol=1e-9)
