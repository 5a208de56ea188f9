"""S4D layer forward+backward: chunked Vandermonde kernel against the naive two-line kernel."""

from __future__ import annotations

import torch

from benchmarks.harness import measure, row
from workbench.specs import SSMSpec
from workbench.ssm.build import build_layer
from workbench.ssm.kernel import vandermonde_kernel, vandermonde_kernel_naive

OURS, NAIVE = "workbench (chunked Vandermonde)", "naive kernel (H, N, L)"


def build(H, N, L, b, impl):
    layer = build_layer(SSMSpec(init="s4d-lin", d_state=N), H)
    fn = {OURS: vandermonde_kernel, NAIVE: vandermonde_kernel_naive}[impl]
    layer._kernel = lambda p, L: fn(p.B_bar * p.C, p.A_bar, L, p.conjugate_pairs)
    u = torch.randn(b, L, H, generator=torch.Generator().manual_seed(0))
    return lambda: layer(u).square().mean().backward()


def run(quick: bool = False) -> list[dict]:
    args = (64, 64, 1024, 8) if quick else (256, 64, 4096, 8)
    H, N, L, b = args
    res = measure(
        "benchmarks.kernel", args, [OURS, NAIVE], repeats=3 if quick else 5, loaded=None if quick else [OURS, NAIVE]
    )
    case = f"S4D layer fwd+bwd H{H} N{N} L{L} b{b}"
    ours, naive = res[OURS], res[NAIVE]
    ratio = naive["median_s"] / ours["median_s"]
    mem = ours["peak_mb"] / max(naive["peak_mb"], 1e-9)
    extra = {"loaded_ratio": naive["loaded"]["median_s"] / ours["loaded"]["median_s"]} if "loaded" in naive else {}
    return [
        row(case, OURS, ours),
        row(
            case,
            NAIVE,
            naive,
            vs="workbench",
            ratio=ratio,
            target="≥ 2×, ≤ 1/4 memory",
            met=ratio >= 2 and mem <= 0.25,
            **extra,
        ),
    ]
