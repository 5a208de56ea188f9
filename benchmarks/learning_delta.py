"""Learning with the delta-rule layers at equal state size: MQAR and a single needle in a haystack.

Every model: d_model 64, 2 blocks, 4 heads, so each block holds a 1024-number state
(deltanet, gated-deltanet, gla: 4 heads × 16 × 16; mamba2: expand 2, N 8 → 128 channels × 8).
Needle (V 16): trained at L = 64, tested at 64, 256, 512, 1024 and 2048 (a key-value pair must survive
up to 2046 distractors; at L = 128 none of the three learned within 400 steps). Each run goes through the real runner path (worker + store).
`python -m benchmarks.learning_delta [--only NAME] [--steps-scale S]`; results are appended to
benchmarks/results/learning.md under their own heading.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS, machine
from workbench.specs import RunSpec
from workbench.store import open_run
from workbench.train import runner
from workbench.train.worker import run_worker

MODEL = {"d_model": 64, "n_layers": 2, "heads": 4}
EQUAL_STATE = {
    "deltanet": ({}, {}),
    "gated-deltanet": ({}, {}),
    "gla": ({}, {}),
    "mamba2": ({"expand": 2}, {"d_state": 8}),
}  # (model, ssm) changes: 1024 numbers per block
HEADING = "## Delta rule at equal state size: MQAR and a needle in a haystack"
NEEDLE_LENGTHS = [64, 256, 512, 1024, 2048]
MQAR = {"kind": "mqar", "seq_len": 64, "num_kv": 8}
NEEDLE = {"kind": "needle", "seq_len": 64, "vocab_size": 16, "test_lengths": NEEDLE_LENGTHS}


def _case(layer, task, steps, lr=1e-2, model=None, ssm=None):
    # ssm_lr = lr: Mamba-2 and Gated DeltaNet train Δ and A at the model's learning rate (no weight
    # decay); the workbench's S4-style default (1e-3) left gated-deltanet at chance on MQAR in 600 steps
    m, s = EQUAL_STATE[layer]
    return {
        "model": {"layer": layer, **MODEL, **m, **(model or {})},
        "ssm": {**s, "ssm_lr": lr, **(ssm or {})},
        "task": task,
        "train": {"steps": steps, "lr": lr},
    }


CASES = {f"{layer}/needle": _case(layer, NEEDLE, 400) for layer in ("gated-deltanet", "deltanet", "mamba2")}
CASES.update({f"{layer}/mqar": _case(layer, MQAR, 600) for layer in ("gated-deltanet", "deltanet", "gla", "mamba2")})
# the ablation: Gated DeltaNet without its output gate (DeltaNet plus the decay)
CASES["gated-deltanet-nogate/mqar"] = _case("gated-deltanet", MQAR, 600, model={"gate": "none"})
# Mamba-2 with Gated DeltaNet's Δ range: at its own ([1e-3, 1e-1]) it stays at chance on the needle
CASES["mamba2-dt1e-2/needle"] = _case("mamba2", NEEDLE, 400, ssm={"dt_min": 1e-4, "dt_max": 1e-2})


def state_size(spec: RunSpec) -> int:
    """Numbers in one block's recurrent state (conv windows aside)."""
    m = spec.model
    if m.layer == "mamba2":
        return m.expand * m.d_model * spec.ssm.d_state
    return m.heads * (m.d_model // m.heads) ** 2


def run_case(name: str, root: Path, steps_scale: float = 1.0) -> dict:
    spec = json.loads(json.dumps(CASES[name]))
    spec["train"]["steps"] = max(1, int(spec["train"]["steps"] * steps_scale))
    # one thread: the per-step ops are small, and two threads lose to OpenMP hand-offs on 2 cores
    spec["train"].update(batch=32, eval_every=100, probe_every=0, checkpoint_every=10_000, threads=1, warmup=50)
    run = RunSpec.from_dict(spec, name=name.replace("/", " "))
    path = runner.create(run, root)
    t0 = time.perf_counter()
    out = run_worker(path)
    wall = time.perf_counter() - t0
    m = open_run(path.name, root).metrics
    scores = {}
    for key in m.data_vars:
        hit = re.fullmatch(r"test/(?:L=(\d+)/)?(\w+)", key)
        if hit:
            curve = m[key].dropna("step")
            scores[hit.group(1) or "test"] = {"final": float(curve[-1]), "best": float(curve.max())}
    ssm_lr = run.ssm.ssm_lr if run.model.layer in ("mamba2", "gated-deltanet") else ""
    return {
        "case": name,
        "state_per_block": state_size(run),
        "scores": scores,
        "steps": out["step"],
        "train_length": run.task.length(),
        "ssm_lr": ssm_lr,
        "wall_time_s": wall,
        "status": out["status"],
    }


def table(rows: list[dict]) -> str:
    mqar = [r for r in rows if r["case"].endswith("/mqar")]
    needle = [r for r in rows if r["case"].endswith("/needle")]
    lines = []
    if mqar:
        lines += [
            f"MQAR (L {MQAR['seq_len']}, V 256, {MQAR['num_kv']} pairs), token accuracy on held-out batches:",
            "",
            "| layer | state / block | Δ, A lr | final | best | steps | wall s |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['case'].split('/')[0]} | {r['state_per_block']} | {r.get('ssm_lr', '')} | "
            f"{r['scores']['test']['final']:.3f} | {r['scores']['test']['best']:.3f} | {r['steps']} | "
            f"{r['wall_time_s']:.0f} |"
            for r in mqar
        ]
        lines.append("")
    for train_len in sorted({r.get("train_length", 0) for r in needle}):
        group = [r for r in needle if r.get("train_length", 0) == train_len]
        Ls = sorted({int(n) for r in group for n in r["scores"]})
        lines += [
            (
                f"Needle in a haystack (V {NEEDLE['vocab_size']}, trained at L {train_len or '?'}), accuracy at the "
                f"query (final; chance 1/{NEEDLE['vocab_size'] // 2}; 32 held-out sequences per length):"
            ),
            "",
            "| layer | state / block | Δ, A lr | " + " | ".join(f"L {n}" for n in Ls) + " | steps | wall s |",
            "|---|---:|---|" + "---:|" * len(Ls) + "---:|---:|",
        ]
        lines += [
            f"| {r['case'].split('/')[0]} | {r['state_per_block']} | {r.get('ssm_lr', '')} | "
            + " | ".join(f"{r['scores'][str(n)]['final']:.3f}" for n in Ls)
            + f" | {r['steps']} | {r['wall_time_s']:.0f} |"
            for r in group
        ]
        lines.append("")
    return "\n".join(lines)


def write_section(rows: list[dict], m: dict, note: str = "") -> str:
    """benchmarks/results/learning-delta.md, and the same section at the end of learning.md."""
    text = table(rows)
    section = (
        f"{HEADING}\n\nMachine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, 1 torch thread per run, "
        f"batch 32, lr 1e-2 (warm-up 50, cosine); `python -m benchmarks.learning_delta`.\n\n"
        + (f"{note}\n\n" if note else "")
        + text
    )
    (RESULTS / "learning-delta.md").write_text(section)
    main_md = RESULTS / "learning.md"
    head = main_md.read_text().split(HEADING)[0].rstrip() + "\n\n" if main_md.exists() else ""
    main_md.write_text(head + section)
    return text


def main() -> None:
    p = argparse.ArgumentParser(prog="benchmarks.learning_delta")
    p.add_argument("--only", choices=list(CASES), action="append")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply every case's steps (smoke runs)")
    p.add_argument("--keep", default=None, help="runs root to keep the runs in (default: a temporary folder)")
    p.add_argument("--report-only", action="store_true", help="rewrite the Markdown from learning-delta.json")
    ns = p.parse_args()
    if ns.report_only:
        saved = json.loads((RESULTS / "learning-delta.json").read_text())
        print(write_section(saved["rows"], saved["machine"], saved.get("note", "")))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(ns.keep or tmp)
        for name in ns.only or CASES:
            rows.append(run_case(name, root, ns.steps_scale))
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    tag = "learning-delta" if not ns.only else "learning-delta-" + "-".join(n.replace("/", "_") for n in ns.only)
    m = machine()
    (RESULTS / f"{tag}.json").write_text(json.dumps({"machine": m, "rows": rows}, indent=1))
    if not ns.only and ns.steps_scale == 1.0:  # a full run: its section in learning.md
        print(write_section(rows, m))
    else:
        print(table(rows))


if __name__ == "__main__":
    main()
