"""The committed state-size results are what today's library computes from the committed runs' summary:
a change to the ordering, the best-rate choice, the ESS bound or the ESS check that would alter a published
verdict fails here instead of leaving benchmarks/results/ quietly stale (regenerate with
`python -m benchmarks.state_size` and `make bench-published`)."""

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.analysis.state_size import at_best_lr, ess_tracks_recall, total_ess, zoology_ordering
from workbench.specs import ModelSpec, SSMSpec, SweepSpec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@pytest.fixture(scope="module")
def summary():
    return json.loads((RESULTS / "state_size.json").read_text())


def _records(df):
    return json.loads(df.to_json(orient="records"))


def test_best_rate_rows_follow_from_every_run(summary):
    runs, rows = pd.DataFrame(summary["all_rows"]), pd.DataFrame(summary["rows"])
    assert sorted(at_best_lr(runs)["id"]) == sorted(rows["id"])


def test_committed_checks_are_recomputed(summary):
    rows, runs = pd.DataFrame(summary["rows"]), pd.DataFrame(summary["all_rows"])
    assert _records(zoology_ordering(rows)) == summary["checks"]
    assert _records(ess_tracks_recall(runs)) == summary["ess_checks"]


def test_total_ess_follows_from_each_runs_ess(summary):
    L = SweepSpec.from_yaml(ROOT / summary["sweeps"][0]).configurations()[0][1].task.length()
    for r in summary["all_rows"]:
        model = ModelSpec(layer=r["layer"], d_model=r["d_model"], heads=r["heads"], n_layers=2)
        ssm = SSMSpec(d_state=r["d_state"])
        assert r["total_ess"] == pytest.approx(total_ess(r["ess"], model, ssm, L), rel=1e-9), r["id"]


def test_published_table_says_what_the_summary_checks(summary):
    table = (RESULTS / "published.md").read_text()
    for claim, g in pd.DataFrame(summary["checks"]).groupby("claim", sort=False):
        cell = f"{int(g.holds.sum())} of {len(g)}: " + "; ".join(g["where"] + " " + g.ours)
        verdict = "yes" if g.holds.all() else "no"
        assert f"{cell} | {claim} | {verdict} |" in table, claim
    e = pd.DataFrame(summary["ess_checks"])
    assert f"{int(e.holds.sum())} of {len(e)}: " + "; ".join(e["where"] + " " + e.ours) in table
