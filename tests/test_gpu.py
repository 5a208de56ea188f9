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
    kw = dict(u=torch.randn(b, D, L, generator=g), delta=torch.rand(b, D, L, generator=g),
              A=-torch.rand(D, N, generator=g), B=torch.randn(b, N, L, generator=g),
              C=torch.randn(b, N, L, generator=g), D=torch.randn(D, generator=g), delta_softplus=True)
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
