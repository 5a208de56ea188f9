"""Selective scan forward+backward: the fast path against the sequential reference and mambapy."""
from __future__ import annotations

import torch

from benchmarks.harness import measure
from workbench.ssm.scan import selective_scan, selective_scan_ref

OURS, REF, MAMBAPY = "workbench selective_scan", "sequential reference", "mambapy pscan"


def mambapy_scan():
    """mambapy's parallel scan, driven with the standard Mamba formulas in its (b, L, D, N) layout."""
    try:
        from mambapy.pscan import pscan
    except ImportError:
        return None

    def scan(u, delta, A, B, C, D):
        x, dt = u.transpose(1, 2), delta.transpose(1, 2)  # (b, L, D)
        dA = torch.exp(dt[..., None] * A)  # (b, L, D, N)
        BX = (dt * x)[..., None] * B.transpose(1, 2)[:, :, None, :]
        hs = pscan(dA, BX)
        y = (hs @ C.transpose(1, 2)[..., None])[..., 0] + D * x
        return y.transpose(1, 2)
    return scan


def build(b, D, N, L, impl):
    """A callable running one forward+backward of `impl` on seeded inputs."""
    g = torch.Generator().manual_seed(0)
    kw = dict(u=torch.randn(b, D, L, generator=g), delta=torch.rand(b, D, L, generator=g) * 0.1,
              A=-torch.rand(D, N, generator=g) - 0.5, B=torch.randn(b, N, L, generator=g),
              C=torch.randn(b, N, L, generator=g), D=torch.randn(D, generator=g))
    fn = {OURS: selective_scan, REF: selective_scan_ref, MAMBAPY: mambapy_scan()}[impl]
    leaves = {k: v.requires_grad_() for k, v in kw.items()}
    return lambda: fn(**leaves).square().mean().backward()


def run(quick: bool = False) -> list[dict]:
    rows = []
    have_peer = mambapy_scan() is not None
    sizes = [(8, 64, 16, 1024)] if quick else [(8, 64, 16, 1024), (8, 128, 16, 1024), (8, 128, 16, 4096)]
    for b, D, N, L in sizes:
        impls = [OURS, REF] + ([MAMBAPY] if have_peer else [])  # target: ≥ 5× the reference at L 1024 and 4096
        res = measure("benchmarks.scan", (b, D, N, L), impls, repeats=3 if quick else 9)
        case = f"selective scan fwd+bwd b{b} D{D} N{N} L{L}"
        ours = res[OURS]
        rows.append({"case": case, "impl": OURS, "median_s": ours["median_s"], "peak_mb": ours["peak_mb"]})
        for impl, target, ok in [(REF, "≥ 3×" if D == 64 else "≥ 5×", lambda r, m: r >= (3 if D == 64 else 5)),
                                 (MAMBAPY, "≥ 2×, no more memory", lambda r, m: r >= 2 and ours["peak_mb"] <= m)]:
            if impl in res:
                r = res[impl]
                ratio = r["median_s"] / ours["median_s"]
                rows.append({"case": case, "impl": impl, "median_s": r["median_s"], "peak_mb": r["peak_mb"],
                             "vs": "workbench", "ratio": ratio, "target": target, "met": ok(ratio, r["peak_mb"])})
    return rows
