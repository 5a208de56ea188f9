"""Scaling with sequence length (case 4): forward+backward time against L for the selective
scan and the S4D FFT convolution, with the fitted exponent of time ∝ L^p (target p ≈ 1)."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.harness import measure
from benchmarks.scan import build as scan_build
from workbench.specs import SSMSpec
from workbench.ssm.build import build_layer

LENGTHS = [256, 512, 1024, 2048, 4096, 8192, 16384]


def build(kind, L, impl):
    if kind == "scan":
        return scan_build(2, 64, 16, L, "workbench selective_scan")
    layer = build_layer(SSMSpec(d_state=64), 64)
    u = torch.randn(2, L, 64, generator=torch.Generator().manual_seed(0))
    return lambda: layer(u).square().mean().backward()


def run(quick: bool = False) -> list[dict]:
    rows = []
    lengths = LENGTHS[:4] if quick else LENGTHS
    for kind, label in (("scan", "selective scan fwd+bwd b2 D64 N16"), ("conv", "S4D FFT conv fwd+bwd b2 H64 N64")):
        times = [measure("benchmarks.scaling", (kind, L), ["t"], repeats=3)["t"]["median_s"] for L in lengths]
        p = float(np.polyfit(np.log(lengths), np.log(times), 1)[0])
        for L, t in zip(lengths, times):
            rows.append({"case": f"{label}, time vs L", "impl": f"L = {L}", "median_s": t, "peak_mb": None})
        rows.append(
            {
                "case": f"{label}, time vs L",
                "impl": f"fitted exponent p = {p:.2f}",
                "median_s": sum(times),
                "peak_mb": None,
                "target": "p ≈ 1",
                "met": p < 1.25,
            }
        )
    return rows
