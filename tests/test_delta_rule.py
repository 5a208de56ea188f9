"""The delta rule (DeltaNet, Gated DeltaNet): chunked form = per-step reference, closed forms, specs, probes."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from workbench import analysis
from workbench.errors import SpecError
from workbench.specs import ModelSpec, RunSpec, TaskSpec, default_ssm
from workbench.ssm.delta_chunked import (
    delta_rule_chunked,
    delta_rule_operator,
    delta_rule_recurrent,
    segment_length,
)
from workbench.ssm.deltanet import DeltaNet
from workbench.ssm.gated_deltanet import GatedDeltaNet
from workbench.ssm.model import build_model
from workbench.tasks import make_batch, test_batches

TOL = {torch.float64: 1e-8, torch.float32: 1e-4}


def inputs(b=2, L=150, h=3, dk=8, dv=6, dtype=torch.float64, seed=0, beta_max=2.0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    q, k = F.normalize(r(b, L, h, dk), dim=-1), F.normalize(r(b, L, h, dk), dim=-1)
    beta = beta_max * torch.rand(b, L, h, generator=g, dtype=torch.float64)
    log_alpha = -0.3 * torch.rand(b, L, h, generator=g, dtype=torch.float64)  # α in [0.74, 1]
    return [t.to(dtype) for t in (q, k, r(b, L, h, dv), beta, log_alpha)]


def rel_err(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max()) / max(1.0, float(b.abs().max()))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("gated", [False, True])
# not divisible, many chunks; shorter than one
@pytest.mark.parametrize("L, chunk", [pytest.param(150, 32, marks=pytest.mark.slow), (67, 16), (5, 64)])
def test_chunked_equals_recurrent_outputs_and_gradients(dtype, gated, L, chunk):
    q, k, v, beta, la = [t.requires_grad_() for t in inputs(L=L, dtype=dtype)]
    la_used = la if gated else None
    o, S = delta_rule_chunked(q, k, v, beta, la_used, chunk=chunk)
    o_ref, S_ref = delta_rule_recurrent(q, k, v, beta, la_used)
    assert rel_err(o, o_ref) <= TOL[dtype] and rel_err(S, S_ref) <= TOL[dtype]
    w = torch.randn_like(o)
    leaves = [q, k, v, beta] + ([la] if gated else [])
    g = torch.autograd.grad((o * w).sum() + S.sum(), leaves)
    g_ref = torch.autograd.grad((o_ref * w).sum() + S_ref.sum(), leaves)
    for a, b in zip(g, g_ref):
        assert rel_err(a, b) <= 10 * TOL[dtype]


def test_chunked_carries_an_initial_state():
    q, k, v, beta, la = inputs(L=40)
    S0 = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    o, S = delta_rule_chunked(q, k, v, beta, la, chunk=16, state=S0)
    o_ref, S_ref = delta_rule_recurrent(q, k, v, beta, la, state=S0)
    assert rel_err(o, o_ref) <= 1e-10 and rel_err(S, S_ref) <= 1e-10


@pytest.mark.parametrize("segment", [32, 40, 150])  # several segments (the last ragged); 40 rounds down to 32
def test_segmented_equals_recurrent_outputs_and_gradients(segment):
    q, k, v, beta, la = [t.requires_grad_() for t in inputs(L=150)]
    S0 = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    o, S = delta_rule_chunked(q, k, v, beta, la, chunk=16, state=S0, segment=segment)
    o_ref, S_ref = delta_rule_recurrent(q, k, v, beta, la, state=S0)
    assert rel_err(o, o_ref) <= 1e-10 and rel_err(S, S_ref) <= 1e-10
    w = torch.randn_like(o)
    g = torch.autograd.grad((o * w).sum() + S.sum(), [q, k, v, beta, la])
    g_ref = torch.autograd.grad((o_ref * w).sum() + S_ref.sum(), [q, k, v, beta, la])
    for a, b in zip(g, g_ref):
        assert rel_err(a, b) <= 1e-9


class _ElementsWritten(TorchDispatchMode):
    """Counts the elements of every tensor an op writes (views write none)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not func.is_view:
            self.n += sum(t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor))
        return out


def test_segmented_backward_work_per_token_does_not_grow_with_length():
    """Backward writes O(L) elements whatever the number of segments: each segment's input gradient
    must not be a whole-length tensor (a slice's backward is one: 486 -> 2060 elements per token
    from 8 to 64 segments; by split, 290 -> 296)."""

    def per_token(L):
        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(1, L, 1, 4, generator=g, requires_grad=True) for _ in range(3))
        beta, la = torch.rand(1, L, 1, generator=g), -torch.rand(1, L, 1, generator=g)
        o, _ = delta_rule_chunked(q, k, v, beta.requires_grad_(), la.requires_grad_(), chunk=8, segment=8)
        with _ElementsWritten() as count:
            o.sum().backward()
        return count.n / L

    assert per_token(512) <= 1.1 * per_token(64)


def test_segment_length_keeps_each_chunk_temporary_within_the_budget():
    # b 8, h 4, Q 64, float32: one chunk's (Q, Q) block per (b, h) is 8·4·64·64·4 B = 512 KiB
    assert segment_length(8, 4, 64, 4, budget=8 << 20) == 16 * 64
    assert segment_length(8, 4, 64, 8, budget=8 << 20) == 8 * 64
    assert segment_length(512, 16, 64, 4, budget=8 << 20) == 64  # never less than one chunk


def test_beta_one_orthonormal_keys_store_and_retrieve_exactly():
    """β = 1, orthonormal keys: S = Σ_i k_i v_iᵀ, so q = k_j reads v_j back exactly; rewriting a key
    replaces its value (the delta rule's erase-then-write), where additive linear attention would sum."""
    d, dv = 8, 5
    g = torch.Generator().manual_seed(1)
    K = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0].T  # rows orthonormal
    V = torch.randn(d, dv, generator=g, dtype=torch.float64)
    V_new = torch.randn(3, dv, generator=g, dtype=torch.float64)
    keys = torch.cat([K, K[:3]])  # write all d pairs, then overwrite the first 3 keys
    vals = torch.cat([V, V_new])
    L = keys.shape[0]
    k = keys[None, :, None]  # (1, L, 1, d)
    v = vals[None, :, None]
    beta = torch.ones(1, L, 1, dtype=torch.float64)
    for rule in (delta_rule_recurrent, delta_rule_chunked):
        _, S = rule(k, k, v, beta, None, chunk=4)
        expect = torch.cat([V_new, V[3:]])
        assert torch.allclose(S[0, 0], K.T @ expect, atol=1e-12)
        read = torch.einsum("kv,jk->jv", S[0, 0], K)  # q = k_j
        assert torch.allclose(read, expect, atol=1e-12)


def test_gated_decay_is_a_product_of_alphas():
    """One write with β = 1 then reads along an orthogonal key: the value fades as Π α_t exactly."""
    d, L = 4, 12
    e = torch.eye(d, dtype=torch.float64)
    k = torch.stack([e[0]] + [e[1]] * (L - 1))[None, :, None]  # (1, L, 1, d)
    q = e[0].expand(1, L, 1, d)
    v = torch.zeros(1, L, 1, 1, dtype=torch.float64)
    v[0, 0, 0, 0] = 1.0
    beta = torch.ones(1, L, 1, dtype=torch.float64)
    la = torch.log(torch.linspace(0.5, 0.99, L, dtype=torch.float64))[None, :, None]
    o, _ = delta_rule_chunked(q, k, v, beta, la, chunk=5)
    expect = torch.exp(torch.cumsum(la[0, :, 0], 0))  # Π_{s≤t} α_s (α_0 multiplies the empty state)
    expect = expect / expect[0]
    assert torch.allclose(o[0, :, 0, 0], expect, atol=1e-12)


@pytest.mark.parametrize("gated", [False, True])
def test_operator_reproduces_the_rule(gated):
    q, k, v, beta, la = inputs(L=30)
    M = delta_rule_operator(q, k, beta, la if gated else None)  # (b, h, L, L)
    o, _ = delta_rule_recurrent(q, k, v, beta, la if gated else None)
    assert rel_err(torch.einsum("bhij,bjhv->bihv", M, v), o) <= 1e-10
    assert float(M.triu(1).abs().max()) == 0.0


@pytest.mark.parametrize("cls", [DeltaNet, pytest.param(GatedDeltaNet, marks=pytest.mark.slow)])
def test_layer_fast_path_equals_reference_past_several_chunks(cls):
    torch.manual_seed(0)
    m = cls(d_model=12, heads=3, chunk=8).double()
    x = torch.randn(2, 45, 12, dtype=torch.float64)
    assert rel_err(m(x), m.forward_ref(x)) <= 1e-8
    state, ys = None, []
    with torch.no_grad():
        for x_t in x.unbind(1):
            y, state = m.step(x_t, state)
            ys.append(y)
    assert rel_err(torch.stack(ys, 1), m(x)) <= 1e-10


def test_gated_deltanet_without_decay_starts_as_deltanet():
    """α forced to 1 (a = −exp(A_log) → 0): at initialization Gated DeltaNet is DeltaNet of the same seed,
    outputs and gradients, because the gate starts open and flat (W_g = 0, SiLU(b_g) = 1)."""
    x = torch.randn(2, 37, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    gdn, dn = (
        GatedDeltaNet(d_model=16, heads=4, chunk=8, seed=5).double(),
        DeltaNet(d_model=16, heads=4, chunk=8, seed=5).double(),
    )
    with torch.no_grad():
        gdn.A_log.fill_(-torch.inf)
    q, k, v, beta, log_alpha = gdn.mixer_inputs(x)
    assert float(log_alpha.detach().abs().max()) == 0.0
    for a, b in zip((q, k, v, beta), dn.mixer_inputs(x)[:4]):
        assert torch.equal(a, b)
    assert rel_err(gdn(x), dn(x)) <= 1e-6  # SiLU(b_g) = 1 to float32 precision
    gdn(x).square().sum().backward()
    dn(x).square().sum().backward()
    assert rel_err(gdn.qkv.weight.grad, dn.qkv.weight.grad) <= 1e-6
    assert abs(float(F.silu(gdn.g_proj.bias.detach()[0])) - 1) <= 1e-6


def test_gated_deltanet_gate_none_is_deltanet_plus_the_decay():
    x = torch.randn(2, 20, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gdn = GatedDeltaNet(d_model=16, heads=4, chunk=8, gate="none", seed=2).double()
    dn = DeltaNet(d_model=16, heads=4, chunk=8, seed=2).double()
    assert not hasattr(gdn, "g_proj")
    q, k, v, beta, la = gdn.mixer_inputs(x)
    o, _ = delta_rule_recurrent(q, k, v, beta, la)
    assert rel_err(gdn(x), dn._out(o, x)) <= 1e-10
    with pytest.raises(SpecError, match="model.gate"):
        GatedDeltaNet(d_model=16, heads=4, gate="glu")


def test_gated_deltanet_step_size_knobs():
    m = GatedDeltaNet(d_model=16, heads=8, dt_min=1e-3, dt_max=1e-1, dt_transform="exp", seed=3)
    dt = m.dt_at_rest().detach()
    assert float(dt.min()) >= 1e-3 * (1 - 1e-5) and float(dt.max()) <= 1e-1 * (1 + 1e-5)
    a = torch.exp(m.A_log.detach())
    assert float(a.min()) >= 1 and float(a.max()) <= 16
    ds = analysis.spectrum(build_model(ModelSpec(layer="gated-deltanet", d_model=16, heads=4)))
    half = ds["half_life"].isel(layer=0, mode=0).values
    assert half.shape == (4,)
    expect = math.log(2) / (ds["dt"].isel(layer=0).values * -ds["A_real"].isel(layer=0, mode=0).values)
    assert abs(half - expect).max() <= 1e-9 * expect.max()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"layer": "deltanet", "d_model": 10, "heads": 4}, "model.heads"),
        ({"layer": "gated-deltanet", "d_model": 12, "heads": 5}, "model.heads"),
        ({"layer": "deltanet", "beta_max": 2.5}, "model.beta_max"),
        ({"layer": "gated-deltanet", "beta_max": 0}, "model.beta_max"),
        ({"layer": "rg-lru", "rg_lru_c": -1}, "model.rg_lru_c"),
        ({"layer": "gated-deltanet", "gate": "glu"}, "model.gate"),
    ],
)
def test_bad_specs_name_the_field(values, field):
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(values)
    assert err.value.field == field and "\n" not in str(err.value)


def test_bad_layer_arguments_and_ssm_settings():
    with pytest.raises(SpecError, match="model.beta_max"):
        DeltaNet(d_model=8, heads=2, beta_max=3.0)
    with pytest.raises(SpecError, match="model.heads"):
        GatedDeltaNet(d_model=8, heads=3)
    with pytest.raises(SpecError, match="ssm.dt_min"):
        RunSpec.from_dict({"model": {"layer": "gated-deltanet"}, "ssm": {"dt_min": 0.5, "dt_max": 0.1}})


def test_selective_probes_and_hidden_attention():
    model = build_model(ModelSpec(layer="gated-deltanet", d_model=16, heads=4, vocab_size=10, n_layers=2))
    x = torch.randint(0, 10, (2, 20))
    ds = analysis.selective_forgetting(model, x)
    for name in ("alpha", "beta", "delta", "decay_to_end", "state_norm"):
        assert ds[name].dims == ("layer", "sample", "head", "token")
    assert float(ds["alpha"].max()) < 1 and float(ds["alpha"].min()) > 0
    assert float(ds["beta"].max()) < 1
    att = analysis.hidden_attention(model, x)
    assert att["alpha"].shape == (2, 4, 20, 20)
    plain = analysis.selective_forgetting(
        build_model(ModelSpec(layer="deltanet", d_model=16, heads=4, vocab_size=10)), x
    )
    assert "alpha" not in plain and "state_norm" in plain


def test_needle_task_plants_one_pair_and_scores_the_query():
    spec = TaskSpec(kind="needle", seq_len=50, vocab_size=16)
    b = make_batch(spec, 64, torch.Generator().manual_seed(0))
    keys = b.inputs[:, -1]
    assert ((keys >= 1) & (keys < 8)).all()
    assert (b.mask.sum(1) == 1).all() and b.mask[:, -1].all()
    is_key = (b.inputs >= 1) & (b.inputs < 8)
    assert (is_key.sum(1) == 2).all()  # the needle's key and the query, nothing else
    pos = is_key[:, :-1].float().argmax(1)
    assert torch.equal(b.targets[:, -1], b.inputs[torch.arange(64), pos + 1])
    held = test_batches(spec.replace(test_lengths=[100, 400]), 4)
    assert {k: v.inputs.shape[1] for k, v in held.items()} == {"L=100": 100, "L=400": 400}
    with pytest.raises(SpecError, match="task.vocab_size"):
        TaskSpec.from_dict({"kind": "needle", "vocab_size": 3})


@pytest.mark.parametrize("L", [23, 40])
def test_needle_pair_haystack_is_recalled_and_the_needle_key_never_recurs(L):
    spec = TaskSpec(kind="needle", seq_len=L, vocab_size=16, haystack="pairs")
    train = make_batch(spec, 32, torch.Generator().manual_seed(1))
    half, lead = 8, L % 2
    recalls = 0
    for x, y, m in zip(train.inputs.tolist(), train.targets.tolist(), train.mask.tolist()):
        assert x[-2] == 0 and 1 <= x[-1] < half  # marker, then the needle's key
        pairs = [(x[i], x[i + 1]) for i in range(lead, L - 2, 2)]
        assert all(1 <= k < half <= v < 16 for k, v in pairs)
        assert [k for k, _ in pairs].count(x[-1]) == 1  # the needle: its key appears once before the query
        bound = {}  # a plain dictionary walk: the last value bound to each key
        for j, (k, v) in enumerate(pairs):
            i = lead + 2 * j
            if m[i]:  # scored: a recall, whose value is the one bound last
                assert k in bound and v == bound[k] and y[i] == v
                recalls += 1
            bound[k] = v
        assert m[-1] and y[-1] == bound[x[-1]]
        assert sum(m) == 1 + sum(m[lead : L - 2 : 2])  # nothing else scored
    assert recalls > 32  # about half of the returning keys are recalls
    held = test_batches(spec.replace(test_lengths=[30]), 8)["L=30"]
    assert (held.mask.sum(1) == 1).all() and held.mask[:, -1].all()  # held-out: the needle alone
    with pytest.raises(SpecError, match="task.vocab_size"):
        TaskSpec.from_dict({"kind": "needle", "vocab_size": 5, "haystack": "pairs"})
    with pytest.raises(SpecError, match="task.haystack"):
        TaskSpec.from_dict({"kind": "needle", "haystack": "essays"})


def test_default_ssm_of_the_new_layers():
    g = default_ssm("gated-deltanet")
    assert g.dt_transform == "softplus" and (g.dt_min, g.dt_max) == (1e-4, 1e-2)
    # α at rest = exp(−Δ a) with a ≤ 16: no head starts below exp(−0.16) ≈ 0.85 (t½ ≥ 4 steps)
    for seed in range(5):
        m = build_model(ModelSpec(layer="gated-deltanet", d_model=32, heads=8, seed=seed), g).layers[0].mixer
        alpha = torch.exp(-m.dt_at_rest() * torch.exp(m.A_log)).detach()
        assert float(alpha.min()) >= math.exp(-0.16) - 1e-6
    r = default_ssm("rg-lru")
    assert (r.r_min, r.r_max) == (0.9, 0.999)


@pytest.mark.parametrize(
    "layer, kinds",
    [
        pytest.param("deltanet", {"selective", "tokens"}, marks=pytest.mark.slow),
        ("gated-deltanet", {"selective", "spectrum", "tokens"}),
        pytest.param("rg-lru", {"selective", "spectrum", "tokens"}, marks=pytest.mark.slow),
    ],
)
def test_live_runs_record_the_new_probes(layer, kinds):
    from workbench.train.probes import Probes

    model = build_model(ModelSpec(layer=layer, d_model=16, heads=4, vocab_size=16))
    batch = make_batch(TaskSpec(kind="needle", seq_len=24), 4, torch.Generator().manual_seed(0))
    probes = Probes(model, batch, 24)
    assert kinds <= set(probes.active)
    out = probes.compute(model)
    assert all(bool(np.isfinite(ds[v].values).all()) for ds in out.values() for v in ds.data_vars)
