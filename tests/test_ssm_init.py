"""The init formulas hold on the materialized parameters (HiPPO 2020, S4D 2022, LRU 2023, StableSSM 2024)."""

import math

import numpy as np
import pytest
import torch

import workbench
from workbench.analysis import legs_convergence
from workbench.errors import SpecError
from workbench.specs import SSMSpec
from workbench.ssm.hippo import HIPPO, nplr
from workbench.ssm.reparam import DT, RE_A


def mat(**kw):
    H = kw.pop("H", 4)
    with torch.no_grad():
        return workbench.build_layer(SSMSpec(**kw), d_model=H).double().materialize()


def test_s4d_lin():
    p = mat(init="s4d-lin", d_state=16)
    n = torch.arange(8, dtype=torch.float64)
    assert torch.allclose(p.A.imag, (math.pi * n).expand(4, -1), atol=1e-6)
    assert torch.allclose(p.A.real, torch.full((4, 8), -0.5, dtype=torch.float64), atol=1e-6)
    assert p.conjugate_pairs


def test_s4d_inv():
    N = 32
    p = mat(init="s4d-inv", d_state=N)
    n = torch.arange(N // 2, dtype=torch.float64)
    assert torch.allclose(p.A.imag[0], (N / math.pi) * (N / (2 * n + 1) - 1), rtol=1e-6)


def test_s4d_legs_is_spectrum_of_normal_part():
    N = 16
    p = mat(init="s4d-legs", d_state=N)
    assert torch.allclose(p.A.real, torch.full_like(p.A.real, -0.5), atol=1e-6)
    _, _, _, S = nplr("legs", N)
    eig = torch.linalg.eigvals(S)
    upper = torch.sort(eig.imag[eig.imag > 0]).values
    assert torch.allclose(torch.sort(p.A.imag[0]).values, upper, rtol=1e-5)


def test_s4d_real_is_mambas():
    p = mat(init="s4d-real", d_state=8)
    assert torch.allclose(p.A.real[0], -torch.arange(1, 9, dtype=torch.float64), atol=1e-6)
    assert float(p.A.imag.abs().max()) == 0 and not p.conjugate_pairs


def test_lru_ring_radii_and_phases():
    p = mat(init="lru-ring", d_state=256, H=8, r_min=0.5, r_max=0.9, max_phase=math.pi / 10)
    r = p.A_bar.abs()
    assert float(r.min()) >= 0.5 - 1e-6 and float(r.max()) <= 0.9 + 1e-6
    # |λ|² uniform on [r_min², r_max²]: its mean is the midpoint
    assert abs(float((r**2).mean()) - (0.25 + 0.81) / 2) < 0.02
    phase = torch.angle(p.A_bar)
    assert float(phase.min()) >= -1e-6 and float(phase.max()) <= math.pi / 10 + 1e-6
    # γ normalization: B̄ = √(1-|λ|²)·B
    assert torch.allclose(p.B_bar, torch.sqrt(1 - r**2) * p.B, atol=1e-6)


def test_ptd_reports_conditioning_and_realizes_perturbed_legs():
    layer = workbench.build_layer(SSMSpec(init="ptd-legs", d_state=16, ptd_eps=1e-3), 2)
    assert 1 < layer.info["kappa_V"] < 1e8 and layer.info["perturbation_norm"] > 0
    A, _ = HIPPO["legs"](16)
    # eigenvalues move by at most about κ(V)·‖E‖ (Bauer–Fike)
    w = layer.materialize().A[0].detach().to(torch.complex128)
    dist = torch.cdist(torch.view_as_real(w), torch.view_as_real(torch.linalg.eigvals(A))).min(1).values
    assert float(dist.max()) < layer.info["kappa_V"] * layer.info["perturbation_norm"]


def test_ptd_smaller_perturbation_costs_conditioning():
    k = [
        workbench.build_layer(SSMSpec(init="ptd-legs", d_state=32, ptd_eps=e), 1).info["kappa_V"] for e in (1e-6, 1e-3)
    ]
    assert k[0] > 10 * k[1]


@pytest.mark.parametrize("reparam", ["direct", "exp", "softplus", "best"])
@pytest.mark.parametrize("init", ["s4d-lin", "s4d-legs", "random"])
def test_reparameterizations_reproduce_initial_re_a(init, reparam):
    p = mat(init=init, d_state=16, a_reparam=reparam)
    assert torch.allclose(p.A.real, torch.full_like(p.A.real, -0.5), atol=1e-6)


@pytest.mark.parametrize("reparam", ["direct", "exp", "softplus", "best"])
def test_reparam_roundtrip(reparam):
    f, inv = RE_A[reparam]
    a = -torch.logspace(-3, math.log10(1.9), 50, dtype=torch.float64)
    assert torch.allclose(f(inv(a)), a, rtol=1e-10)


def test_best_reparam_refuses_fast_real_modes():
    with pytest.raises(SpecError, match="ssm.a_reparam") as err:
        mat(init="s4d-real", d_state=8, a_reparam="best")
    assert "best" in str(err.value) and "(-2, 0)" in str(err.value)


def test_ptd_large_perturbation_is_a_clear_error():
    with pytest.raises(SpecError, match="ssm.ptd_eps"):
        mat(init="ptd-legs", d_state=64, ptd_eps=0.1)


@pytest.mark.parametrize("transform", ["exp", "softplus"])
def test_dt_log_uniform_in_range(transform):
    p = mat(init="s4d-lin", d_state=2, H=4000, dt_min=1e-3, dt_max=1e-1, dt_transform=transform)
    dt = p.dt.double()
    assert float(dt.min()) >= 1e-3 * (1 - 1e-6) and float(dt.max()) <= 1e-1 * (1 + 1e-6)
    # log-uniform: log10 Δ is uniform on [-3, -1]; compare its quartiles
    q = np.quantile(np.log10(dt.numpy()), [0.25, 0.5, 0.75])
    assert np.allclose(q, [-2.5, -2.0, -1.5], atol=0.05)


def test_dt_roundtrip_and_mamba_softplus_bias():
    dt = torch.logspace(-4, 0, 9, dtype=torch.float64)
    for fwd, inv in DT.values():
        assert torch.allclose(fwd(inv(dt)), dt, rtol=1e-10)
    # the known bug: feeding log(dt) to the inverse softplus realises a very different Δ
    fwd, inv = DT["softplus"]
    assert float((fwd(inv(torch.log(dt[:3]).neg())) / dt[:3]).min()) > 10


def test_half_life_range_of_default_s4d_lin():
    """S4D's Δ range: t½ = ln2/(Δ|Re A|) spans about 14 to 1400 steps over [1e-3, 1e-1]."""
    from workbench.analysis import layer_spectrum

    ds = layer_spectrum(workbench.build_layer(SSMSpec(), 256))
    assert 13.8 < float(ds.half_life.min()) < 16 and 1200 < float(ds.half_life.max()) <= 1387
    assert np.allclose(ds.half_life, math.log(2) / (ds.dt * np.abs(ds.A_real)), rtol=1e-9)


@pytest.mark.parametrize("measure", ["legs", "legt", "lagt", "fout"])
def test_nplr_split_is_normal(measure):
    A, B, P, S = nplr(measure, 12)
    assert torch.allclose(A, S - P @ P.T, atol=1e-12)
    assert torch.allclose(S @ S.T, S.T @ S, atol=1e-9)


def test_hippo_closed_forms():
    A, B = HIPPO["legs"](4)
    assert A[2, 1] == -math.sqrt(5) * math.sqrt(3) and A[2, 2] == -3 and A[1, 2] == 0 and B[3] == math.sqrt(7)
    A, B = HIPPO["legt"](4)
    assert A[1, 2] == pytest.approx(-0.5 * math.sqrt(3) * math.sqrt(5) * -1) and B[1] == pytest.approx(
        0.5 * math.sqrt(3)
    )
    A, B = HIPPO["lagt"](3)
    assert A.tolist() == [[-0.5, 0, 0], [-1, -0.5, 0], [-1, -1, -0.5]] and B.tolist() == [1, 1, 1]
    A, B = HIPPO["fout"](6)  # even N: the unpaired last cosine is a decoupled dummy
    assert B.tolist() == pytest.approx([1, math.sqrt(2), 0, math.sqrt(2), 0, 0])
    assert float(A[-1].abs().sum() + A[:, -1].abs().sum()) == 0.0
    assert HIPPO["fout"](5)[1].tolist() == pytest.approx([1, math.sqrt(2), 0, math.sqrt(2), 0])
    assert A[1, 2] == pytest.approx(-math.pi - 0) and A[2, 1] == pytest.approx(math.pi)


def test_s4d_legs_converges_to_legs():
    """S4D paper: the diagonal LegS restriction's basis approaches full LegS's as N grows."""
    err = legs_convergence(sizes=(16, 32, 64, 128)).relative_error.values
    assert np.all(np.diff(err) < 0), err
    assert err[-1] < err[0] / 50 and err[-1] < 5e-3
