"""Every layer: fast path = sequential reference (values and gradients), step loop = forward."""

import math

import pytest
import torch

from workbench.errors import SpecError
from workbench.specs import LAYERS, ModelSpec, SSMSpec, default_ssm
from workbench.ssm.kernel import causal_fft_conv, vandermonde_kernel
from workbench.ssm.mixers import MIXERS
from workbench.ssm.model import build_model
from workbench.ssm.probe import capture, probe_names

TOL = {torch.float64: 1e-8, torch.float32: 1e-4}


def mixer(layer, dtype=torch.float64, d_model=8, **model_kw):
    m = ModelSpec(layer=layer, d_model=d_model, heads=2, **model_kw)
    ssm = default_ssm(layer).replace(d_state=4 if layer != "s4d" else 8)
    return MIXERS[layer](m, ssm, seed=1).to(dtype)


def close(a, b, tol):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max()) <= tol * max(1.0, float(b.abs().max()))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layer", LAYERS)
def test_fast_equals_reference_values_and_gradients(layer, dtype):
    torch.manual_seed(0)
    m = mixer(layer, dtype)
    x = torch.randn(2, 19, 8, dtype=dtype, requires_grad=True)
    y, y_ref = m(x), m.forward_ref(x)
    assert close(y, y_ref.detach(), TOL[dtype])
    w = torch.randn_like(y)
    params = [x] + [p for p in m.parameters() if p.requires_grad]
    g = torch.autograd.grad((y * w).sum(), params)
    g_ref = torch.autograd.grad((y_ref * w).sum(), params)
    for a, b in zip(g, g_ref):
        assert close(a, b, TOL[dtype] * 10)


@pytest.mark.parametrize("layer", LAYERS)
def test_step_loop_equals_forward(layer):
    torch.manual_seed(0)
    m = mixer(layer)
    x = torch.randn(2, 17, 8, dtype=torch.float64)
    state, ys = None, []
    with torch.no_grad():
        for x_t in x.unbind(1):
            y, state = m.step(x_t, state)
            ys.append(y)
        assert close(torch.stack(ys, 1), m(x), 1e-10)


@pytest.mark.parametrize("layer", LAYERS)
def test_gradcheck_fast_path(layer):
    torch.manual_seed(0)
    m = mixer(layer, d_model=4)
    x = torch.randn(1, 6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: m(t), (x,), atol=1e-6)


@pytest.mark.parametrize("init, discretization", [("s4d-real", "mamba"), ("s4d-lin", "zoh"), ("s4d-legs", "bilinear")])
def test_hidden_attention_reproduces_scan(init, discretization):
    from workbench.ssm.hidden_attention import hidden_attention
    from workbench.ssm.mamba import Mamba

    torch.manual_seed(0)
    m = Mamba(d_model=6, d_state=4, init=init, discretization=discretization).double()
    x = torch.randn(2, 15, 6, dtype=torch.float64)
    with capture(m, ["u", "y"]) as seen:
        m(x)
    alpha = hidden_attention(m, x)  # (B, D, L, L)
    y = torch.einsum("bdij,bdj->bdi", alpha, seen["u"]) + m.D[:, None] * seen["u"]
    assert close(y, seen["y"], 1e-9)
    assert float(alpha.triu(1).abs().max()) == 0.0


@pytest.mark.parametrize(
    "init, discretization, dt", [("s4d-real", "mamba", 0.1), ("s4d-lin", "zoh", 0.1), ("s4d-real", "euler", 1.0)]
)
def test_impulse_response_is_the_first_column_of_hidden_attention(init, discretization, dt):
    """The cumulative-product fast path against the full matrix (Euler at Δ = 1: negative poles)."""
    from workbench.ssm.hidden_attention import hidden_attention, impulse_response
    from workbench.ssm.mamba import Mamba

    torch.manual_seed(0)
    m = Mamba(d_model=6, d_state=4, init=init, discretization=discretization, dt_min=dt, dt_max=dt).double()
    x = torch.randn(2, 17, 6, dtype=torch.float64)
    assert close(impulse_response(m, x), hidden_attention(m, x)[..., 0], 1e-10)


@pytest.mark.parametrize("init", ["s4d-real", "s4d-lin"])
def test_no_selectivity_is_lti_convolution(init):
    from workbench.ssm.mamba import Mamba

    torch.manual_seed(0)
    m = Mamba(d_model=6, d_state=4, init=init, selective_delta=False, selective_B=False, selective_C=False).double()
    x = torch.randn(2, 40, 6, dtype=torch.float64)
    with capture(m, ["u", "y"]) as seen, torch.no_grad():
        m(x)
        dt = m.dt_fn(m.dt_bias)[:, None]  # (E, 1)
        A = m.A
        A_bar, B_bar = torch.exp(dt * A), dt * m._const(m.B)  # Mamba's mix
        CB = (m._const(m.C) * B_bar).to(torch.complex128)
        K = vandermonde_kernel(CB, A_bar.to(torch.complex128), 40, conjugate=A.is_complex())
        y = causal_fft_conv(seen["u"], K) + m.D[:, None] * seen["u"]
    assert close(y, seen["y"], 1e-10)


def test_mamba_init_fidelity():
    from workbench.ssm.mamba import Mamba

    m = Mamba(d_model=8, d_state=16, dt_min=1e-3, dt_max=1e-1)
    assert torch.allclose(m.A_log, torch.log(torch.arange(1, 17.0)).expand(16, -1))
    assert m.dt_proj.weight.shape == (16, math.ceil(8 / 16))
    with capture(m, "delta") as seen, torch.no_grad():
        m(torch.zeros(1, 5, 8))
    d = seen["delta"]
    assert float(d.min()) >= 1e-3 * (1 - 1e-5) and float(d.max()) <= 1e-1 * (1 + 1e-5)
    assert float(d.max() / d.min()) > 10  # spread over the log-uniform range, not one value


def test_probes_named_by_module_path():
    model = build_model(ModelSpec(layer="mamba", d_model=8, n_layers=2, vocab_size=10))
    names = probe_names(model)
    for want in [
        "layers.0.mixer.u",
        "layers.0.mixer.delta",
        "layers.1.mixer.B",
        "layers.1.mixer.C",
        "layers.0.mixer.z",
        "layers.0.mixer.y",
        "layers.0.mixer.out",
        "layers.1.resid",
    ]:
        assert want in names
    with capture(model, ["delta", "layers.1.resid"]) as seen:
        model(torch.randint(0, 10, (3, 12)))
    assert set(seen) == {"layers.0.mixer.delta", "layers.1.mixer.delta", "layers.1.resid"}
    assert seen["layers.0.mixer.delta"].shape == (3, 16, 12)
    with pytest.raises(SpecError, match="probe"):
        with capture(model, ["nope"]):
            pass
    for layer in ("mlstm", "gla"):
        gates = probe_names(build_model(ModelSpec(layer=layer, d_model=8, heads=2)))
        assert any("gate" in n or "alpha" in n for n in gates)


@pytest.mark.parametrize("layer", LAYERS)
def test_build_model_tokens_and_continuous(layer):
    tok = build_model(ModelSpec(layer=layer, d_model=16, vocab_size=12))
    assert tok(torch.randint(0, 12, (2, 9))).shape == (2, 9, 12)
    cont = build_model(ModelSpec(layer=layer, d_model=16, d_input=3, d_output=5))
    assert cont(torch.randn(2, 9, 3)).shape == (2, 9, 5)


@pytest.mark.parametrize(
    "values, field",
    [
        ({"layer": "transformer-xl"}, "model.layer"),
        ({"layer": "mlstm", "d_model": 10, "heads": 4}, "model.heads"),
        ({"layer": "mamba2", "d_model": 10, "expand": 1, "heads": 4}, "model.heads"),
        ({"layer": "attention", "d_model": 12, "heads": 4}, "model.heads"),
    ],
)
def test_bad_model_specs(values, field):
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(values)
    assert err.value.field == field


def test_bad_state_size_and_mamba_init():
    with pytest.raises(SpecError, match="ssm.d_state"):
        SSMSpec.from_dict({"d_state": 0})
    with pytest.raises(SpecError, match="ssm.init"):
        build_model(ModelSpec(layer="mamba"), SSMSpec(init="hippo-legs"))


# --- seeds: the model's parameters come from its seeds alone, through local generators ----------


def _seeded_model(layer, seed, ssm_seed=0):
    m = ModelSpec(layer=layer, d_model=8, heads=2, n_layers=2, mlp=True, vocab_size=5, seed=seed)
    return build_model(m, default_ssm(layer).replace(d_state=4, seed=ssm_seed))


def _differs(a, b):
    return sorted(k for k, v in a.state_dict().items() if not torch.equal(v, b.state_dict()[k]))


@pytest.mark.parametrize("layer", LAYERS)
def test_seeds_decide_every_layers_parameters_and_leave_global_rng_untouched(layer):
    before = torch.random.get_rng_state()
    a, again, other, other_ssm = (
        _seeded_model(layer, 1),
        _seeded_model(layer, 1),
        _seeded_model(layer, 2),
        _seeded_model(layer, 1, ssm_seed=3),
    )
    assert torch.equal(torch.random.get_rng_state(), before)  # no global draw, no reseeding
    assert _differs(a, again) == []
    for changed in (_differs(a, other), _differs(a, other_ssm)):
        for part in ("layers.0.mixer.", "layers.1.mixer."):  # every mixer, not only one
            assert any(k.startswith(part) for k in changed), (layer, part, changed)
    changed = _differs(a, other)
    assert {"encoder.weight", "decoder.weight", "layers.0.mlp.1.weight"} <= set(changed)
    # the two blocks are not copies of each other
    s = a.state_dict()
    assert any(
        not torch.equal(v, s[k.replace("layers.0.", "layers.1.")])
        for k, v in s.items()
        if k.startswith("layers.0.mixer.") and v.is_floating_point() and v.unique().numel() > 2
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_every_mixer_honours_its_seed(layer):
    before = torch.random.get_rng_state()
    ssm = default_ssm(layer).replace(d_state=4 if layer != "s4d" else 8)
    one, same = mixer(layer), mixer(layer)  # seed 1
    two = MIXERS[layer](ModelSpec(layer=layer, d_model=8, heads=2), ssm, seed=2).double()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert _differs(one, same) == []
    assert _differs(one, two), layer


def test_skip_init_and_shapes_only():
    from workbench.ssm.seeding import seeded, shapes_only, skip_init

    ref = torch.nn.utils.skip_init(torch.nn.Conv1d, 6, 6, 3, groups=6, dtype=torch.float64)
    ours = skip_init(torch.nn.Conv1d, 6, 6, 3, groups=6, dtype=torch.float64)
    assert {k: (v.shape, v.dtype, v.device) for k, v in ours.state_dict().items()} == {
        k: (v.shape, v.dtype, v.device) for k, v in ref.state_dict().items()
    }
    assert all(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in ours.parameters())
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    with shapes_only():  # no draw: the weights are about to be replaced
        seeded(torch.nn.Linear, 4, 3, gen=gen)
    assert torch.equal(gen.get_state(), state)
    drawn = seeded(torch.nn.Linear, 4, 3, gen=gen)  # outside: the seeded default initialization again
    assert not torch.equal(gen.get_state(), state) and drawn.weight.abs().max() <= 0.5


# --- devices: nothing is allocated on the CPU behind the input's back ----------------------------


def _meta_cases():
    from workbench.specs import DENSE_INITS, DIAGONAL_INITS

    cases = [(layer, default_ssm(layer).replace(d_state=4 if layer != "s4d" else 8)) for layer in LAYERS]
    cases += [("mamba", default_ssm("mamba").replace(init="s4d-lin", d_state=4))]  # complex modes
    cases += [
        ("s4d", SSMSpec(init=i, d_state=8, discretization=d))
        for i in DENSE_INITS + DIAGONAL_INITS
        for d in ("zoh", "bilinear", "euler", "mamba")
    ]
    return cases


@pytest.mark.parametrize(
    "layer, ssm", _meta_cases(), ids=lambda c: c if isinstance(c, str) else f"{c.init}-{c.discretization}"
)
def test_forward_and_step_on_the_meta_device(layer, ssm):
    """Shape-only run on `meta`: any tensor made on the CPU (instead of from the inputs) fails here."""
    m = MIXERS[layer](ModelSpec(layer=layer, d_model=8, heads=2), ssm, seed=0).to("meta")
    x = torch.empty(2, 5, 8, device="meta")
    y = m(x)
    assert y.shape == (2, 5, 8) and y.is_meta
    state = None
    for t in range(3):
        y_t, state = m.step(x[:, t], state)
    assert y_t.shape == (2, 8) and y_t.is_meta
    assert all(s.is_meta for s in torch.utils._pytree.tree_leaves(state) if torch.is_tensor(s))


@pytest.mark.parametrize("layer", LAYERS)
def test_whole_model_forward_and_step_on_the_meta_device(layer):
    model = build_model(
        ModelSpec(layer=layer, d_model=8, heads=2, vocab_size=5, mlp=True), default_ssm(layer).replace(d_state=4)
    ).to("meta")
    x = torch.zeros(2, 6, dtype=torch.long, device="meta")
    assert model(x).shape == (2, 6, 5)
    out, state = model.step(x[:, 0])
    out, state = model.step(x[:, 1], state)
    assert out.shape == (2, 5) and out.is_meta
