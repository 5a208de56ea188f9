"""A mamba-130m-sized checkpoint (24 layers, d 768, N 16, vocab 50,280; random weights from the
published config), saved by `transformers`: load it and run one forward over 1,024 tokens with
every probe of one layer captured, against `transformers`' own CPU forward on the same weights.

Each side runs in a fresh process (peak memory is per process): time to load, median forward
time, and peak resident memory above the process's size after its imports (load + forward) and
during the forward alone. The logits of both are compared (max |Δ| / max |logit|).

    python -m benchmarks.pretrained [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS, machine

OURS, PEER = "workbench load_pretrained + capture", "transformers MambaForCausalLM"
CONFIG = dict(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16, expand=2, conv_kernel=4)
QUICK = dict(CONFIG, hidden_size=128, num_hidden_layers=4)


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _hwm() -> int:
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) * 1024


def _reset_hwm() -> None:
    open("/proc/self/clear_refs", "w").write("5")


def worker(impl: str, folder: str, L: int, repeats: int, out: str) -> None:
    import torch

    torch.manual_seed(0)
    ids = torch.randint(0, CONFIG["vocab_size"], (1, L), generator=torch.Generator().manual_seed(0))
    if impl == OURS:
        from workbench.pretrained import load_pretrained
        from workbench.ssm.probe import capture
    else:
        from transformers import MambaForCausalLM
    _reset_hwm()
    base = _rss()
    t0 = time.perf_counter()
    model = load_pretrained(folder) if impl == OURS else MambaForCausalLM.from_pretrained(folder).eval()
    load_s = time.perf_counter() - t0

    def forward():
        with torch.no_grad():
            if impl == OURS:
                with capture(model, f"layers.{len(model.layers) // 2}.mixer.*") as seen:  # every probe of one layer
                    y = model(ids)
                assert len(seen) == 7, sorted(seen)
                return y
            return model(ids).logits

    times = []
    with torch.no_grad():
        model(ids[:, :32]) if impl == OURS else model(ids[:, :32])  # first-call allocations
    fwd_base = _rss()
    _reset_hwm()
    for _ in range(repeats):
        t0 = time.perf_counter()
        y = forward()
        times.append(time.perf_counter() - t0)
    fwd_peak = _hwm() - fwd_base
    total_peak = max(_hwm(), fwd_base) - base
    torch.save(y[0, -64:].clone(), out + ".pt")
    Path(out).write_text(
        json.dumps(
            {
                "load_s": load_s,
                "forward_s": statistics.median(times),
                "times_s": times,
                "forward_peak_mb": fwd_peak / 2**20,
                "model_rss_mb": (fwd_base - base) / 2**20,
                "total_peak_mb": total_peak / 2**20,
            }
        )
    )


def run(quick: bool = False) -> dict:
    import torch
    from transformers import MambaConfig, MambaForCausalLM

    cfg = QUICK if quick else CONFIG
    L = 128 if quick else 1024
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mamba-130m-random"
        torch.manual_seed(0)
        MambaForCausalLM(MambaConfig(**cfg)).save_pretrained(folder)
        res = {}
        for impl, reps in ((OURS, 3), (PEER, 1)):
            out = str(Path(tmp) / ("ours" if impl == OURS else "peer"))
            subprocess.run(
                [sys.executable, "-m", "benchmarks.pretrained", "--worker", impl, str(folder), str(L), str(reps), out],
                check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            res[impl] = json.loads(Path(out).read_text())
            res[impl]["logits"] = torch.load(out + ".pt")
        a, b = res[OURS].pop("logits"), res[PEER].pop("logits")
        rel = float((a - b).abs().max() / b.abs().max())
    n_params = sum(p.numel() for p in MambaForCausalLM(MambaConfig(**cfg)).parameters()) if quick else 129_135_360
    report = {
        "machine": machine(),
        "config": cfg,
        "tokens": L,
        "parameters": n_params,
        "results": res,
        "speedup_forward": res[PEER]["forward_s"] / res[OURS]["forward_s"],
        "memory_ratio_forward": res[OURS]["forward_peak_mb"] / max(res[PEER]["forward_peak_mb"], 1e-9),
        "memory_ratio_total": res[OURS]["total_peak_mb"] / max(res[PEER]["total_peak_mb"], 1e-9),
        "logits_max_rel_diff": rel,
    }
    return report


def markdown(r: dict) -> str:
    m, o, p = r["machine"], r["results"][OURS], r["results"][PEER]
    rows = [
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
        f"{m['memory_gib']} GiB. Model: {r['config']['num_hidden_layers']} layers, d {r['config']['hidden_size']}, "
        f"{r['tokens']} tokens, batch 1, float32, random weights.",
        "",
        "| | load (s) | forward (s) | forward peak (MB) | load + forward peak (MB) |",
        "|---|---|---|---|---|",
    ]
    for name, v in ((OURS, o), (PEER, p)):
        rows.append(
            f"| {name} | {v['load_s']:.2f} | {v['forward_s']:.2f} | {v['forward_peak_mb']:.0f} | "
            f"{v['total_peak_mb']:.0f} |"
        )
    rows += [
        "",
        f"Forward speed-up: **{r['speedup_forward']:.1f}×** (target ≥ 5×); forward peak memory ratio "
        f"{r['memory_ratio_forward']:.2f}, load + forward {r['memory_ratio_total']:.2f} (target ≤ 1); "
        f"logits max |Δ| / max |logit| = {r['logits_max_rel_diff']:.1e}.",
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        impl, folder, L, reps, out = sys.argv[2:7]
        worker(impl, folder, int(L), int(reps), out)
        return
    ap = argparse.ArgumentParser(prog="benchmarks.pretrained")
    ap.add_argument("--quick", action="store_true")
    ns = ap.parse_args()
    r = run(ns.quick)
    text = markdown(r)
    print(text)
    if not ns.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "pretrained.json").write_text(json.dumps(r, indent=1))
        (RESULTS / "pretrained.md").write_text("# Pretrained checkpoint: load + forward (mamba-130m size)\n\n" + text)


if __name__ == "__main__":
    main()
