"""Learning with the delta-rule layers at equal state size: MQAR and a single needle in a haystack.

Every model: d_model 64, 2 blocks, 4 heads, so each block holds a 1024-number state
(deltanet, gated-deltanet, gla: 4 heads × 16 × 16; mamba2: expand 2, N 8 → 128 channels × 8).
Two needles, the two halves of the Gated DeltaNet paper's single-needle table (Yang et al. 2025, Table 2):
- filler haystack (V 16; S-NIAH-1, pass-key): trained at L = 64, tested at 64, 256, 512, 1024 and 2048 (a
  key-value pair must survive up to 2046 distractors it may ignore; at L = 128 none of the three learned
  within 400 steps);
- pair haystack (V 64; S-NIAH-2, a number in essays): the haystack is key-value pairs over 30 other keys,
  rebound and recalled throughout and trained on, so every layer must write it; trained at L = 256,
  tested at 256, 512, 1024 and 2048.
Each run goes through the real runner path (worker + store).
`python -m benchmarks.learning_delta [--only NAME] [--steps-scale S] [--merge]`; results are appended to
benchmarks/results/learning.md under their own heading (`--merge`: the --only rows replace their cases
in learning-delta.json and the section is rewritten).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS, machine
from workbench.cli_eval import evaluate_lengths
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
NEEDLE_EVAL = 256  # held-out sequences per length for the pair haystack's needle (standard error <= 0.031)
NEEDLE_PAIRS = {
    "kind": "needle",
    "seq_len": 256,
    "vocab_size": 64,
    "haystack": "pairs",
    "test_lengths": [256, 512, 1024, 2048],
}
NEEDLES = {"needle": (NEEDLE, "filler"), "needle-pairs": (NEEDLE_PAIRS, "key-value pairs, rebound and recalled")}
# Yang et al. 2025, Table 2 (1.3B models trained at 4K): accuracy (%) at 1K, 2K, 4K, 8K
PAPER = {
    "needle": (
        "S-NIAH-1, pass-key",
        {
            "deltanet": (97.4, 96.8, 99.0, 98.8),
            "mamba2": (99.2, 98.8, 65.4, 30.4),
            "gated-deltanet": (98.4, 88.4, 91.4, 91.8),
        },
    ),
    "needle-pairs": (
        "S-NIAH-2, number in haystack",
        {
            "deltanet": (98.4, 45.6, 18.6, 14.4),
            "mamba2": (99.4, 98.8, 56.2, 17.0),
            "gated-deltanet": (100.0, 99.8, 92.2, 29.6),
        },
    ),
}


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
CASES.update(
    {f"{layer}/needle-pairs": _case(layer, NEEDLE_PAIRS, 600) for layer in ("gated-deltanet", "deltanet", "mamba2")}
)
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


def run_case(name: str, root: Path, steps_scale: float = 1.0, seed: int = 0) -> dict:
    spec = json.loads(json.dumps(CASES[name]))
    spec["train"]["steps"] = max(1, int(spec["train"]["steps"] * steps_scale))
    spec["model"]["seed"] = spec["train"]["seed"] = seed  # weights and data stream
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
    eval_sequences = 32  # the runner's held-out batch
    if run.task.kind == "needle" and run.task.haystack == "pairs":  # one scored token per sequence: more of them
        eval_sequences = NEEDLE_EVAL
        ds = evaluate_lengths(open_run(path.name, root), run.task.test_lengths, batch=NEEDLE_EVAL, store=False)
        for n, acc in zip(ds.length.values, ds.accuracy.values):
            scores[str(int(n))] = {"final": float(acc), "best": scores.get(str(int(n)), {}).get("best", float(acc))}
    ssm_lr = run.ssm.ssm_lr if run.model.layer in ("mamba2", "gated-deltanet") else ""
    return {
        "case": name,
        "seed": seed,
        "eval_sequences": eval_sequences,
        "state_per_block": state_size(run),
        "scores": scores,
        "steps": out["step"],
        "train_length": run.task.length(),
        "ssm_lr": ssm_lr,
        "wall_time_s": wall,
        "status": out["status"],
    }


def _label(r: dict) -> str:
    layer = r["case"].split("/")[0]
    return f"{layer} (seed {r['seed']})" if r.get("seed") else layer


def table(rows: list[dict]) -> str:
    mqar = [r for r in rows if r["case"].endswith("/mqar")]
    needle = [r for r in rows if r["case"].split("/")[1] in NEEDLES]
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
    for kind, train_len in sorted({(r["case"].split("/")[1], r.get("train_length", 0)) for r in needle}):
        group = [r for r in needle if r["case"].split("/")[1] == kind and r.get("train_length", 0) == train_len]
        Ls = sorted({int(n) for r in group for n in r["scores"]})
        task, haystack = NEEDLES[kind]
        paper, numbers = PAPER[kind]
        lines += [
            (
                f"Needle in a haystack of {haystack} (V {task['vocab_size']}, trained at L {train_len or '?'}), "
                f"accuracy at the query (final; chance 1/{task['vocab_size'] // 2}; "
                f"{'/'.join(sorted({str(r.get('eval_sequences', 32)) for r in group}))} held-out sequences per length):"
            ),
            "",
            "| layer | state / block | Δ, A lr | " + " | ".join(f"L {n}" for n in Ls) + " | steps | wall s |",
            "|---|---:|---|" + "---:|" * len(Ls) + "---:|---:|",
        ]
        lines += [
            f"| {_label(r)} | {r['state_per_block']} | {r.get('ssm_lr', '')} | "
            + " | ".join(f"{r['scores'][str(n)]['final']:.3f}" for n in Ls)
            + f" | {r['steps']} | {r['wall_time_s']:.0f} |"
            for r in group
        ]
        layers = {}  # layer -> its rows over seeds
        for r in group:
            layers.setdefault(r["case"].split("/")[0], []).append(r)
        lines += [
            f"| {layer}, mean of {len(rs)} seeds | | | "
            + " | ".join(f"{sum(r['scores'][str(n)]['final'] for r in rs) / len(rs):.3f}" for n in Ls)
            + " | | |"
            for layer, rs in layers.items()
            if len(rs) > 1
        ]
        lines += [
            "",
            f"The paper ({paper}; 1.3B models trained at 4K), accuracy % at 1K / 2K / 4K / 8K: "
            + "; ".join(f"{layer} {' / '.join(f'{v:g}' for v in vals)}" for layer, vals in numbers.items())
            + ".",
            "",
        ]
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
    p.add_argument("--merge", action="store_true", help="the --only rows replace their cases in learning-delta.json")
    p.add_argument("--seed", type=int, default=0, help="model.seed and train.seed of every run")
    ns = p.parse_args()
    if ns.report_only:
        saved = json.loads((RESULTS / "learning-delta.json").read_text())
        print(write_section(saved["rows"], saved["machine"], saved.get("note", "")))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(ns.keep or tmp)
        for name in ns.only or CASES:
            rows.append(run_case(name, root, ns.steps_scale, ns.seed))
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    tag = "learning-delta" if not ns.only else "learning-delta-" + "-".join(n.replace("/", "_") for n in ns.only)
    m = machine()
    if not ns.merge:  # merged rows live in learning-delta.json
        (RESULTS / f"{tag}.json").write_text(json.dumps({"machine": m, "rows": rows}, indent=1))
    if ns.merge and ns.only and ns.steps_scale == 1.0:  # new rows for some cases: the rest stay as they were
        saved = json.loads((RESULTS / "learning-delta.json").read_text())
        new = {(r["case"], r["seed"]): r for r in rows}
        kept = [new.pop((r["case"], r.get("seed", 0)), r) for r in saved["rows"]]
        saved["rows"] = kept + list(new.values())
        (RESULTS / "learning-delta.json").write_text(json.dumps(saved, indent=1))
        print(write_section(saved["rows"], saved["machine"], saved.get("note", "")))
    elif not ns.only and ns.steps_scale == 1.0:  # a full run: its section in learning.md
        print(write_section(rows, m))
    else:
        print(table(rows))


if __name__ == "__main__":
    main()
