"""CUDA paths: run only where a GPU is present (`pytest -m gpu`); skipped on the CPU machines."""

import pytest
import torch

from workbench.specs import LAYERS, ModelSpec
from workbench.ssm.model import build_model
from workbench.ssm.scan import selective_scan, selective_scan_ref

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def test_selective_scan_on_cuda_matches_cpu_reference():
    g = torch.Generator().manual_seed(0)
    b, D, N, L = 2, 8, 4, 300
    kw = dict(
        u=torch.randn(b, D, L, generator=g),
        delta=torch.rand(b, D, L, generator=g),
        A=-torch.rand(D, N, generator=g),
        B=torch.randn(b, N, L, generator=g),
        C=torch.randn(b, N, L, generator=g),
        D=torch.randn(D, generator=g),
        delta_softplus=True,
    )
    y_ref = selective_scan_ref(**kw)
    y = selective_scan(**{k: (v.cuda() if torch.is_tensor(v) else v) for k, v in kw.items()})
    assert torch.allclose(y.cpu(), y_ref, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("layer", LAYERS)
def test_models_run_on_cuda_with_bf16_autocast(layer):
    model = build_model(ModelSpec(layer=layer, d_model=32, vocab_size=16)).cuda()
    x = torch.randint(0, 16, (2, 64), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(x).float().logsumexp(-1).mean()
    loss.backward()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("layer", LAYERS)
def test_step_on_cuda_equals_forward(layer):
    """The recurrent state is made on the input's device: the step loop runs on CUDA and equals forward."""
    from workbench.specs import default_ssm
    from workbench.ssm.mixers import MIXERS

    ssm = default_ssm(layer).replace(d_state=4 if layer != "s4d" else 8)
    m = MIXERS[layer](ModelSpec(layer=layer, d_model=8, heads=2), ssm, seed=0).double().cuda()
    x = torch.randn(2, 12, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64).cuda()
    state, ys = None, []
    with torch.no_grad():
        for t in range(12):
            y, state = m.step(x[:, t], state)
            ys.append(y)
        y_fwd = m(x)
    assert all(s.is_cuda for s in torch.utils._pytree.tree_leaves(state) if torch.is_tensor(s))
    assert torch.allclose(torch.stack(ys, 1), y_fwd, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("discretization", ["zoh", "bilinear", "euler", "mamba"])
@pytest.mark.parametrize("init", ["hippo-legs", "hippo-legt", "hippo-lagt", "hippo-fout"])
def test_hippo_inits_on_cuda_match_cpu(init, discretization):
    import workbench
    from workbench.specs import SSMSpec

    layer = workbench.build_layer(SSMSpec(init=init, d_state=16, discretization=discretization), d_model=4).double()
    u = torch.randn(2, 64, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        y_cpu, K_cpu = layer(u), layer.kernel(64)
        layer = layer.cuda()
        y, K = layer(u.cuda()), layer.kernel(64)
        _, state = layer.step(u[:, 0].cuda())
    assert state.is_cuda
    assert torch.allclose(K.cpu(), K_cpu, rtol=1e-9, atol=1e-12)
    assert torch.allclose(y.cpu(), y_cpu, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("complex_A", [False, True])
def test_grouped_and_interleaved_scan_on_cuda(complex_A):
    from workbench.ssm.scan_args import interleave

    g = torch.Generator().manual_seed(2)
    b, D, G, N, L = 2, 6, 3, 4, 50
    A = -torch.rand(D, N, generator=g) - 0.1
    B, C = torch.randn(b, G, N, L, generator=g), torch.randn(b, G, N, L, generator=g)
    if complex_A:
        A = torch.complex(A, torch.randn(D, N, generator=g))
        B = interleave(torch.complex(B, torch.randn(b, G, N, L, generator=g)))
        C = interleave(torch.complex(C, torch.randn(b, G, N, L, generator=g)))
    kw = dict(
        u=torch.randn(b, D, L, generator=g),
        delta=torch.rand(b, D, L, generator=g),
        A=A,
        B=B,
        C=C,
        D=torch.randn(D, generator=g),
        delta_softplus=True,
    )
    y_ref = selective_scan_ref(**kw)
    y = selective_scan(**{k: (v.cuda() if torch.is_tensor(v) else v) for k, v in kw.items()})
    assert torch.allclose(y.cpu(), y_ref, rtol=1e-3, atol=1e-3)
