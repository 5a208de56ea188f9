"""gram_ranks.py: the blocked Gramian recursions and the range terms against their definitions, and the
ranks against the per-split spectra and the SVD on a Mamba layer whose channels forget at many rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import workbench.analysis.gram_ranks as gr
from workbench.analysis.ess import effective_state_size
from workbench.analysis.operators import Factors, _with_conjugates, operator_from_factors
from workbench.ssm.mamba import Mamba


def _rnd(shape, complex_modes, seed):
    g = torch.Generator().manual_seed(seed)
    dt = torch.complex128 if complex_modes else torch.float64
    return lambda: torch.randn(*shape, generator=g, dtype=dt)


def _step_by_step(alpha, beta):
    """x(t+1) = (α_t α_tᴴ)∘x(t) + β_t β_tᴴ one step at a time -> x(1..T) (T, b, s, n, n)."""
    x, out = torch.zeros_like(gr.outer(alpha[0], alpha[0])), []
    for t in range(alpha.shape[0]):
        x = gr.outer(alpha[t], alpha[t]) * x + gr.outer(beta[t], beta[t])
        out.append(x)
    return torch.stack(out)


@pytest.mark.parametrize("complex_modes", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_blocked_gramians_equal_the_step_by_step_recursion(monkeypatch, complex_modes, reverse):
    """Targets one step apart, BLOCK apart, and gaps longer than a block (intermediate checkpoints),
    over chunks of blocks with a partial last one; reverse runs the recursion on conj(α), conj(β)
    from the end, as the observability pass does."""
    monkeypatch.setattr(gr, "BLOCK", 3)
    monkeypatch.setattr(gr, "BLOCKS", 2)
    T, b, s, n = 23, 2, 3, 4
    rnd = _rnd((T, b, s, n), complex_modes, 1)
    alpha, beta = 0.9 * rnd() / rnd().abs().clamp(min=0.6), rnd()  # some |α| > 1: growth as well as decay
    targets = [1, 2, 5, 6, 7, 15, 16, 23]
    out = torch.full((len(targets), b, s, n, n), torch.nan, dtype=alpha.dtype)
    slots = list(range(len(targets)))[::-1]  # any order of the slots
    gr.gramians(alpha, beta, targets, out, slots, reverse=reverse)
    ref = _step_by_step(alpha.flip(0).conj(), beta.flip(0).conj()) if reverse else _step_by_step(alpha, beta)
    want = ref[[t - 1 for t in targets]][slots]
    torch.testing.assert_close(out[slots], want[slots], rtol=1e-12, atol=1e-12 * float(want.abs().max()))


@pytest.mark.parametrize("complex_modes", [False, True])
def test_range_terms_give_the_frobenius_norm_of_the_ranges_union(complex_modes):
    """‖T'[p:, :q]‖_F² (T without its diagonal) from the materialized operator equals the range terms
    plus ‖T[q:, :p]‖_F² = tr((φφᴴ)∘G_r(p) G_o(q)); φ = Π_{k=p..q-1} a_k. Ranges of 4 with a short last one;
    complex modes come with their conjugates (a real T)."""
    L, b, s, n = 30, 1, 2, 3
    rnd = _rnd((L, b, s, n), complex_modes, 2)
    a, bb, c = 0.9 * rnd() / rnd().abs().clamp(min=0.6), rnd(), rnd()
    if complex_modes:
        a, bb, c = _with_conjugates(a, bb, c)
    n = a.shape[-1]
    ranges = gr._ranges(list(range(1, L)))
    p, q = torch.tensor([r[0] for r in ranges]), torch.tensor([r[1] for r in ranges])
    R = len(ranges)
    Gp, Goq = (torch.empty(R, b, s, n, n, dtype=a.dtype) for _ in range(2))
    gr.gramians(a, bb, p.tolist(), Gp, list(range(R)))
    gr.gramians(a, a * c, (L - q).flip(0).tolist(), Goq, list(range(R - 1, -1, -1)), reverse=True)
    phi, fro2 = gr._range_terms(a, bb, c, Gp, Goq, p, q)
    fro2 = fro2 + (gr.outer(phi, phi) * Gp * Goq.conj()).sum((-2, -1)).real
    T = operator_from_factors(Factors(*(t.permute(1, 2, 0, 3) for t in (a, bb, c)), "channel"))  # (b, s, L, L)
    T = T - torch.diag_embed(torch.diagonal(T, dim1=-2, dim2=-1))
    want = torch.stack([T[..., i:, :j].square().sum((-2, -1)) for i, j in ranges])  # (R, b, s)
    assert int((q - p).min()) < gr.RANGE - 1 == int((q - p).max())
    torch.testing.assert_close(fro2, want, rtol=1e-10, atol=0)
    want_phi = torch.stack([a[i:j].prod(0) for i, j in ranges])
    torch.testing.assert_close(phi, want_phi, rtol=1e-12, atol=0)


def test_ranks_of_a_mamba_layer_that_forgets_at_many_rates_equal_spectra_and_svd(monkeypatch):
    """A float64 Mamba layer with Δ spread as in a trained one (dt up to 1, a steep Δ projection): its
    channels range from long memory (ESS 16) to fast forgetting (ESS 2-5). The ranks (certified ranges,
    per-split eigvalsh for the rest) equal the per-split spectra at every split and the SVD of the
    materialized block at every 8th; both certified ranges and splits left to eigvalsh occur, on two
    worker threads with passes of several sizes."""
    layer = Mamba(d_model=8, d_state=16, dt_min=1e-3, dt_max=1.0, seed=1).double()
    with torch.no_grad():
        layer.dt_proj.weight.mul_(4.0)
    x = torch.randn(1, 160, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    seen, solved = [], []
    full_rank, split_ranks = gr._full_rank, gr._split_ranks
    monkeypatch.setattr(gr, "_full_rank", lambda *a: seen.append(full_rank(*a)) or seen[-1])
    monkeypatch.setattr(gr, "_split_ranks", lambda *a: solved.append(a[3].shape[0]) or split_ranks(*a))
    monkeypatch.setattr(gr, "MIN_GROUPS", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        r = gr.gram_ranks(*_time_major(layer, x), list(range(1, 160)), 1e-3, 0.0, budget=5 * 3 * 40 * 16 * 16)
    finally:
        torch.set_num_threads(threads)
    ds = effective_state_size(layer, x, measure="both")  # every split's spectrum
    np.testing.assert_array_equal(r.permute(1, 2, 0).numpy(), ds.ess.values[0])
    pos = list(range(1, 160, 8))
    svd = effective_state_size(layer, x, method="svd", positions=pos)  # T from the factors
    np.testing.assert_array_equal(r[[i - 1 for i in pos]].permute(1, 2, 0).numpy(), svd.ess.values[0])
    ok = torch.cat([s.flatten() for s in seen])
    counts = np.bincount(r.flatten().long().numpy(), minlength=17)
    assert ok.any() and not ok.all() and sum(solved) > 0
    assert counts[16] > r.numel() // 4 and counts[2:6].sum() > r.numel() // 10  # full and far from full


def _factors(layer, x) -> Factors:
    from workbench.analysis.operators import state_factors

    return state_factors(layer, x)


def _time_major(layer, x):
    f = _factors(layer, x)
    return (t.permute(2, 0, 1, 3) for t in (f.A, f.B, f.C))  # (L, b, g, n)
