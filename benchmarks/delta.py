"""Gated delta rule forward+backward: the chunked UT-transform form against the per-step recurrence,
and the chunked form's time against L (a power-law fit; linear cost means an exponent near 1).

`python -m benchmarks.delta [--quick]` writes benchmarks/results/delta.{md,json}.

The L sweep records each call's process CPU seconds, their user and kernel parts and the minor page
faults beside the wall time, and fits the exponent on each: on a shared machine the wall time of a
long call also counts the time other processes held the core, so a busier machine during the long
calls inflates the wall exponent; CPU seconds do not count that (memory-bandwidth contention still
shows in both). The kernel part is mostly zeroing fresh pages: tensors above glibc's 32 MiB mmap
ceiling (the (b, L, h, d) ones from L 4096 here) are mapped anew on every call, while smaller ones
reuse the heap, so the kernel seconds step up with L rather than follow a power; the user part is
the arithmetic and memory traffic.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.harness import RESULTS, measure, peak_rss_mb, write_report
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
    sweep = []
    for L in lengths:
        r = sweep_point(b, h, d, L, repeats=max(2, 4096 // L))  # short calls: more of them (same total time)
        sweep.append(r)
        rows.append({"case": f"chunked fwd+bwd b{b} h{h} d{d} L{L}", "impl": CHUNKED, **r})
    for clock, key in (("wall", "median_s"), ("CPU", "cpu_s"), ("user CPU (CPU outside the kernel)", "user_s")):
        slope = float(np.polyfit(np.log(lengths), np.log([r[key] for r in sweep]), 1)[0])
        rows.append(
            {
                "case": f"{clock} time ∝ L^p over L {lengths[0]}–{lengths[-1]}",
                "impl": f"p = {slope:.2f}",
                "median_s": math.nan,
                "peak_mb": None,
                "target": "p ≈ 1",
                "met": abs(slope - 1) <= 0.1,
            }
        )
    return rows


def sweep_point(b, h, d, L, repeats=2, warmup=1) -> dict:
    """Medians over `repeats` calls of wall and process CPU seconds, its user and kernel parts and the
    minor page faults of one forward+backward; the load average around them; the peak RSS."""
    fn, load_before = build(b, h, d, L, CHUNKED), os.getloadavg()[0]
    for _ in range(warmup):
        fn()
    calls = []
    for _ in range(repeats):
        r0, t0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), time.process_time()
        fn()
        t1, c1, r1 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        calls.append(
            (t1 - t0, c1 - c0, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt)
        )
    wall, cpu, user, sys_s, faults = (statistics.median(c) for c in zip(*calls))
    out = {
        "median_s": wall,
        "cpu_s": cpu,
        "user_s": user,
        "kernel_s": sys_s,
        "minor_faults": faults,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "peak_mb": peak_rss_mb("benchmarks.delta", (b, h, d, L), CHUNKED),
    }
    print(json.dumps({"L": L, **out}), file=sys.stderr, flush=True)
    return out


def cpu_table(rows: list[dict]) -> str:
    """The sweep's clocks side by side (Markdown)."""
    lines = [
        "",
        "Per forward+backward (medians): wall and process CPU seconds, the CPU time's user and kernel parts, "
        "minor page faults (the kernel zeroing fresh pages), and the 1-minute load average before → after "
        "each length.",
        "",
        "| case | wall (s) | CPU (s) | user (s) | kernel (s) | minor faults | CPU µs per token | load |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "cpu_s" in r:
            L = int(r["case"].rsplit("L", 1)[1])
            lines.append(
                f"| {r['case']} | {r['median_s']:.3f} | {r['cpu_s']:.3f} | {r['user_s']:.3f} | {r['kernel_s']:.3f} | "
                f"{r['minor_faults']:.0f} | {1e6 * r['cpu_s'] / L:.0f} | "
                f"{r['load_before']:.2f} → {r['load_after']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(prog="benchmarks.delta")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ns = p.parse_args()
    name = "delta-quick" if ns.quick else "delta"
    rows = run(quick=ns.quick)
    text = write_report(rows, name) + cpu_table(rows)
    (RESULTS / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
