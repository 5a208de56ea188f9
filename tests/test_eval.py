"""Length generalization: position_loss, `workbench eval`, and results stored with the run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.analysis.position_loss import check_lengths, position_loss
from workbench.cli import main
from workbench.cli_eval import evaluate_lengths
from workbench.errors import SpecError
from workbench.specs import ModelSpec, RunSpec, TaskSpec
from workbench.ssm.model import build_model
from workbench.store import open_run
from workbench.train import runner
from workbench.train.worker import run_worker


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    spec = RunSpec.from_dict(
        {
            "model": {"layer": "mamba", "d_model": 8, "n_layers": 1},
            "task": {"name": "induction-heads", "seq_len": 16, "test_lengths": [32]},
            "train": dict(steps=4, batch=4, eval_every=2, checkpoint_every=2, warmup=1, threads=1),
        }
    )
    run_worker(runner.create(spec, root))
    return open_run(next(p for p in root.iterdir() if p.is_dir()))


@pytest.mark.parametrize(
    "value, word",
    [
        ("", "at least one"),
        ("64,x", "integers"),
        ("1", "integers in"),
        ([64, 1 << 21], "integers in"),
        ("4,64", "integers in"),
    ],
)
def test_bad_lengths_one_clear_error(value, word):
    with pytest.raises(SpecError, match=word):
        check_lengths(value, TaskSpec(kind="mqar"))


def test_length_fixed_tasks_refused():
    with pytest.raises(SpecError, match="task.kind"):
        check_lengths("64", TaskSpec(kind="selective-copying"))


def test_position_loss_chunked_equals_whole():
    model = build_model(ModelSpec(layer="mamba", d_model=8, n_layers=1, vocab_size=16, d_output=1))
    task = TaskSpec(kind="mqar", vocab_size=16, num_kv=2, seq_len=16)
    whole = position_loss(model, task, [16, 32], batch=8)
    chunked = position_loss(model, task, [16, 32], batch=8, tokens_per_chunk=40)  # 1-2 rows at a time
    np.testing.assert_allclose(whole.loss.values, chunked.loss.values, rtol=1e-5)
    np.testing.assert_allclose(whole.accuracy.values, chunked.accuracy.values)
    assert whole.accuracy_at.dims == ("length", "position") and whole.sizes["position"] == 32
    scored = whole.scored.sel(length=16).values
    assert scored.sum() == 8 * 2 and np.isnan(whole.accuracy_at.sel(length=16).values[scored == 0]).all()


def test_recurrent_mode_matches_parallel_mlstm():
    model = build_model(ModelSpec(layer="mlstm", d_model=8, n_layers=1, vocab_size=20, d_output=1, heads=2))
    task = TaskSpec(kind="induction-heads", seq_len=16)
    par = position_loss(model, task, [12, 24], batch=4)
    rec = position_loss(model, task, [12, 24], batch=4, parallel_max_len=0)  # the step loop
    np.testing.assert_allclose(par.loss.values, rec.loss.values, rtol=1e-4)


def test_eval_stores_with_the_run_and_reads_back(run):
    ds = evaluate_lengths(run, "16,64,32", batch=8)
    assert list(ds.length.values) == [16, 32, 64] and ds.attrs["train_length"] == 16
    assert run.evals == ["lengths"]
    back = run.eval("lengths")
    np.testing.assert_allclose(back.accuracy.values, ds.accuracy.values)
    assert back.attrs["task"] == "induction-heads"


def test_cli_eval_prints_and_bad_lengths_exit_2_without_writing(run, capsys, tmp_path):
    root = str(run.path.parent)
    assert (
        main(["eval", run.id, "--runs-dir", root, "--lengths", "16,128", "--name", "cli", "--json", "--batch", "4"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out["lengths"]) == {"16", "128"} and 0 <= out["lengths"]["128"]["accuracy"] <= 1
    before = sorted(p.name for p in (run.path / "evals").iterdir())
    assert main(["eval", run.id, "--runs-dir", root, "--lengths", "16,zero", "--name", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lengths" in err and "Traceback" not in err
    assert sorted(p.name for p in (run.path / "evals").iterdir()) == before
    assert main(["eval", run.id, "--runs-dir", root, "--lengths", "16", "--name", "../x"]) == 2
    assert main(["eval", run.id, "--runs-dir", root, "--lengths", "16", "--step", "999"]) == 2


def test_state_elements_and_the_sweep_preset():
    from pathlib import Path

    from workbench.analysis.state_size import state_elements
    from workbench.specs import SweepSpec

    m = lambda layer, **kw: ModelSpec(layer=layer, d_model=64, heads=4, **kw)
    assert state_elements(m("mamba")) == 128 * 16  # expand 2 · d 64 channels × N 16
    assert state_elements(m("gla")) == 4 * 16 * 16
    assert state_elements(m("gated-deltanet")) == 4 * 16 * 16  # S_t is d_v × d_k per head
    assert state_elements(m("rg-lru", expand=2)) == 128  # one real state per recurrence channel
    assert state_elements(m("attention"), seq_len=64) == 2 * 64 * 64
    with pytest.raises(SpecError, match="seq_len"):
        state_elements(m("attention"))
    sweep_dir = Path(__file__).resolve().parents[1] / "data" / "sweeps"
    sweep = SweepSpec.from_yaml(sweep_dir / "state_size.yaml")
    configs = sweep.configurations()
    assert len(configs) == 72 and {c[1].model.layer for c in configs} >= {"s4d", "mamba", "attention"}
    on_n = SweepSpec.from_yaml(sweep_dir / "state_size_d64.yaml").configurations()  # the state set by N at d 64
    sizes = {(c.model.layer, state_elements(c.model, c.ssm)) for _, c in on_n}
    assert len(on_n) == 24 and sizes == {(k, n) for k in ("mamba", "mamba2") for n in (512, 1024)} | {
        ("s4d", 256),
        ("s4d", 512),
    }
    on_heads = SweepSpec.from_yaml(sweep_dir / "state_size_d64_heads.yaml").configurations()  # set by the heads
    sizes = {(c.model.layer, state_elements(c.model, c.ssm)) for _, c in on_heads}
    assert len(on_heads) == 16 and sizes == {("gla", 512), ("gla", 1024), ("mlstm", 584), ("mlstm", 1092)}


def test_state_size_plot_one_line_per_layer():
    import holoviews as hv
    import pandas as pd

    from workbench.plots.state_size import state_size_plot, state_size_table

    spec = lambda layer, d: json.dumps(
        RunSpec.from_dict(
            {"model": {"layer": layer, "d_model": d, "heads": 2, "seed": d}, "task": {"name": "mqar"}}
        ).to_dict()
    )
    runs = pd.DataFrame(
        [
            {"id": f"r{i}", "spec_json": spec(layer, d), "final.acc": acc}
            for i, (layer, d, acc) in enumerate(
                [("mamba", 16, 0.5), ("mamba", 32, 0.8), ("attention", 16, 0.99), ("s4d", 16, None)]
            )
        ]
    )
    df = state_size_table(runs, "final.acc")
    assert list(df["layer"]) == ["mamba", "mamba", "attention"]
    assert df["state_size"].tolist()[:2] == [32 * 16, 64 * 16]
    assert df["seed"].tolist() == [16, 32, 16] and df["lr"].nunique() == 1  # model.seed from each spec
    plot = state_size_plot(df)
    assert len(plot) == 4  # a curve and its points per layer
    with_levels = state_size_plot(df, baselines={"chance": 1 / 32, "context-value guess": 0.25})
    lines = [el for el in with_levels if isinstance(el, hv.HLine)]
    assert [el.data for el in lines] == [1 / 32, 0.25] and len(with_levels) == 4 + 2 * 2  # a line and its label each


def test_state_size_plot_draws_each_layers_best_configuration_at_a_size():
    """Mamba reaches 512 as d 16 N 16 and as d 64 N 4: the plot's point is the better configuration's mean
    over seeds (never the average of both), and the table records what set the state."""
    import pandas as pd

    from workbench.plots.state_size import state_size_plot, state_size_table

    spec = lambda d, n, seed: json.dumps(
        RunSpec.from_dict(
            {
                "model": {"layer": "mamba", "d_model": d, "heads": 2, "seed": seed},
                "ssm": {"d_state": n},
                "task": {"name": "mqar"},
            }
        ).to_dict()
    )
    runs = pd.DataFrame(
        [
            {"id": f"r{i}", "spec_json": spec(d, n, seed), "final.acc": acc}
            for i, (d, n, seed, acc) in enumerate(
                [(16, 16, 0, 0.3), (16, 16, 1, 0.2), (64, 4, 0, 0.7), (64, 4, 1, 0.9)]
            )
        ]
    )
    df = state_size_table(runs, "final.acc")
    assert df[["d_model", "d_state", "heads", "state_size"]].drop_duplicates().values.tolist() == [
        [16, 16, 2, 512],
        [64, 4, 2, 512],
    ]
    points = state_size_plot(df).get(1)  # the mamba Scatter
    assert points.dframe()[["state_size", "accuracy", "d_model", "d_state"]].values.tolist() == [[512, 0.8, 64, 4]]


def test_runs_view_lengths_pane_evaluates_and_plots(run):
    from apps.views.lengths import LengthsPane

    class State:
        def open_any(self, run_id):
            return open_run(run_id, run.path.parent)

    pane = LengthsPane(State())
    pane.update([run.id])
    pane.lengths.value = "16,nope"
    pane.evaluate()
    assert "--lengths" in pane.message.object
    pane.lengths.value = "16,48"
    pane.evaluate()
    assert "Evaluated 1 run" in pane.message.object
    assert list(run.eval("lengths").length.values) == [16, 48]
    assert len(pane.plot.object) == 3  # a curve, its points and the training length
