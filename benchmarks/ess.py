"""`python -m benchmarks.ess [--layers mamba,gla] [--lengths 1024] [--no-svd] [--also mamba:2048]`: effective
state size of a 2-layer d 64 model against L.

Three computations in the same process, each timed as wall clock and CPU (process) seconds:
- rank: every position 1..L-1 by the Gramians, runs of 4 splits certified full rank by one Cholesky
  test, eigvalsh split by split for the rest (measure "rank", the default; `--also` rows: this only);
- spectra: the same Gramians, every spectrum by LAPACK's eigvalsh (measure "both": the ESS and the
  entropy ESS; how every rank was computed before);
- svd16: the SVD of the materialized block at 16 positions (every layer kind; the reference).
Scale laws: Gramians O(L·n³) per group (linear in L); SVD O((L−i)·i·min(i, L−i)) at position i, i.e. O(L³) per
position and O(L⁴) for all of them.
"""

from __future__ import annotations

import argparse
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

LAYERS = ("mamba", "mamba2", "gla", "s4d", "attention")


def _time(fn, repeat=3) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `repeat` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def run(lengths=(256, 512, 1024), layers=LAYERS, repeat=3, svd=True, also=()):
    """also: (layer, L) pairs timed for the rank only (the scaling of the Gramian path at longer L)."""
    rows = []
    for layer in layers + tuple(sorted({la for la, _ in also} - set(layers))):
        model = build_model(ModelSpec(layer=layer, d_model=64, n_layers=2, vocab_size=32, d_output=1, heads=4))
        extra = [L for la, L in also if la == layer]
        for L in (lengths if layer in layers else ()) + tuple(extra):
            rank_only = L in extra
            x = torch.randint(0, 32, (1, L), generator=torch.Generator().manual_seed(0))
            pos = list(range(1, L, max(1, L // 16)))[:16]
            row = {"layer": layer, "L": L, "load_before": os.getloadavg()[0]}
            if layer != "attention":
                effective_state_size(model, x[:, :16])  # warm-up: the first call pays for one-off setup
                for _ in range(repeat):  # alternate, so both see the same load
                    for key, measure in (("rank", "rank"),) + ((("spectra", "both"),) if not rank_only else ()):
                        w, c = _time(lambda m=model, x=x, k=measure: effective_state_size(m, x, measure=k), 1)
                        row.setdefault(key + "_wall", []).append(w)
                        row.setdefault(key + "_cpu", []).append(c)
                for k in ("rank_wall", "rank_cpu", "spectra_wall", "spectra_cpu"):
                    if k in row:
                        row[k] = statistics.median(row[k])
                if not rank_only:
                    a = effective_state_size(model, x)
                    b = effective_state_size(model, x, measure="both")
                    row["same_ess"] = bool((a.ess.values == b.ess.values).all())
            if (
                not rank_only and svd and (layer not in ("mamba", "s4d") or L <= 256)
            ):  # one L×L operator per channel: minutes
                row["svd16_wall"], row["svd16_cpu"] = _time(
                    lambda m=model, x=x, p=pos: effective_state_size(m, x, method="svd", positions=p), 1
                )
            row["load_after"] = os.getloadavg()[0]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def report(rows, info) -> str:
    f = lambda v, k=1.0: "—" if v is None else f"{v * k:.3g}"
    ratio = lambda r: "—" if "spectra_cpu" not in r else f"{r['spectra_cpu'] / r['rank_cpu']:.1f}×"
    lines = [
        "# Effective state size: time for a 2-layer d 64 model (batch 1)",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, "
        f"{info['torch_threads']} torch threads; uptime at start: {info['uptime']}.",
        "Wall clock and CPU (process) seconds, medians of alternating calls in one process. "
        "ESS at every position 1..L−1 unless stated.",
        "",
        "| layer | L | rank: ranges certified, eigvalsh for the rest, wall (s) | CPU (s) | spectra: eigvalsh, wall (s) | CPU (s) "
        "| CPU ratio | same ESS | SVD, 16 positions, wall (s) | load before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} | {r['L']} | {f(r.get('rank_wall'))} | {f(r.get('rank_cpu'))} | "
            f"{f(r.get('spectra_wall'))} | {f(r.get('spectra_cpu'))} | {ratio(r)} | {r.get('same_ess', '—')} | "
            f"{f(r.get('svd16_wall'))} | {r['load_before']:.1f} → {r['load_after']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _uptime() -> str:
    try:
        up = float(open("/proc/uptime").read().split()[0])
    except OSError:
        up = float("nan")
    return f"up {up / 3600:.1f} h, load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="L 64, one call each; writes nothing")
    ap.add_argument("--layers", default=",".join(LAYERS))
    ap.add_argument("--lengths", default="256,512,1024")
    ap.add_argument("--no-svd", action="store_true")
    ap.add_argument("--also", default="", help="LAYER:L,... timed for the rank only, e.g. mamba:2048")
    a = ap.parse_args()
    info = machine() | {"uptime": _uptime()}
    lengths = (64,) if a.quick else tuple(int(v) for v in a.lengths.split(","))
    also = tuple((v.split(":")[0], int(v.split(":")[1])) for v in a.also.split(",") if v)
    rows = run(lengths, tuple(a.layers.split(",")), repeat=1 if a.quick else 3, svd=not a.no_svd, also=also)
    info["uptime_end"] = _uptime()
    text = report(rows, info) + f"\nUptime at the end: {info['uptime_end']}.\n"
    print(text)
    if not a.quick:
        (RESULTS / "ess.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
        (RESULTS / "ess.md").write_text(text)
