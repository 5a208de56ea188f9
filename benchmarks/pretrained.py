"""130m-sized checkpoints with random weights, saved by `transformers`: load each and run one forward
over 1,024 tokens with every probe of one layer captured, against `transformers`' own CPU forward
on the same weights. Two models, each from its published config:

    mamba    mamba-130m:  24 layers, d 768, N 16, vocab 50,280             (MambaForCausalLM)
    mamba2   mamba2-130m: 24 layers, d 768, N 128, head dim 64, 1 group    (Mamba2ForCausalLM)

Each side runs in a fresh process (peak memory is per process): time to load, median forward
time, and peak resident memory above the process's size after its imports (load + forward) and
during the forward alone. The logits of both are compared (max |Δ| / max |logit|). The load
average is recorded before and after: the ratios are what to read on a shared machine.

    python -m benchmarks.pretrained [--quick] [--models mamba,mamba2] [--layers N] [--tokens N]

Only the full size (no --quick, --layers or --tokens) writes benchmarks/results/pretrained.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS, machine

OURS = "workbench load_pretrained + capture"
PEERS = {"mamba": "transformers MambaForCausalLM", "mamba2": "transformers Mamba2ForCausalLM"}
CONFIGS = {
    "mamba": dict(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16, expand=2, conv_kernel=4),
    "mamba2": dict(
        vocab_size=50288,
        hidden_size=768,
        num_hidden_layers=24,
        state_size=128,
        expand=2,
        conv_kernel=4,
        head_dim=64,
        num_heads=24,  # expand · d_model / head_dim
        n_groups=1,
        chunk_size=256,
        tie_word_embeddings=True,
    ),
}
QUICK = {"layers": 4, "hidden_size": 128, "tokens": 128}
PROBES = {"mamba": 7, "mamba2": 5}  # probes of one mixer: u, Δ, B, C, z, y, out | Δ, B, C, y, out


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _hwm() -> int:
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) * 1024


def _reset_hwm() -> None:
    open("/proc/self/clear_refs", "w").write("5")


def _hf_class(kind: str):
    import transformers

    return getattr(transformers, "MambaForCausalLM" if kind == "mamba" else "Mamba2ForCausalLM")


def _hf_config(kind: str, cfg: dict):
    import transformers

    return getattr(transformers, "MambaConfig" if kind == "mamba" else "Mamba2Config")(**cfg)


def worker(kind: str, impl: str, folder: str, L: int, repeats: int, out: str) -> None:
    import torch

    torch.manual_seed(0)
    vocab = json.loads((Path(folder) / "config.json").read_text())["vocab_size"]
    ids = torch.randint(0, vocab, (1, L), generator=torch.Generator().manual_seed(0))
    if impl == OURS:
        from workbench.pretrained import load_pretrained
        from workbench.ssm.probe import capture
    else:
        cls = _hf_class(kind)
    _reset_hwm()
    base = _rss()
    t0 = time.perf_counter()
    model = load_pretrained(folder) if impl == OURS else cls.from_pretrained(folder).eval()
    load_s = time.perf_counter() - t0

    def forward():
        if impl == OURS:
            with capture(model, f"layers.{len(model.layers) // 2}.mixer.*") as seen:  # every probe of one layer
                y = model(ids)
            assert len(seen) == PROBES[kind], sorted(seen)
            return y
        return model(ids).logits

    times = []
    with torch.no_grad():
        model(ids[:, :32])  # first-call allocations
        fwd_base = _rss()
        _reset_hwm()
        for _ in range(repeats):
            y = None  # the previous repetition's logits must not sit beside the next ones in the peak
            t0 = time.perf_counter()
            y = forward()
            times.append(time.perf_counter() - t0)
    fwd_peak = _hwm() - fwd_base
    total_peak = max(_hwm(), fwd_base) - base
    torch.save(y[0, -64:].clone(), out + ".pt")
    floor = {} if impl == OURS else {"matmul_floor_s": matmul_floor(model, L)}
    Path(out).write_text(
        json.dumps(
            {
                **floor,
                "load_s": load_s,
                "forward_s": statistics.median(times),
                "times_s": times,
                "forward_peak_mb": fwd_peak / 2**20,
                "model_rss_mb": (fwd_base - base) / 2**20,
                "total_peak_mb": total_peak / 2**20,
            }
        )
    )


def matmul_floor(model, L: int, repeats: int = 3) -> float:
    """Seconds for the forward's dense products alone: every nn.Linear of the peer model (in/x/dt/out
    projections, the LM head) applied to L tokens, as one batch-1 forward applies them. Both sides
    compute exactly these products with the same shapes (one BLAS sgemm each), so no implementation
    of the same forward beats this time: peer forward / floor bounds the speed-up any scan can buy."""
    import torch

    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    xs = [torch.randn(1, L, m.in_features) for m in linears]  # (1, L, in) inputs of each product
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            for m, x in zip(linears, xs):
                m(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def config(kind: str, quick: bool = False, layers: int | None = None) -> dict:
    cfg = dict(CONFIGS[kind])
    if quick:
        cfg.update(num_hidden_layers=QUICK["layers"], hidden_size=QUICK["hidden_size"])
        if kind == "mamba2":
            cfg["num_heads"] = 2 * QUICK["hidden_size"] // cfg["head_dim"]
    if layers is not None:
        cfg["num_hidden_layers"] = layers
    return cfg


def run_case(kind: str, cfg: dict, L: int) -> dict:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / f"{kind}-random"
        torch.manual_seed(0)
        hf = _hf_class(kind)(_hf_config(kind, cfg))
        n_params = sum(p.numel() for p in hf.parameters())
        hf.save_pretrained(folder)
        del hf
        res = {}
        for impl, reps in ((OURS, 3), (PEERS[kind], 1)):
            out = str(Path(tmp) / ("ours" if impl == OURS else "peer"))
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.pretrained",
                    "--worker",
                    kind,
                    impl,
                    str(folder),
                    str(L),
                    str(reps),
                    out,
                ],
                check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            res[impl] = json.loads(Path(out).read_text())
            res[impl]["logits"] = torch.load(out + ".pt")
        a, b = res[OURS].pop("logits"), res[PEERS[kind]].pop("logits")
        rel = float((a - b).abs().max() / b.abs().max())
    o, p = res[OURS], res[PEERS[kind]]
    return {
        "config": cfg,
        "tokens": L,
        "parameters": n_params,
        "results": res,
        "speedup_forward": p["forward_s"] / o["forward_s"],
        "speedup_ceiling": p["forward_s"] / p["matmul_floor_s"],
        "memory_ratio_forward": o["forward_peak_mb"] / max(p["forward_peak_mb"], 1e-9),
        "memory_ratio_total": o["total_peak_mb"] / max(p["total_peak_mb"], 1e-9),
        "logits_max_rel_diff": rel,
    }


def run(quick: bool = False, models=("mamba", "mamba2"), layers: int | None = None, tokens: int | None = None) -> dict:
    L = tokens or (QUICK["tokens"] if quick else 1024)
    start = os.getloadavg()
    cases = {kind: run_case(kind, config(kind, quick, layers), L) for kind in models}
    return {"machine": machine(), "load_average": {"start": start, "end": os.getloadavg()}, "cases": cases}


def markdown(r: dict) -> str:
    m, la = r["machine"], r["load_average"]
    rows = [
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
        f"{m['memory_gib']} GiB. Load average (1, 5, 15 min): "
        f"{' '.join(f'{v:.2f}' for v in la['start'])} at the start, {' '.join(f'{v:.2f}' for v in la['end'])} at the end.",
    ]
    for kind, c in r["cases"].items():
        cfg, peer = c["config"], PEERS[kind]
        shape = f"N {cfg['state_size']}" + (
            f", head dim {cfg['head_dim']}, {cfg['n_groups']} group(s)" if kind == "mamba2" else ""
        )
        rows += [
            "",
            f"### {kind}: {cfg['num_hidden_layers']} layers, d {cfg['hidden_size']}, {shape}, "
            f"{c['parameters']:,} parameters, {c['tokens']} tokens, batch 1, float32, random weights",
            "",
            "| | load (s) | forward (s) | forward peak (MB) | load + forward peak (MB) |",
            "|---|---|---|---|---|",
        ]
        for name in (OURS, peer):
            v = c["results"][name]
            rows.append(
                f"| {name} | {v['load_s']:.2f} | {v['forward_s']:.2f} | {v['forward_peak_mb']:.0f} | "
                f"{v['total_peak_mb']:.0f} |"
            )
        rows += [
            "",
            f"Forward speed-up: **{c['speedup_forward']:.1f}×** (target ≥ 5×); forward peak memory ratio "
            f"{c['memory_ratio_forward']:.2f}, load + forward {c['memory_ratio_total']:.2f} (target ≤ 1); "
            f"logits max |Δ| / max |logit| = {c['logits_max_rel_diff']:.1e}.",
            "",
            f"Dense products alone (every projection and the LM head, same shapes, in the peer's process): "
            f"{c['results'][peer]['matmul_floor_s']:.2f} s, so no implementation of this forward on this BLAS can be more "
            f"than **{c['speedup_ceiling']:.1f}×** faster than {peer} here; the workbench spends "
            f"{c['results'][OURS]['forward_s'] - c['results'][peer]['matmul_floor_s']:.2f} s beyond them "
            f"(scan, convolution, norms, probes), {peer} "
            f"{c['results'][peer]['forward_s'] - c['results'][peer]['matmul_floor_s']:.2f} s.",
        ]
    return "\n".join(rows) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, impl, folder, L, reps, out = sys.argv[2:8]
        worker(kind, impl, folder, int(L), int(reps), out)
        return
    ap = argparse.ArgumentParser(prog="benchmarks.pretrained")
    ap.add_argument("--quick", action="store_true", help="4 layers, d 128, 128 tokens")
    ap.add_argument("--models", default="mamba,mamba2", help="comma-separated: mamba, mamba2")
    ap.add_argument("--layers", type=int, help="layers of every model (a smoke run; default 24)")
    ap.add_argument("--tokens", type=int, help="tokens of the forward (default 1,024)")
    ns = ap.parse_args()
    models = [k.strip() for k in ns.models.split(",") if k.strip()]
    bad = [k for k in models if k not in CONFIGS]
    for name, v in (("--layers", ns.layers), ("--tokens", ns.tokens)):
        if v is not None and v < 1:
            bad.append(f"{name} {v}")
    if bad or not models:
        print(
            f"benchmarks.pretrained: {bad[0] if bad else ns.models!r} is not allowed: "
            "--models takes mamba and/or mamba2, --layers and --tokens a positive integer",
            file=sys.stderr,
        )
        sys.exit(2)
    r = run(ns.quick, tuple(models), ns.layers, ns.tokens)
    text = markdown(r)
    print(text)
    full = not ns.quick and ns.layers is None and ns.tokens is None
    if full:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "pretrained.json").write_text(json.dumps(r, indent=1))
        (RESULTS / "pretrained.md").write_text("# Pretrained checkpoints: load + forward (130m size)\n\n" + text)


if __name__ == "__main__":
    main()
