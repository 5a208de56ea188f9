"""`python -m benchmarks.ess`: effective state size of a 2-layer d 64 model against L.

Every position 1..L-1 by the Gramians (layers with a diagonal realization), and the SVD of
the materialized block at 16 positions (every layer; the reference) — reported per call and
as seconds per position, so the two scale laws can be read off: Gramians O(L·n³) per group,
SVD O((L−i)·i·min(i, L−i)) per position i, i.e. O(L³) per position and O(L⁴) for all of them.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import torch

from benchmarks.harness import RESULTS, machine
from workbench.analysis.ess import effective_state_size
from workbench.specs import ModelSpec
from workbench.ssm.model import build_model


def _time(fn, repeat=3):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def run(lengths=(256, 512, 1024), layers=("mamba", "mamba2", "gla", "s4d", "attention"), repeat=3):
    rows = []
    for layer in layers:
        model = build_model(ModelSpec(layer=layer, d_model=64, n_layers=2, vocab_size=32, d_output=1, heads=4))
        for L in lengths:
            x = torch.randint(0, 32, (1, L), generator=torch.Generator().manual_seed(0))
            pos = list(range(1, L, max(1, L // 16)))[:16]
            row = {"layer": layer, "L": L}
            if layer != "attention":
                row["gram_s"] = _time(lambda m=model, x=x: effective_state_size(m, x), repeat)
                row["gram_s_per_position"] = row["gram_s"] / (L - 1)
            if layer not in ("mamba", "s4d") or L <= 256:  # one L×L operator per channel: minutes at L 1024
                row["svd16_s"] = _time(
                    lambda m=model, x=x, p=pos: effective_state_size(m, x, method="svd", positions=p), 1
                )
                row["svd_s_per_position"] = row["svd16_s"] / len(pos)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def report(rows, info) -> str:
    lines = [
        "# Effective state size: time for a 2-layer d 64 model (batch 1)",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, "
        f"{info['torch_threads']} torch threads; load average at start {info['load']} "
        "(a machine shared with other jobs: expect ±2×).",
        "",
        "| layer | L | Gramians, all L−1 positions (s) | per position (ms) | SVD, 16 positions (s) | SVD per position (ms) |",
        "|---|---|---|---|---|---|",
    ]
    f = lambda v, k=1.0: "—" if v is None else f"{v * k:.3g}"
    for r in rows:
        lines.append(
            f"| {r['layer']} | {r['L']} | {f(r.get('gram_s'))} | {f(r.get('gram_s_per_position'), 1e3)} | "
            f"{f(r.get('svd16_s'))} | {f(r.get('svd_s_per_position'), 1e3)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    info = machine() | {"load": " ".join(f"{v:.1f}" for v in os.getloadavg())}
    rows = run(lengths=(64,) if quick else (256, 512, 1024), repeat=1 if quick else 3)
    text = report(rows, info)
    print(text)
    if not quick:
        (RESULTS / "ess.md").write_text(text)
        (RESULTS / "ess.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
