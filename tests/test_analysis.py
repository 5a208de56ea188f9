"""Analysis quantities against closed forms (StableSSM's memory function, the S4D kernel, Vo et al. 2025's token regimes)."""

import math

import numpy as np
import pytest
import torch

import workbench
from workbench.analysis import (
    frequency_response,
    gradient_memory,
    hidden_attention,
    init_audit,
    kernels,
    memory_function,
    selective_forgetting,
    spectrum,
    token_dynamics,
)
from workbench.analysis.kernels import frequency_response_closed_form
from workbench.errors import SpecError
from workbench.specs import ModelSpec, SSMSpec
from workbench.ssm.model import build_model
from workbench.ssm.reparam import inverse_softplus


def lti(init="s4d-lin", H=3, N=8, **kw):
    return workbench.build_layer(SSMSpec(init=init, d_state=N, **kw), H).double()


def test_half_lives_match_closed_form():
    ds = spectrum(lti("s4d-inv", H=5, N=16))
    assert np.allclose(ds.half_life, math.log(2) / (ds.dt * np.abs(ds.A_real)), rtol=1e-12)
    # ZOH: |Ā| = exp(Δ Re A), so |Ā|^t½ = 1/2
    assert np.allclose(ds.pole_abs**ds.half_life, 0.5, rtol=1e-9)


@pytest.mark.parametrize("init", ["s4d-lin", "s4d-real", "lru-ring", "ptd-legs", "hippo-legs", "hippo-fout"])
def test_frequency_response_is_fft_of_kernel(init):
    layer, L = lti(init, H=2, N=8), 64
    K = kernels(layer, L).K.values  # (1, H, L)
    fr = frequency_response_closed_form(layer, n_freq=L // 2 + 1, length=L)
    H = fr.H_real.values + 1j * fr.H_imag.values
    fast = frequency_response(layer, length=L)  # the preview's fast path: rFFT of the kernel
    assert np.allclose(fast.H_real.values + 1j * fast.H_imag.values, H, rtol=1e-8, atol=1e-10 * np.abs(K).max())
    assert np.allclose(fast.frequency, fr.frequency)
    assert np.allclose(H, np.fft.rfft(K, n=L), rtol=1e-8, atol=1e-10 * np.abs(K).max())


def test_dense_infinite_response_matches_long_kernel():
    layer = lti("hippo-legs", H=2, N=6, dt_min=0.3, dt_max=0.6)  # decays within 4000 lags
    K = kernels(layer, 4000).K.values
    fr = frequency_response(layer, n_freq=5)
    omega = fr.frequency.values
    direct = (K[..., None] * np.exp(-1j * omega * np.arange(4000)[:, None])).sum(-2)
    assert np.allclose(fr.H_real.values + 1j * fr.H_imag.values, direct, rtol=1e-8)


@pytest.mark.parametrize("layer", [pytest.param("mega-ema", marks=pytest.mark.slow), "lru"])
def test_frequency_response_other_lti_layers(layer):
    m = build_model(ModelSpec(layer=layer, d_model=4, n_layers=1)).double()
    L = 32
    K = kernels(m, L).K.values
    fr = frequency_response_closed_form(m, n_freq=L // 2 + 1, length=L)
    assert np.allclose(fr.H_real.values + 1j * fr.H_imag.values, np.fft.rfft(K, n=L), atol=1e-10)


def test_infinite_frequency_response_at_dc_is_kernel_sum():
    layer = lti("s4d-lin", H=2, N=4, dt_min=0.5, dt_max=0.9)  # fast decay: 2000 lags reach the tail
    K = kernels(layer, 2000).K.values
    fr = frequency_response(layer, n_freq=3)
    assert np.allclose(fr.H_real.values[..., 0], K.sum(-1), rtol=1e-8)


def test_memory_function_of_lti_layer_is_abs_kernel():
    layer, L = lti("s4d-legs", H=4, N=16), 200
    rho = memory_function(layer, L).rho.values  # (H, L)
    K = kernels(layer, L).K.values[0] * 0.5  # Heaviside of height 1/√H on every channel
    assert np.allclose(rho[:, 1:], np.abs(K[:, 1:]), rtol=1e-10, atol=1e-14)
    D = layer.D.detach().numpy()
    assert np.allclose(rho[:, 0], np.abs(K[:, 0] + 0.5 * D))


def test_gradient_memory_of_linear_layer_is_abs_kernel():
    layer, L = lti("s4d-inv", H=1, N=8), 50
    u = torch.randn(3, L, 1, dtype=torch.float64)
    g = gradient_memory(layer, u).grad_norm.values  # (L,)
    K = kernels(layer, L).K.values[0, 0]
    assert np.allclose(g[1:], np.abs(K[1:]), rtol=1e-10)
    assert np.isclose(g[0], abs(K[0] + layer.D.item()), rtol=1e-10)


@pytest.mark.slow  # one backward pass per output position
def test_gradient_memory_token_model_is_causal():
    m = build_model(ModelSpec(layer="mamba", d_model=8, vocab_size=7)).double()
    ds = gradient_memory(m, torch.randint(0, 7, (2, 20)))
    assert ds.sizes["lag"] == 20 and np.all(ds.grad_norm.values > 0)


def test_selective_kernel_without_selectivity_is_the_lti_kernel():
    m = build_model(
        ModelSpec(
            layer="mamba", d_model=4, n_layers=1, selective_delta=False, selective_B=False, selective_C=False, d_input=2
        )
    ).double()
    mixer = m.layers[0].mixer
    x = torch.randn(1, 30, 2, dtype=torch.float64)
    K = kernels(m, 30, x).K.values[0]  # α[ℓ, 0]
    with torch.no_grad():
        dt = mixer.delta_at_rest()[:, None]
        from workbench.ssm.kernel import vandermonde_kernel

        K_lti = vandermonde_kernel(
            (mixer._const(mixer.C) * dt * mixer._const(mixer.B)).to(torch.complex128),
            torch.exp(dt * mixer.A).to(torch.complex128),
            30,
            False,
        )
    assert np.allclose(K, K_lti.numpy(), rtol=1e-10, atol=1e-14)


def test_selective_forgetting_decay_and_gates():
    m = build_model(ModelSpec(layer="mamba", d_model=8, vocab_size=5, n_layers=2)).double()
    ds = selective_forgetting(m, torch.randint(0, 5, (2, 16)))
    d = ds.decay_to_end.values  # (layer, sample, channel, token)
    assert np.allclose(d[..., -1], 1.0) and np.all(np.diff(d, axis=-1) >= -1e-12) and np.all(d <= 1 + 1e-12)
    assert ds.delta.dims == ("layer", "sample", "channel", "token") and np.all(ds.delta.values > 0)
    g = selective_forgetting(
        build_model(ModelSpec(layer="mlstm", d_model=8, heads=2, vocab_size=5)), torch.randint(0, 5, (1, 9))
    )
    assert set(g.data_vars) == {"input_gate", "forget_gate"} and np.all((g.forget_gate > 0) & (g.forget_gate < 1))


def test_hidden_attention_softmax_rows_and_minmax():
    m = build_model(ModelSpec(layer="attention", d_model=8, heads=2, vocab_size=5))
    ds = hidden_attention(m, torch.randint(0, 5, (1, 12)))
    assert np.allclose(ds.alpha.sum("source"), 1.0, atol=1e-5)
    assert np.allclose(np.triu(ds.alpha.values, 1), 0)
    mm = ds.alpha_minmax.values
    assert mm.min() >= 0 and np.isclose(mm.max(), 1.0)


def test_ssd_hidden_attention_reproduces_mamba2_scan():
    from workbench.ssm.probe import capture

    m = build_model(ModelSpec(layer="mamba2", d_model=8, heads=2, n_layers=1, d_input=3)).double()
    x = torch.randn(1, 20, 3, dtype=torch.float64)
    alpha = torch.as_tensor(hidden_attention(m, x).alpha.values[0])  # (h, L, L)
    mixer = m.layers[0].mixer
    with capture(m, ["y"]) as seen, torch.no_grad():
        m(x)
        xin = m.layers[0].norm(m.encoder(x))
        z, xBC, dt_raw = mixer._split(mixer.in_proj(xin))
        xBC = mixer.conv(xBC.transpose(1, 2))[..., :20].transpose(1, 2)
        xs = torch.nn.functional.silu(xBC)[..., : mixer.E].reshape(1, 20, mixer.h, mixer.P)
    y = torch.einsum("hij,bjhp->bihp", alpha, xs) + xs * mixer.D[:, None]
    assert torch.allclose(y, seen["layers.0.mixer.y"], atol=1e-10)


def toy_selective_model(c: float, depth: int = 40):
    """1-D selective layers as in the token-dynamics analysis: B_t = S_B x_t, C_t = S_C x_t, S_B = c·S_C,
    no norm, no gate, no skip, identity conv; tokens evolve through `depth` identical residual layers."""
    spec = ModelSpec(
        layer="mamba", d_model=1, expand=1, d_conv=1, gate="none", norm="none", n_layers=depth, d_input=1, d_output=1
    )
    m = build_model(spec, SSMSpec(init="s4d-real", d_state=1, discretization="mamba", dt_transform="softplus")).double()
    with torch.no_grad():
        m.encoder.weight.fill_(1.0), m.encoder.bias.zero_()
        for b in m.layers:
            mx = b.mixer
            mx.in_proj.weight.copy_(torch.tensor([[1.0], [0.0]]))
            mx.conv.weight.fill_(1.0), mx.conv.bias.zero_()
            mx.x_proj.weight.copy_(torch.tensor([[0.0], [c], [1.0]]))  # rows: Δ rank 1, S_B, S_C
            mx.dt_proj.weight.zero_(), mx.dt_proj.bias.fill_(float(inverse_softplus(torch.tensor(0.1))))
            mx.A_log.zero_(), mx.D.zero_()
            mx.out_proj.weight.fill_(0.5)
    return m


@pytest.mark.parametrize("c, regime, depth", [(-0.5, "convergent", 40), (0.5, "divergent", 10)])
def test_token_dynamics_regimes(c, regime, depth):
    """μ < 0: slow decay towards 0 (about 1/√depth); μ > 0: blow-up within a few layers."""
    m = toy_selective_model(c, depth)
    x = torch.rand(2, 12, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.5
    ds = token_dynamics(m, x)
    assert ds.attrs["observed"] == regime
    assert set(eval(ds.attrs["predicted"])) == {regime}
    n = ds.norm.mean(("sample", "token")).values
    assert (n[-1] < 0.6 * n[0] and np.all(np.diff(n) < 0)) if regime == "convergent" else (n[-1] > 10 * n[0])
    assert ds.projection.sizes["component"] == 1 and ds.criterion_eigenvalues.values.flatten()[0] == pytest.approx(c)
    assert ds.attrs["outside_setting"] == ""  # the toy model is the paper's setting


def test_token_dynamics_says_when_outside_the_papers_setting():
    from workbench.plots.views_tokens import regime_summary

    m = build_model(ModelSpec(layer="mamba", d_model=8, n_layers=2, vocab_size=10, d_output=1))  # norm + gate
    ds = token_dynamics(m, torch.randint(0, 10, (1, 8), generator=torch.Generator().manual_seed(0)))
    assert "normalization" in ds.attrs["outside_setting"] and "output gate" in ds.attrs["outside_setting"]
    text = regime_summary(ds)
    assert text.startswith("**Outside the paper's setting**") and "Predicted" not in text
    inside = regime_summary(
        token_dynamics(toy_selective_model(-0.5, 4), torch.rand(1, 6, 1, dtype=torch.float64) + 0.5)
    )
    assert inside.startswith("**Predicted**")


def test_init_audit_flags_dt_bias_built_from_log_dt():
    spec = ModelSpec(layer="mamba", d_model=16, n_layers=2, vocab_size=5)
    good = build_model(spec)
    assert init_audit(good).flagged.values.tolist() == [False, False]
    bad = build_model(spec)
    with torch.no_grad():
        dt = bad.layers[1].mixer.delta_at_rest()
        bad.layers[1].mixer.dt_proj.bias.copy_(inverse_softplus(torch.log(dt)))  # the published mistake
    ds = init_audit(bad)
    assert ds.flagged.values.tolist() == [False, True]
    assert any("layer 1" in f and "Δ" in f for f in eval(ds.attrs["flags"]))
    forgot_inverse = build_model(spec)
    with torch.no_grad():
        forgot_inverse.layers[0].mixer.dt_proj.bias.copy_(forgot_inverse.layers[0].mixer.delta_at_rest())
    assert init_audit(forgot_inverse).flagged.values.tolist() == [True, False]


def test_delta_summary_counts_by_hand():
    from workbench.analysis.audit import BINS, delta_summary

    # [1e-3, 1e-1] widened by 1 %: 1.005e-1 and 9.95e-4 stay in, 0.2 and 0 fall out, NaN and inf are non-finite
    dt = np.array([1e-2, 1.005e-1, 9.95e-4, 0.2, 0.0, np.nan, np.inf])
    nonfinite, outside, hist, flags = delta_summary(3, dt, 1e-3, 1e-1, 0.01, against="claimed")
    assert nonfinite.tolist() == [False] * 5 + [True, True]
    assert outside.tolist() == [False, False, False, True, True, False, False]
    assert hist.sum() == 4 and hist[np.searchsorted(BINS, -2.0, side="right") - 1] == 1  # the 0 has no log
    assert flags[0].startswith("layer 3: 2 of 7 channels realize a non-finite")
    assert flags[1].startswith("layer 3: 2 of 7 channels realize Δ outside the claimed [0.001, 0.1]")
    assert delta_summary(0, dt[:4], np.nan, np.nan, 0.01)[3] == []  # no stated range: nothing outside


def test_init_audit_lru_ring_and_ptd():
    ds = init_audit(lti("ptd-legs", H=2, N=16))
    assert np.isfinite(ds.kappa_V.values).all() and not ds.flagged.any()
    layer = lti("lru-ring", H=2, N=8, r_min=0.5, r_max=0.6)
    with torch.no_grad():
        layer.w.fill_(-10.0)  # |λ| ≈ 1: off the requested ring
    assert bool(init_audit(layer).flagged.values[0])


def test_analysis_rejects_layers_without_the_quantity():
    m = build_model(ModelSpec(layer="attention", d_model=8, vocab_size=5))
    with pytest.raises(SpecError, match="spectrum"):
        spectrum(m)
    with pytest.raises(SpecError, match="memory_function"):
        memory_function(m, 10)


def test_preview_returns_every_quantity_consistently():
    from workbench.analysis import preview

    m = build_model(ModelSpec(d_model=8), SSMSpec(d_state=8)).double()
    p = preview(m, 64)
    assert set(p) == {"kernels", "spectrum", "frequency_response", "memory", "audit"}
    assert np.allclose(p["frequency_response"].gain.values, np.abs(np.fft.rfft(p["kernels"].K.values, axis=-1)))


@pytest.mark.slow  # 400 backward passes
def test_gradient_memory_projection_estimate_is_close_to_exact():
    m = build_model(ModelSpec(layer="s4d", d_model=8, vocab_size=40)).double()
    x = torch.randint(0, 40, (3, 16))
    exact = gradient_memory(m, x).grad_norm.values
    est = gradient_memory(m, x, n_projections=400).grad_norm.values
    assert np.allclose(est, exact, rtol=0.25)
