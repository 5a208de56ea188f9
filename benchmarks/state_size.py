"""`python -m benchmarks.state_size [--run] [--runs-dir DIR] [--workers N]`: MQAR accuracy against state
size (Zoology Fig. 2 / MAD), summarised from a runs folder of the three state-size presets:
data/sweeps/state_size.yaml (the width axis, N 16), state_size_d64.yaml (N at d 64, the papers' axis for
Mamba) and state_size_d64_heads.yaml (the heads at d 64, GLA and mLSTM).

--run first runs the sweeps there (112 trainings, ~2 h with 2 workers on 2 cores; a LocalCluster
of --workers processes). Then every completed run in the folder becomes a row of
results/state_size.json (with the machine and the load), results/state_size.md (the table and
Zoology's ordering checked, `analysis.state_size.zoology_ordering`; results/state_size.notes.md, a
hand-written reading, appended when present) and results/state_size.png, with the accuracies
reachable without recall (chance over the values; a guess among the context's kv values) dashed.
Notebook 07 reads the JSON in full mode.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd

from benchmarks.harness import RESULTS, machine

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = [ROOT / "data" / "sweeps" / f"state_size{s}.yaml" for s in ("", "_d64", "_d64_heads")]
METRIC = "final.test/token_accuracy"
HELDOUT = 1024  # sequences per final score: the training-time test set (train.batch of them) is too small
NOTES = RESULTS / "state_size.notes.md"  # hand-written reading of the results, appended to the .md when present


def completed_runs(runs_dir) -> pd.DataFrame:
    """Index rows (with spec_json) of the completed runs in `runs_dir`."""
    from workbench.store import index, list_runs

    ok = set(list_runs(runs_dir).query("status == 'completed'")["id"])
    return pd.DataFrame([r for r in index.query(Path(runs_dir), {}) if r["id"] in ok])


def summarize(runs_dir, heldout: int = HELDOUT) -> dict:
    from workbench.analysis.state_size import (
        ESS_TOL,
        at_best_lr,
        configuration,
        ess_tracks_recall,
        no_recall_baselines,
        zoology_ordering,
    )
    from workbench.plots.export import export
    from workbench.plots.state_size import state_size_plot, state_size_table
    from workbench.specs import SweepSpec
    from workbench.store import open_run
    from workbench.train.run_ess import ESS_SEQUENCES, run_ess

    runs = completed_runs(runs_dir)
    table = state_size_table(runs, METRIC)
    by_id = runs.set_index("id")
    table["wall_s"] = [float(by_id.loc[i, "final.wall_time_s"]) for i in table["id"]]
    configs = [c for sweep in SWEEPS for c in SweepSpec.from_yaml(sweep).configurations()]
    task = configs[0][1].task
    assert all(r.task.to_dict() == task.to_dict() for _, r in configs), "the state-size presets share one task"
    table = rescore(table, runs_dir, task.length(), heldout).sort_values(["layer", "state_size", "lr", "seed"])
    ess = pd.DataFrame([run_ess(open_run(i, runs_dir)) for i in table["id"]], index=table.index)
    table[["ess", "total_ess"]] = ess[["ess", "total_ess"]]
    # Zoology reports each configuration at its best learning rate: every seed's run at the rate best on the mean
    best = at_best_lr(table)
    checks = zoology_ordering(best)  # on the mean over seeds
    ess_checks = ess_tracks_recall(table)  # on every run: the paper correlates over many trained models
    key = ["layer", "d_model", "d_state", "heads", "lr", "seed"]
    have = set(table[key].itertuples(index=False, name=None))
    wanted = {
        (r.model.layer, r.model.d_model, r.ssm.d_state, r.model.heads, r.train.lr, r.model.seed): r for _, r in configs
    }
    missing = [f"{configuration(dict(zip(key, k)))} lr {k[4]:g} seed {k[5]}" for k in wanted if k not in have]
    setting = f"L {task.length()}, V {task.vocab()}, kv {task.num_kv}"
    baselines = no_recall_baselines(task)
    RESULTS.mkdir(exist_ok=True)
    export(
        state_size_plot(best, f"MQAR ({setting}) accuracy against state size", baselines),
        RESULTS / "state_size",
        "png",
    )
    out = {
        "machine": machine(),
        "load_average": os.getloadavg(),
        "sweeps": [str(s.relative_to(ROOT)) for s in SWEEPS],
        "metric": METRIC,
        "setting": setting,
        "baselines": baselines,
        "rows": best.to_dict("records"),  # every seed's run at the best learning rate per configuration
        "all_rows": table.to_dict("records"),
        "checks": checks.to_dict("records"),
        "ess_checks": ess_checks.to_dict("records"),
        "missing": missing,
    }
    (RESULTS / "state_size.json").write_text(json.dumps(out, indent=1, default=float))
    md = (
        "# MQAR accuracy against state size (Zoology Fig. 2 / MAD)\n\n"
        f"From {', '.join(f'`{s}`' for s in out['sweeps'])}, {len(table)} completed runs; `python -m benchmarks.state_size`. Load average at "
        f"summary {' '.join(f'{v:.1f}' for v in out['load_average'])}."
        + (f" Not completed ({len(missing)} of {len(wanted)}): {', '.join(missing)}." if missing else "")
        + f" Task: MQAR {setting}; {_train_line()}.\n\n"
        + "Levels reachable without recall: "
        + ", ".join(f"{k} {v:.3f}" for k, v in baselines.items())
        + " (dashed in the plot). "
        + _above(best, baselines["context-value guess"])
        + "\n\n"
        + f"accuracy: the last checkpoint on {heldout} held-out sequences (se: its binomial standard error); "
        + "accuracy_train_test: the run's own final test score, on train.batch sequences.\n\n"
        + "Each configuration at its best learning rate (Zoology reports each point so), best by the mean over "
        + "seeds; the ordering and the plot take the mean, and the plot draws each layer's best configuration "
        + "at each state size.\n\n"
        + _markdown(_points(best))
        + "\n\nEvery run; best: the learning rate the point takes.\n\n"
        + _markdown(
            table.assign(best=table["id"].isin(best["id"]))[
                ["layer", "d_model", "d_state", "heads", "state_size", "lr", "seed", "accuracy", "se"]
                + ["accuracy_train_test", "ess", "total_ess"]
                + ["best", "wall_s"]
            ]
        )
        + "\n\n## Zoology's ordering (best learning rate per configuration, mean over seeds)\n\n"
        + _markdown(checks)
        + "\n\n## Effective state size against recall (every run)\n\n"
        + f"ess: the run's mean ESS (rank at tolerance {ESS_TOL:g}) over its layers, channels or heads, {ESS_SEQUENCES} "
        + "held-out sequences and every second split; total_ess: ess over the group's bound (N; 2N for the LRU; "
        + "d_model/heads; L for attention) times the state size, the ESS on the state-size axis (at most the "
        + "state size). Spearman ρ against accuracy over all "
        + f"{len(table)} runs: total ESS {_rho(table, 'total_ess')}, per-group ESS {_rho(table, 'ess')}, "
        + f"state size {_rho(table, 'state_size')}. "
        + "At equal state size (power-of-two bins with two or more layer kinds and some recall), total ESS:\n\n"
        + _markdown(ess_checks)
        + "\n\nThe per-group ESS in the same bins (it favours wide groups: N 16 channels against N 4 ones):\n\n"
        + _markdown(ess_tracks_recall(table, column="ess"))
        + "\n\n![accuracy against state size](state_size.png)\n"
        + (f"\n## Reading\n\n{NOTES.read_text().strip()}\n" if NOTES.is_file() else "")
    )
    (RESULTS / "state_size.md").write_text(md)
    print(md)
    return out


def rescore(table: pd.DataFrame, runs_dir, L: int, heldout: int) -> pd.DataFrame:
    """accuracy := each run's last checkpoint scored on `heldout` fresh test sequences (the training-time
    score, on train.batch sequences, moves in steps of 1/(batch·kv) and is kept as accuracy_train_test);
    se: its binomial standard error over the scored tokens."""
    from workbench.cli_eval import evaluate_lengths
    from workbench.store import open_run

    out = table.rename(columns={"accuracy": "accuracy_train_test"})
    scored = [evaluate_lengths(open_run(i, runs_dir), [L], batch=heldout, store=False) for i in out["id"]]
    out["accuracy"] = [float(ds.accuracy.values[0]) for ds in scored]
    n = [float(ds.scored.sum()) for ds in scored]  # scored tokens: heldout · kv
    out["se"] = [(a * (1 - a) / k) ** 0.5 for a, k in zip(out["accuracy"], n)]
    return out


def _rho(table: pd.DataFrame, column: str) -> str:
    from scipy.stats import spearmanr

    rho, p = spearmanr(table[column], table["accuracy"])
    return f"{rho:.2f} (p {p:.2g})"


def _train_line() -> str:
    from workbench.specs import SweepSpec

    configs = [c for sweep in SWEEPS for c in SweepSpec.from_yaml(sweep).configurations()]
    tr, lrs = configs[0][1].train, sorted({r.train.lr for _, r in configs})
    return (
        f"{tr.steps} steps of batch {tr.batch} at lr {' and '.join(f'{v:g}' for v in lrs)} "
        f"({tr.schedule}, warm-up {tr.warmup}), every layer alike"
    )


def _points(best: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: its learning rate, the mean over seeds and each seed's accuracy."""
    g = best.groupby(["layer", "d_model", "d_state", "heads", "state_size", "lr"], as_index=False)
    out = g["accuracy"].mean().rename(columns={"accuracy": "mean"})
    seeds = g["accuracy"].agg(lambda a: " / ".join(f"{v:.3f}" for v in a))["accuracy"]
    return out.assign(seeds=seeds.values).sort_values(["layer", "state_size", "d_model"])


def _above(table: pd.DataFrame, level: float) -> str:
    """Which layers clear `level` by more than two standard errors, in every seed, at their largest state size."""
    runs = table.assign(clear=table.accuracy - 2 * table.se > level)
    points = runs.groupby(["layer", "state_size"], as_index=False).agg(
        accuracy=("accuracy", "mean"), clear=("clear", "all")
    )
    top = points.sort_values("state_size").groupby("layer").tail(1).sort_values("accuracy", ascending=False)
    clear = top["clear"]
    fmt = lambda g: ", ".join(f"{r.layer} {r.accuracy:.3f}" for r in g.itertuples()) or "none"
    return (
        f"At its largest state size, above {level:.3f} by more than 2 se: {fmt(top[clear])}; not: {fmt(top[~clear])}."
    )


def _markdown(df: pd.DataFrame) -> str:
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.state_size")
    p.add_argument("--run", action="store_true", help="run the three presets first (112 trainings)")
    p.add_argument("--runs-dir", default=str(ROOT / "runs" / "state-size"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--heldout", type=int, default=HELDOUT, help="held-out sequences per final score")
    ns = p.parse_args(argv)
    if ns.run:
        from workbench.specs import SweepSpec
        from workbench.sweep import run_sweep

        for sweep in SWEEPS:
            run_sweep(SweepSpec.from_yaml(sweep), ns.runs_dir, workers=ns.workers, threads=1, progress=print)
    summarize(ns.runs_dir, ns.heldout)


if __name__ == "__main__":
    main()
