"""Eigenvalue counts (a Cholesky test for full rank, eigvalsh for the rest) against known spectra."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.analysis.eigcount import count_above


def _with_spectrum(lam: torch.Tensor, complex_: bool, seed: int = 0) -> torch.Tensor:
    """lam (m, n) -> Q diag(lam) Qᴴ (m, n, n) with random unitary Q: the spectrum is known exactly."""
    g = torch.Generator().manual_seed(seed)
    m, n = lam.shape
    dt = torch.complex128 if complex_ else torch.float64
    Q, _ = torch.linalg.qr(torch.randn(m, n, n, generator=g, dtype=dt))
    M = (Q * lam.to(dt)[:, None, :]) @ Q.mH
    return 0.5 * (M + M.mH)


def _graded(m: int, n: int, seed: int) -> torch.Tensor:
    """(m, n) spectra like Hankel σ²: log-uniform over 1e-14..1, some exact zeros, some repeated tops."""
    g = torch.Generator().manual_seed(seed)
    lam = 10 ** (-14 * torch.rand(m, n, generator=g, dtype=torch.float64))
    lam[::5, : n // 3] = 0.0  # rank deficient (a split before the state fills)
    lam[1::7, -2:] = lam[1::7, -1:].clone()  # a double top eigenvalue
    return lam * 10 ** (6 * torch.rand(m, 1, generator=g, dtype=torch.float64) - 3)  # any scale


@pytest.mark.parametrize("test", [True, False])
@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("rtol, atol", [(1e-6, 0.0), (1e-10, 0.0), (1e-6, 1e-5)])
def test_count_above_equals_the_known_spectrum(rtol, atol, complex_, test):
    lam = _graded(400, 16, seed=2)
    lam[:, 0] = 0.0
    want = (lam > torch.clamp(rtol * lam.amax(-1), min=atol)[:, None]).sum(-1)
    got = count_above(_with_spectrum(lam, complex_), rtol, atol, test=test)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert len(set(want.tolist())) >= 8  # the threshold cuts the spectra at many places


@pytest.mark.parametrize("n", [1, 2, 3])
def test_count_above_small_sizes(n):
    lam = _graded(60, n, seed=n)
    want = (lam > 1e-6 * lam.amax(-1, keepdim=True)).sum(-1)
    np.testing.assert_array_equal(count_above(_with_spectrum(lam, True), 1e-6).numpy(), want.numpy())


@pytest.mark.parametrize("side", [1 - 1e-7, 1 + 1e-7])
@pytest.mark.parametrize("rest", [1e-9, 1e-3])
def test_count_above_near_the_threshold(side, rest):
    """One eigenvalue 1e-7 (relative) to either side of rtol·λ_max, the others far below it (rest
    1e-9) or far above (1e-3: full rank or one short): counted exactly as the spectrum says."""
    rtol, n, m = 1e-6, 16, 64
    g = torch.Generator().manual_seed(4)
    lam = rest * 10 ** (-2 * torch.rand(m, n, generator=g, dtype=torch.float64))
    top = 1 + torch.rand(m, dtype=torch.float64, generator=g)
    lam[:, -1] = top
    lam[:, -2] = 0.5 * top
    lam[:, 0] = side * rtol * top  # at the threshold
    want = (lam > rtol * lam.amax(-1, keepdim=True)).sum(-1)
    np.testing.assert_array_equal(count_above(_with_spectrum(lam, False), rtol).numpy(), want.numpy())
    assert set(want.tolist()) == ({3 if side > 1 else 2} if rest < rtol else {16 if side > 1 else 15})


@pytest.mark.parametrize("complex_", [False, True])
def test_full_rank_needs_no_spectrum(monkeypatch, complex_):
    """Only matrices that the Cholesky test cannot certify full rank reach eigvalsh: every one that
    is not full rank, and few of those that are."""
    lam = _graded(300, 16, seed=5)
    lam[::2] = 10 ** (-4 * torch.rand(150, 16, generator=torch.Generator().manual_seed(8), dtype=torch.float64))
    M = _with_spectrum(lam, complex_)
    calls, real = [], torch.linalg.eigvalsh
    monkeypatch.setattr(torch.linalg, "eigvalsh", lambda A: calls.append(A.shape[0]) or real(A))
    want = (lam > 1e-7 * lam.amax(-1, keepdim=True)).sum(-1)
    np.testing.assert_array_equal(count_above(M, 1e-7).numpy(), want.numpy())
    short = int((want < 16).sum())
    assert len(calls) == 1 and short <= calls[0] < short + 15 and short < 300 - 100
