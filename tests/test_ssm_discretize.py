"""Every discretization against an independent reference: scipy.signal.cont2discrete
(zoh; bilinear = Tustin, gbt α = ½; euler = gbt α = 0) on small dense and diagonal systems,
scalar closed forms, and each layer's materialized Ā, B̄ and kernel for every init."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.signal import cont2discrete

import workbench
from workbench.specs import DENSE_INITS, DIAGONAL_INITS, SSMSpec
from workbench.ssm.discretize import DISCRETIZE, DISCRETIZE_DENSE

SCIPY_METHOD = {"zoh": "zoh", "bilinear": "bilinear", "euler": "euler"}


def scipy_discrete(A, B, dt, method):
    """(Ā, B̄) of x' = Ax + Bu with step dt, from scipy (complex A handled by numpy's linear algebra)."""
    A, B = np.asarray(A), np.asarray(B).reshape(-1, 1)
    if method == "mamba":  # Gu & Dao 2023, eq. 4 with B̄ simplified to ΔB: its own closed form
        return scipy.linalg.expm(dt * A), dt * B[:, 0]
    n = A.shape[0]
    Ad, Bd, *_ = cont2discrete((A, B, np.eye(n), np.zeros((n, 1))), dt, method=SCIPY_METHOD[method])
    return Ad, Bd[:, 0]


def stable_dense(n, seed):
    """A random real matrix with spectrum in the open left half plane."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    return M - (np.abs(np.linalg.eigvals(M).real).max() + 0.5) * np.eye(n), rng.standard_normal(n)


# --- scalars: closed forms (A = -1, Δ = 0.1) -------------------------------------------------


@pytest.mark.parametrize(
    "method, a_bar, b_bar",
    [
        ("zoh", math.exp(-0.1), 1 - math.exp(-0.1)),
        ("bilinear", 0.95 / 1.05, 0.1 / 1.05),  # (1 + ΔA/2)/(1 - ΔA/2) = 0.904762, not 0.857143
        ("euler", 0.9, 0.1),
        ("mamba", math.exp(-0.1), 0.1),
    ],
)
def test_scalar_closed_forms_diagonal_and_dense(method, a_bar, b_bar):
    A, B, dt = torch.tensor([[-1.0]], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64), 0.1
    Ab, Bb = DISCRETIZE[method](A[0], B, torch.tensor([dt], dtype=torch.float64))
    Ad, Bd = DISCRETIZE_DENSE[method](A, B, torch.tensor([dt], dtype=torch.float64))
    for got, want in ((Ab, a_bar), (Bb, b_bar), (Ad, a_bar), (Bd, b_bar)):
        assert float(got.reshape(-1)[0]) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("method", ["zoh", "bilinear", "euler"])
def test_scalar_forms_agree_with_scipy(method):
    Ad, Bd = scipy_discrete(np.array([[-1.0]]), np.array([1.0]), 0.1, method)
    A = torch.tensor([[-1.0]], dtype=torch.float64)
    got = DISCRETIZE_DENSE[method](A, torch.ones(1, dtype=torch.float64), torch.tensor([0.1], dtype=torch.float64))
    assert np.allclose(got[0][0].numpy(), Ad, rtol=1e-12) and np.allclose(got[1][0].numpy(), Bd, rtol=1e-12)


# --- small dense and diagonal systems ---------------------------------------------------------


@pytest.mark.parametrize("method", ["zoh", "bilinear", "euler", "mamba"])
@pytest.mark.parametrize("n", [1, 3, 6])
def test_dense_matches_scipy(method, n):
    A, B = stable_dense(n, seed=n)
    dts = np.array([1e-3, 0.05, 0.7])
    Ad, Bd = DISCRETIZE_DENSE[method](torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(dts))
    assert Ad.shape == (3, n, n) and Bd.shape == (3, n)
    for h, dt in enumerate(dts):
        A_ref, B_ref = scipy_discrete(A, B, dt, method)
        assert np.allclose(Ad[h].numpy(), A_ref, rtol=1e-10, atol=1e-13), (method, dt)
        assert np.allclose(Bd[h].numpy(), B_ref, rtol=1e-10, atol=1e-13), (method, dt)


@pytest.mark.parametrize("method", ["zoh", "bilinear", "euler", "mamba"])
@pytest.mark.parametrize("complex_", [False, True])
def test_diagonal_matches_scipy_per_channel(method, complex_):
    """A (H, M), B (H, M), Δ (H, 1): each channel is the dense system diag(A_h), B_h."""
    g = torch.Generator().manual_seed(1)
    H, M = 3, 4
    A = -torch.rand(H, M, generator=g, dtype=torch.float64) - 0.1
    B = torch.randn(H, M, generator=g, dtype=torch.float64)
    if complex_:
        A = torch.complex(A, 5 * torch.randn(H, M, generator=g, dtype=torch.float64))
        B = torch.complex(B, torch.randn(H, M, generator=g, dtype=torch.float64))
    dt = torch.tensor([[1e-3], [0.05], [0.7]], dtype=torch.float64)
    A_bar, B_bar = DISCRETIZE[method](A, B, dt)
    for h in range(H):
        A_ref, B_ref = scipy_discrete(np.diag(A[h].numpy()), B[h].numpy(), float(dt[h]), method)
        assert np.allclose(np.diag(A_ref), A_bar[h].numpy(), rtol=1e-10, atol=1e-14)
        assert np.allclose(A_ref - np.diag(np.diag(A_ref)), 0, atol=1e-14)  # stays diagonal
        assert np.allclose(B_ref, B_bar[h].numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("method", ["zoh", "bilinear", "euler", "mamba"])
def test_diagonal_selective_shapes_with_unit_b(method):
    """The selective scan's call: A (D, N), B = 1.0, Δ (L, b, D, 1) -> Ā and the factor B̄/B per token."""
    g = torch.Generator().manual_seed(2)
    A = -torch.rand(3, 2, generator=g, dtype=torch.float64) - 0.5  # (D, N)
    dt = torch.rand(5, 2, 3, 1, generator=g, dtype=torch.float64)  # (L, b, D, 1)
    A_bar, B_fac = DISCRETIZE[method](A, 1.0, dt)
    assert A_bar.shape == (5, 2, 3, 2)
    for t, b, d in [(0, 0, 0), (4, 1, 2), (2, 1, 1)]:
        A_ref, B_ref = scipy_discrete(np.diag(A[d].numpy()), np.ones(2), float(dt[t, b, d]), method)
        assert np.allclose(A_bar[t, b, d].numpy(), np.diag(A_ref), rtol=1e-10)
        assert np.allclose(torch.broadcast_to(B_fac, A_bar.shape)[t, b, d].numpy(), B_ref, rtol=1e-10)


# --- every init's materialized Ā, B̄ and kernel -----------------------------------------------


def kernel_from(Ad, Bd, C, L):
    """K[ℓ] = C Ā^ℓ B̄ by repeated products in numpy."""
    x, out = Bd.copy(), []
    for _ in range(L):
        out.append(C @ x)
        x = Ad @ x
    return np.array(out)


@pytest.mark.parametrize("method", ["zoh", "bilinear", "euler", "mamba"])
@pytest.mark.parametrize("init", DIAGONAL_INITS + DENSE_INITS)
def test_every_init_materializes_the_reference_discretization(init, method):
    spec = SSMSpec(init=init, d_state=8, discretization=method, dt_min=1e-2, dt_max=0.2, seed=4)
    layer = workbench.build_layer(spec, d_model=3).double()
    L = 64
    with torch.no_grad():
        p = layer.materialize().detach()
        K = layer.kernel(L).numpy()
    for h in range(3):
        dt = float(p.dt[h])
        if p.dense:
            A, B, C = p.A[h].numpy(), p.B[h].numpy(), p.C[h].numpy()
        else:
            A, B, C = np.diag(p.A[h].numpy()), p.B[h].numpy(), p.C[h].numpy()
        A_ref, B_ref = scipy_discrete(A, B, dt, method)
        A_got = p.A_bar[h].numpy() if p.dense else np.diag(p.A_bar[h].numpy())
        assert np.allclose(A_got, A_ref, rtol=1e-9, atol=1e-12), (init, method)
        if getattr(layer, "gamma_normalized", False):
            # LRU: Δ ≡ 1 and B̄ = γ·B, γ = √(1 - |λ|²) (Orvieto et al. 2023's normalization), not from Δ
            B_ref = np.sqrt(np.clip(1 - np.abs(np.diag(A_ref)) ** 2, 0, None)) * B
        assert np.allclose(p.B_bar[h].numpy(), B_ref, rtol=1e-9, atol=1e-12), (init, method)
        K_ref = kernel_from(A_ref, B_ref, C, L)
        K_ref = (2 if p.conjugate_pairs else 1) * K_ref.real
        assert np.allclose(K[h], K_ref, rtol=1e-7, atol=1e-9 * max(1, np.abs(K_ref).max())), (init, method)


@pytest.mark.parametrize("init", DENSE_INITS)
def test_bilinear_hippo_stays_stable(init):
    """Tustin maps the open left half plane into the unit disc: no HiPPO kernel may grow."""
    spec = SSMSpec(init=init, d_state=32, discretization="bilinear", dt_min=1e-2, dt_max=0.1)
    layer = workbench.build_layer(spec, d_model=2).double()
    with torch.no_grad():
        p = layer.materialize().detach()
        radius = torch.linalg.eigvals(p.A_bar).abs().max()
        K = layer.kernel(1000)
    assert float(radius) <= 1.0 + 1e-12
    assert float(K.abs().max()) < 1e3 * float(p.C.abs().max())
