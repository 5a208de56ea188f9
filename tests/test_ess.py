"""Effective state size: closed forms, the two computations agree, operators match independent code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.analysis.ess import effective_state_size, ess_gram, ess_probe, ess_svd
from workbench.analysis.operators import (
    Factors,
    _with_conjugates,
    materialized_operator,
    operator_from_factors,
    state_factors,
)
from workbench.analysis.selective import _ssd_scores
from workbench.analysis.state_norms import state_norms
from workbench.errors import SpecError
from workbench.specs import ModelSpec, SSMSpec
from workbench.ssm.attention import Attention
from workbench.ssm.build import build_layer
from workbench.ssm.deltanet import DeltaNet
from workbench.ssm.gated_deltanet import GatedDeltaNet
from workbench.ssm.gla import GLA
from workbench.ssm.hidden_attention import hidden_attention
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.model import build_model
from workbench.ssm.rg_lru import RGLRU


def _x(b, L, H, seed=0):
    return torch.randn(b, L, H, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _lti(init="s4d-lin", N=8, H=2):
    # Δ in [0.3, 0.6]: the modes' phases are well apart, so every real state dimension is resolvable
    return build_layer(SSMSpec(init=init, d_state=N, dt_min=0.3, dt_max=0.6, seed=1), d_model=H).double()


def _toeplitz(K):  # K (H, L) -> T (1, H, L, L) with T[r, c] = K[r - c]
    L = K.shape[-1]
    lag = torch.arange(L)[:, None] - torch.arange(L)[None, :]
    return torch.where(lag >= 0, K[:, lag.clamp(min=0)], 0.0)[None]


@pytest.mark.parametrize("init, N", [("s4d-lin", 8), ("s4d-lin", 12), ("s4d-real", 4)])
def test_lti_ess_is_min_of_real_state_dim_and_both_sides(init, N):
    # (s4d-inv's and many real modes' Hankel blocks have singular values below any useful tolerance)
    layer, L = _lti(init, N), 32
    A = layer.materialize().A.detach()
    n_real = int(sum(2 if float(a.imag) != 0 else 1 for a in A[0]))  # conjugate pairs count twice
    want = np.array([min(n_real, i, L - i) for i in range(1, L)])
    T = _toeplitz(layer.kernel(L).detach())  # independent of the factors: the layer's own kernel
    r_svd, _ = ess_svd(T, range(1, L), tol=1e-9)
    ds = effective_state_size(layer, _x(1, L, 2), tol=1e-6)
    assert ds.attrs["method"] == "gram"
    for h in range(2):
        np.testing.assert_array_equal(r_svd[0, h].numpy(), want)
        np.testing.assert_array_equal(ds.ess.isel(layer=0, sample=0, channel=h).values, want)


def test_causal_attention_ess_is_min_i_L_minus_i():
    torch.manual_seed(0)
    layer, L = Attention(d_model=8, heads=2).double(), 20
    ds = effective_state_size(layer, _x(2, L, 8), tol=1e-9)
    want = np.array([min(i, L - i) for i in range(1, L)])
    assert ds.attrs["method"] == "svd"
    assert (ds.ess.values == want).all()


@pytest.mark.parametrize(
    "make, n",
    [
        (lambda: Mamba(d_model=4, d_state=3, seed=0), 3),
        (lambda: Mamba2(d_model=8, d_state=4, heads=2, seed=0), 4),
        (lambda: GLA(d_model=8, heads=2, seed=0), 4),
    ],
)
def test_selective_ess_bounded_by_state_size_and_reaches_it(make, n):
    torch.manual_seed(0)
    layer, L = make().double(), 24
    x = _x(2, L, layer.out_proj.out_features)
    ds = effective_state_size(layer, x, tol=1e-6)  # rank only: Sturm counts
    assert int(ds.ess.max()) == n and int(ds.state_size[0]) == n and "ess_entropy" not in ds
    both = effective_state_size(layer, x, tol=1e-6, measure="both")  # the spectra: LAPACK's eigvalsh
    ref = effective_state_size(layer, x, tol=1e-6, method="svd", measure="both")
    np.testing.assert_array_equal(ds.ess.values, ref.ess.values)  # Gramians = SVD of the materialized block
    np.testing.assert_array_equal(both.ess.values, ref.ess.values)
    np.testing.assert_allclose(both.ess_entropy.values, ref.ess_entropy.values, rtol=1e-5, atol=1e-6)


def test_operators_match_independent_materializations():
    torch.manual_seed(0)
    x = _x(1, 12, 4)
    m = Mamba(d_model=4, d_state=3, seed=0).double()
    np.testing.assert_allclose(operator_from_factors(state_factors(m, x)), hidden_attention(m, x), atol=1e-12)
    mc = Mamba(d_model=4, d_state=4, init="s4d-lin", seed=0).double()  # complex modes: 2·Re of a sum
    np.testing.assert_allclose(operator_from_factors(state_factors(mc, x)), hidden_attention(mc, x), atol=1e-12)
    x8 = _x(1, 12, 8)
    m2 = Mamba2(d_model=8, d_state=4, heads=2, seed=0).double()
    np.testing.assert_allclose(
        operator_from_factors(state_factors(m2, x8))[0], _ssd_scores(m2, x8).detach(), atol=1e-12
    )
    lti = _lti()
    np.testing.assert_allclose(
        operator_from_factors(state_factors(lti, _x(1, 12, 2))), _toeplitz(lti.kernel(12).detach()), atol=1e-12
    )
    g = GLA(d_model=8, heads=2, seed=0).double()  # T·v equals the state recurrence's output
    with torch.no_grad():
        q, k, v, alpha = g._inputs(x8)
    S, outs = torch.zeros(1, 2, 4, 4, dtype=torch.float64), []
    for t in range(12):
        S = alpha[:, t, ..., None] * S + k[:, t, :, :, None] * v[:, t, :, None, :]
        outs.append(torch.einsum("bhkv,bhk->bhv", S, q[:, t]))
    T, dim = materialized_operator(g, x8)
    assert dim == "head"
    np.testing.assert_allclose(torch.einsum("bhrc,bchv->brhv", T, v), torch.stack(outs, 1), atol=1e-12)


def test_model_ess_dataset_and_positions():
    model = build_model(ModelSpec(layer="mamba", d_model=8, n_layers=2, vocab_size=12, d_output=1))
    x = torch.randint(0, 12, (2, 16), generator=torch.Generator().manual_seed(0))
    ds = effective_state_size(model, x, positions=[4, 8, 12])
    assert ds.ess.dims == ("layer", "sample", "channel", "position") and ds.ess.shape == (2, 2, 16, 3)
    assert list(ds.position.values) == [4, 8, 12] and ds.attrs["tol"] == 1e-3
    full = effective_state_size(model, x, method="svd", positions=[4, 8, 12])
    np.testing.assert_array_equal(ds.ess.values, full.ess.values)


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"tol": 0}, "tol"),
        ({"tol": 2.0}, "tol"),
        ({"method": "qr"}, "method"),
        ({"positions": [0]}, "positions"),
        ({"positions": [16]}, "positions"),
        ({"atol": -1.0}, "atol"),
        ({"measure": "trace"}, "measure"),
    ],
)
def test_bad_arguments_name_the_field(kw, field):
    with pytest.raises(SpecError, match=field):
        effective_state_size(_lti(), _x(1, 16, 2), **kw)


def test_gram_method_refuses_attention():
    with pytest.raises(SpecError, match="method"):
        effective_state_size(Attention(d_model=8, heads=2), _x(1, 8, 8).float(), method="gram")


def test_state_norms_after_a_pulse_decay_at_the_slowest_rate():
    layer, L = _lti("s4d-real", N=4, H=2), 80
    x = torch.zeros(1, L, 2, dtype=torch.float64)
    x[0, 0] = 1.0
    ds = state_norms(layer, x)
    rate = layer.materialize().A_bar.abs().amax(-1).detach().numpy()  # (H,) slowest mode's |Ā|
    n = ds.norm.isel(layer=0, sample=0).values  # (H, L)
    np.testing.assert_allclose(n[:, -1] / n[:, -2], rate, rtol=1e-4)
    assert (np.diff(n, axis=-1) < 0).all()


def test_state_norms_every_kind_runs():
    for layer in ("mamba2", "gla", "mlstm", "attention", "s4d"):
        model = build_model(ModelSpec(layer=layer, d_model=8, n_layers=1, vocab_size=12, d_output=1, heads=2))
        ds = state_norms(model, torch.randint(0, 12, (1, 10), generator=torch.Generator().manual_seed(0)))
        assert ds.norm.shape[-1] == 10 and np.isfinite(ds.norm.values).all()


@pytest.mark.parametrize(
    "make, n",
    [
        (
            lambda: DeltaNet(d_model=8, heads=2, seed=0),
            4,
        ),  # S_t per head is d_v × d_k: the past reaches the future through d_k
        (lambda: GatedDeltaNet(d_model=8, heads=2, seed=0), 4),
        (lambda: RGLRU(d_model=8, heads=2, seed=0), 1),  # one real state per channel
    ],
)
def test_delta_rule_and_rg_lru_ess_bounded_by_their_state(make, n):
    """The layers' own materialized operators (o = M v per head; h = M x per channel) feed the SVD
    reference: the rank of T[i:, :i] never exceeds the state that carries the past, and reaches it."""
    layer, L = make().double(), 16
    ds = effective_state_size(layer, _x(2, L, 8), tol=1e-8)
    assert ds.attrs["method"] == "svd"
    assert int(ds.ess.max()) == n
    assert (ds.ess.values <= np.minimum(ds.position.values, L - ds.position.values)).all()


def _random_factors(complex_modes, b=2, grp=3, L=19, n=4, seed=3):
    g = torch.Generator().manual_seed(seed)
    dt = torch.complex128 if complex_modes else torch.float64
    rnd = lambda: torch.randn(b, grp, L, n, generator=g, dtype=dt)
    A = 0.95 * rnd() / rnd().abs().clamp(min=0.5)  # |a| < ~1.9·0.95: some modes grow, some decay
    return Factors(*(_with_conjugates(A, rnd(), rnd()) if complex_modes else (A, rnd(), rnd())), "channel")


@pytest.mark.parametrize("complex_modes", [False, True])
def test_gram_blocks_and_passes_match_svd_of_random_factors(monkeypatch, complex_modes):
    """Random diagonal factors, split over several group passes, solver batches and time chunks (with
    partial last ones): every position's counts (Sturm and eigvalsh) and entropies equal the SVD of T built
    from the factors."""
    import workbench.analysis.ess as ess

    f = _random_factors(complex_modes)
    b, _, L, n = f.A.shape
    monkeypatch.setattr(ess, "EIG_CHUNK", 5)  # 5 // (b·s) = 1..2 positions per solver batch
    monkeypatch.setattr(ess, "STEPS", 4)  # Gramian update factors formed 4 steps at a time: partial chunks
    kw = dict(tol=1e-5, budget=2 * b * (L - 1) * n * n)  # two groups per pass: passes of 2 and 1
    r, no_e = ess.ess_gram(f, **kw)
    rb, e = ess.ess_gram(f, measure="both", **kw)
    rs, es = ess_svd(operator_from_factors(f), range(1, L), tol=1e-5)
    assert no_e is None and ess.ess_gram(f, measure="entropy", **kw)[0] is None
    np.testing.assert_array_equal(r.numpy(), rs.numpy())
    np.testing.assert_array_equal(rb.numpy(), rs.numpy())
    np.testing.assert_allclose(e.numpy(), es.numpy(), rtol=1e-6)
    assert int(r.max()) == f.state_size and int(r.min()) < f.state_size


def test_gram_at_asked_positions_only():
    """Positions in any order, repeated: the same values as the full profile, no other split solved."""
    import workbench.analysis.ess as ess

    f = _random_factors(True, seed=7)
    full, _ = ess.ess_gram(f, tol=1e-4)
    pos = [12, 3, 3, 18, 1]
    some, _ = ess.ess_gram(f, tol=1e-4, positions=pos)
    np.testing.assert_array_equal(some.numpy(), full[..., [p - 1 for p in pos]].numpy())
    ds = effective_state_size(_lti(), _x(1, 16, 2), positions=[9, 2], measure="entropy")
    assert list(ds.data_vars) == ["ess_entropy", "state_size"] and list(ds.position.values) == [9, 2]


@pytest.mark.parametrize("side, want", [(1 - 1e-5, 3), (1 + 1e-5, 4)])
def test_gram_rank_at_the_tolerance(side, want):
    """T[4:, :4] = U diag(1, 0.3, 0.05, tol·side) Vᵀ by construction (no decay: T[r, c] = C_r·B_c), so
    its smallest singular value sits 1e-5 (relative) below or above the threshold."""
    g = torch.Generator().manual_seed(11)
    tol, L, n = 1e-3, 8, 4
    U, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    B, C = torch.randn(2, L, n, generator=g, dtype=torch.float64)
    C[4:] = U * torch.tensor([1.0, 0.3, 0.05, tol * side], dtype=torch.float64)
    B[:4] = V
    f = Factors(torch.ones(1, 1, L, n, dtype=torch.float64), B[None, None], C[None, None], "channel")
    T = operator_from_factors(f)
    np.testing.assert_allclose(torch.linalg.svdvals(T[0, 0, 4:, :4])[-1], tol * side, rtol=1e-12)
    r, _ = ess_gram(f, tol)
    np.testing.assert_array_equal(r.numpy(), ess_svd(T, range(1, L), tol)[0].numpy())
    assert int(r[0, 0, 3]) == want


def test_probe_takes_the_cheaper_way_and_the_same_answer():
    """ess_probe: Gramians for Mamba, the Toeplitz SVD for an LTI model; either equals the SVD reference."""
    x = torch.randint(0, 12, (2, 24), generator=torch.Generator().manual_seed(0))
    for layer, way in (("mamba", "gram,gram"), ("s4d", "svd,svd")):
        model = build_model(ModelSpec(layer=layer, d_model=8, n_layers=2, vocab_size=12, d_output=1))
        ds = ess_probe(model, x, n_positions=6)
        ref = effective_state_size(model, x[:1], method="svd", positions=ds.position.values)
        assert ds.attrs["method"] == way and ds.sizes["sample"] == 1 and ds.sizes["position"] == 6
        np.testing.assert_array_equal(ds.ess.values, ref.ess.values)


@pytest.mark.parametrize("complex_modes", [False, True])
def test_ranges_certified_full_rank_equal_the_split_by_split_reference(monkeypatch, complex_modes):
    """gram_ranks (runs of splits certified full rank by one Cholesky test, the rest split by split)
    equals, at every split, the per-split spectra and the SVD of T built from the factors, over ranges
    of 3 with a short last one, group passes on two worker threads, solver batches and time chunks;
    some ranges are certified and some are not, so both ways are exercised."""
    import workbench.analysis.ess as ess
    import workbench.analysis.gram_ranks as gr

    g = torch.Generator().manual_seed(5)
    b, grp, L, n = 2, 3, 41, 3
    dt = torch.complex128 if complex_modes else torch.float64
    rnd = lambda: torch.randn(b, grp, L, n, generator=g, dtype=dt)
    A = 0.9 * rnd() / rnd().abs().clamp(min=0.7)  # decays and growths of either sign or phase
    f = Factors(*(_with_conjugates(A, rnd(), rnd()) if complex_modes else (A, rnd(), rnd())), "channel")
    A.select(1, 2).mul_(0.05)  # group 2 forgets fast: its rank drops below n, so its ranges fail
    seen = []
    full_rank = gr._full_rank
    monkeypatch.setattr(gr, "_full_rank", lambda *a: seen.append(full_rank(*a)) or seen[-1])
    for k, v in {"RANGE": 3, "CHUNK": 7, "BLOCK": 2, "BLOCKS": 3, "MIN_GROUPS": 1}.items():
        monkeypatch.setattr(gr, k, v)
    tol, budget = 1e-3, 2 * 2 * b * 3 * 14 * f.state_size**2  # two workers, two groups per pass: passes of 2 and 1
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the passes run on two worker threads
    try:
        r, _ = ess.ess_gram(f, tol, budget=budget)
    finally:
        torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads
    spectra, _ = ess.ess_gram(f, tol, measure="both")
    svd, _ = ess_svd(operator_from_factors(f), range(1, L), tol)
    np.testing.assert_array_equal(r.numpy(), svd.numpy())
    np.testing.assert_array_equal(r.numpy(), spectra.numpy())
    ok = torch.cat([s.flatten() for s in seen])
    assert ok.any() and not ok.all()
    assert int(r.max()) == f.state_size and int(r[:, 2].min()) < f.state_size


def test_ranges_certify_most_full_rank_splits_of_a_mamba_layer(monkeypatch):
    """A Mamba layer (N 4) at L 64: the ranks equal the SVD reference at every split, and most
    full-rank splits are certified by their range (not solved one by one)."""
    import workbench.analysis.gram_ranks as gr

    layer = Mamba(d_model=4, d_state=4, seed=0).double()
    x = _x(1, 64, 4)
    solved = []
    split_ranks = gr._split_ranks
    monkeypatch.setattr(gr, "_split_ranks", lambda *a: solved.append(a[3].shape[0]) or split_ranks(*a))
    ds = effective_state_size(layer, x)
    ref = effective_state_size(layer, x, method="svd")
    np.testing.assert_array_equal(ds.ess.values, ref.ess.values)
    full = int((ds.ess.values == 4).sum())
    assert full > ds.ess.size // 2 and ds.ess.size - sum(solved) * gr.RANGE > 0.8 * full
