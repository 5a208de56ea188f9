"""Selective scan: the chunked fast path equals the sequential reference, values and gradients."""
import pytest
import torch

from workbench.ssm.scan import linear_scan, linear_scan_ref, selective_scan, selective_scan_ref


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("L", [1, 2, 7, 33, 100])
def test_linear_scan_matches_loop(L, dtype):
    g = torch.Generator().manual_seed(L)
    a = (torch.rand(L, 3, 4, generator=g, dtype=torch.float64) * 0.9 + 0.1).to(dtype)
    b = torch.randn(L, 3, 4, generator=g, dtype=torch.float64).to(dtype)
    h0 = torch.randn(3, 4, generator=g, dtype=torch.float64).to(dtype)
    assert torch.allclose(linear_scan(a, b, h0), linear_scan_ref(a, b, h0), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_linear_scan_gradcheck(dtype):
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(11, 2, 3, generator=g, dtype=torch.float64) * 0.9 + 0.1).to(dtype).requires_grad_()
    b = torch.randn(11, 2, 3, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    h0 = torch.randn(2, 3, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    assert torch.autograd.gradcheck(linear_scan, (a, b, h0))


def inputs(dtype, variable_BC=True, complex_A=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    b, D, N, L = 2, 3, 4, 37
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)
    A = -torch.rand(D, N, generator=g, dtype=dtype) - 0.1
    if complex_A:
        A = torch.complex(A, r(D, N))
    BC = (b, N, L) if variable_BC else (D, N)
    B, C = r(*BC), r(*BC)
    if complex_A:
        B, C = torch.complex(B, r(*BC)), torch.complex(C, r(*BC))
    return dict(u=r(b, D, L), delta=r(b, D, L), A=A, B=B, C=C, D=r(D), z=r(b, D, L),
                delta_bias=r(D), delta_softplus=True)


@pytest.mark.parametrize("variable_BC", [True, False])
@pytest.mark.parametrize("complex_A", [False, True])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-8), (torch.float32, 1e-4)])
def test_selective_scan_matches_reference(variable_BC, complex_A, dtype, tol):
    kw = inputs(dtype, variable_BC, complex_A)
    leaves = {k: v.requires_grad_() for k, v in kw.items() if torch.is_tensor(v)}
    y, last = selective_scan(**kw, return_last_state=True)
    y_ref, last_ref = selective_scan_ref(**kw, return_last_state=True)
    scale = float(y_ref.detach().abs().max())
    assert float((y - y_ref).detach().abs().max()) < tol * scale
    assert torch.allclose(last, last_ref, rtol=tol, atol=tol * float(last_ref.detach().abs().max()))
    g = torch.autograd.grad(y.square().sum(), list(leaves.values()))
    g_ref = torch.autograd.grad(y_ref.square().sum(), list(leaves.values()))
    for name, a, b in zip(leaves, g, g_ref):
        assert float((a - b).abs().max()) <= tol * max(1.0, float(b.abs().max())), name


def test_selective_scan_gradcheck_small():
    kw = inputs(torch.float64)
    kw = {k: (v.requires_grad_() if torch.is_tensor(v) else v) for k, v in kw.items()}
    tensors = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]
    f = lambda *ts: selective_scan(**dict(zip(tensors, ts)), delta_softplus=True)
    assert torch.autograd.gradcheck(f, tuple(kw[k] for k in tensors))


@pytest.mark.parametrize("complex_A", [False, True])
@pytest.mark.parametrize("L", [1, 31, 64, 65, 130])
def test_fused_path_across_chunk_boundaries(L, complex_A):
    """Mamba's discretization with variable B, C takes the fused path: chunk edges must not show."""
    kw = inputs(torch.float64, True, complex_A)
    g = torch.Generator().manual_seed(L)
    b, D, N = kw["u"].shape[0], kw["u"].shape[1], kw["A"].shape[1]
    kw["u"], kw["delta"], kw["z"] = (torch.randn(b, D, L, generator=g, dtype=torch.float64) for _ in range(3))
    mk = (lambda: torch.randn(b, N, L, generator=g, dtype=torch.complex128)) if complex_A else \
        (lambda: torch.randn(b, N, L, generator=g, dtype=torch.float64))
    kw["B"], kw["C"] = mk(), mk()
    leaves = [kw[k].requires_grad_() for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")]
    y, last = selective_scan(**kw, return_last_state=True)
    y_ref, last_ref = selective_scan_ref(**kw, return_last_state=True)
    assert torch.allclose(y, y_ref, rtol=1e-10, atol=1e-10) and torch.allclose(last, last_ref.detach())
    w = torch.randn_like(y)
    for a, r in zip(torch.autograd.grad((y * w).sum(), leaves), torch.autograd.grad((y_ref * w).sum(), leaves)):
        assert torch.allclose(a, r, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("complex_A", [False, True])
def test_fused_gradcheck(complex_A):
    import workbench.ssm.scan_fused as sf
    from workbench.ssm.scan_fused import fused_selective_scan
    g = torch.Generator().manual_seed(0)
    L, b, D, N = 9, 2, 3, 2
    A = -torch.rand(D, N, generator=g, dtype=torch.float64) - 0.1
    dtype = torch.complex128 if complex_A else torch.float64
    if complex_A:
        A = torch.complex(A, torch.randn(D, N, generator=g, dtype=torch.float64))
    args = (torch.randn(L, b, D, generator=g, dtype=torch.float64), torch.rand(L, b, D, generator=g, dtype=torch.float64),
            A, torch.randn(L, b, N, generator=g, dtype=dtype), torch.randn(L, b, N, generator=g, dtype=dtype))
    old, sf.CHUNK = sf.CHUNK, 4  # several chunks even at this size
    try:
        assert torch.autograd.gradcheck(lambda *a: fused_selective_scan(*a)[0], tuple(a.requires_grad_() for a in args))
    finally:
        sf.CHUNK = old
