"""Gated delta rule forward+backward: the chunked UT-transform form against the per-step recurrence,
and the chunked form's time against L (a power-law fit; linear cost means an exponent near 1).

`python -m benchmarks.delta [--quick]` writes benchmarks/results/delta.{md,json}.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.harness import measure, write_report
from workbench.ssm.delta_chunked import delta_rule_chunked, delta_rule_recurrent

CHUNKED, REF = "workbench delta_rule_chunked (chunk 64)", "sequential recurrence"


def build(b, h, d, L, impl):
    """A callable running one forward+backward of the gated delta rule on seeded inputs."""
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(b, L, h, d, generator=g), torch.randn(b, L, h, d, generator=g)
    v = torch.randn(b, L, h, d, generator=g)
    beta_raw, dt_raw = torch.randn(b, L, h, generator=g), torch.randn(b, L, h, generator=g)
    leaves = [t.requires_grad_() for t in (q, k, v, beta_raw, dt_raw)]
    rule = {CHUNKED: delta_rule_chunked, REF: delta_rule_recurrent}[impl]

    def run():
        q, k, v, beta_raw, dt_raw = leaves
        log_alpha = -F.softplus(dt_raw - 3)  # Δ·a with Δ ≈ softplus, a = −1
        o, _ = rule(F.normalize(q, dim=-1), F.normalize(k, dim=-1), v, torch.sigmoid(beta_raw), log_alpha, chunk=64)
        o.square().mean().backward()

    return run


def run(quick: bool = False) -> list[dict]:
    # one thread for both: on a shared 2-core machine two threads mostly wait on OpenMP hand-offs
    torch.set_num_threads(1)
    rows = []
    b, h, d = (2, 4, 32) if quick else (8, 4, 64)
    L0 = 512 if quick else 2048
    res = measure("benchmarks.delta", (b, h, d, L0), [CHUNKED, REF], repeats=3)
    case = f"gated delta rule fwd+bwd b{b} h{h} d{d} L{L0}"
    ours, ref = res[CHUNKED], res[REF]
    rows.append({"case": case, "impl": CHUNKED, "median_s": ours["median_s"], "peak_mb": ours["peak_mb"]})
    ratio = ref["median_s"] / ours["median_s"]
    rows.append(
        {
            "case": case,
            "impl": REF,
            "median_s": ref["median_s"],
            "peak_mb": ref["peak_mb"],
            "vs": "chunked",
            "ratio": ratio,
            "target": "≥ 5×, no more memory",
            "met": ratio >= 5 and ours["peak_mb"] <= ref["peak_mb"],
        }
    )
    lengths = [256, 1024, 4096] if quick else [256, 1024, 4096, 16384]
    times = []
    for L in lengths:
        r = measure("benchmarks.delta", (b, h, d, L), [CHUNKED], repeats=2, warmup=1)[CHUNKED]
        times.append(r["median_s"])
        rows.append(
            {
                "case": f"chunked fwd+bwd b{b} h{h} d{d} L{L}",
                "impl": CHUNKED,
                "median_s": r["median_s"],
                "peak_mb": r["peak_mb"],
            }
        )
    slope = float(np.polyfit(np.log(lengths), np.log(times), 1)[0])
    rows.append(
        {
            "case": f"time ∝ L^p over L {lengths[0]}–{lengths[-1]}",
            "impl": f"p = {slope:.2f}",
            "median_s": math.nan,
            "peak_mb": None,
            "target": "p ≈ 1",
            "met": abs(slope - 1) <= 0.15,
        }
    )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(prog="benchmarks.delta")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ns = p.parse_args()
    print(write_report(run(quick=ns.quick), "delta-quick" if ns.quick else "delta"))


if __name__ == "__main__":
    main()
