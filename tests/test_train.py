"""The training loop and the `workbench train | runs | show` commands."""

import json
import subprocess
import sys

import pytest
import torch

from workbench.specs import RunSpec
from workbench.store import open_run
from workbench.train import runner
from workbench.train.build import pick_device
from workbench.train.loop import lr_factor, train
from workbench.train.worker import run_worker


def spec(**train):
    t = dict(steps=12, batch=4, probe_every=6, eval_every=6, checkpoint_every=4, warmup=2)
    t.update(train)
    return RunSpec.from_dict(
        {
            "model": {"layer": "s4d", "d_model": 8, "n_layers": 1},
            "ssm": {"d_state": 4},
            "task": {"name": "adding", "seq_len": 16},
            "train": t,
        }
    )


def test_events_and_final_summary():
    events = []
    out = train(spec(), events.append)
    kinds = [e["kind"] for e in events]
    assert out["status"] == "completed" and out["step"] == 12 and kinds[-1] == "done"
    steps = [e["step"] for e in events if e["kind"] == "metrics"]
    assert steps == list(range(1, 13))
    assert {e["step"] for e in events if e["kind"] == "checkpoint"} == {0, 4, 8, 12}
    assert {e["step"] for e in events if e["kind"] == "probe"} == {0, 6, 12}
    assert "test/mse" in out["final"]


def test_diverged_run_keeps_last_finite_checkpoint(tmp_path):
    path = runner.create(spec(steps=50, lr=1e6, grad_clip=0.0, schedule="constant", checkpoint_every=1), tmp_path)
    out = run_worker(path)
    r = open_run(path.name, tmp_path)
    assert out["status"] == "diverged" and r.status == "diverged" and "non-finite" in r.meta["error"]
    state = r.checkpoint()
    assert all(torch.isfinite(v).all() for v in state["model"].values())


@pytest.mark.slow
def test_resume_continues_the_same_run(tmp_path, monkeypatch):
    """Stopped at step 6 and resumed, a run ends exactly where an uninterrupted one does."""
    import workbench.train.worker as worker
    from workbench.train import control

    class Immediate(control.FileControl):  # read the control file every step: the stop lands at step 6
        def __init__(self, run_dir):
            super().__init__(run_dir, every_s=0.0)

    monkeypatch.setattr(worker, "FileControl", Immediate)

    def dropout_spec():  # dropout: the resumed run must also continue the dropout masks' stream
        s = spec(steps=12)
        s.model.dropout = 0.2
        return s

    whole = runner.create(dropout_spec(), tmp_path / "whole")
    assert run_worker(whole)["status"] == "completed"
    path = runner.create(dropout_spec(), tmp_path / "parts")

    def stop_at_6(e):
        if e["kind"] == "metrics" and e["step"] == 6:
            control.send(path, "stop")

    first = run_worker(path, emit_extra=stop_at_6)
    r = open_run(path.name, tmp_path / "parts")
    assert first["status"] == "stopped" and first["step"] == 6 and r.status == "stopped"
    assert r.checkpoints == [0, 4, 6] and r.last_step == 6
    control.send(path, "run")  # as `runner.resume` does
    events = []
    second = run_worker(path, emit_extra=events.append)
    assert second["status"] == "completed" and second["step"] == 12
    assert [e["step"] for e in events if e["kind"] == "metrics"] == list(range(7, 13))  # continued, not restarted
    r, w = open_run(path.name, tmp_path / "parts"), open_run(whole.name, tmp_path / "whole")
    assert r.status == "completed" and r.checkpoints == [0, 4, 6, 8, 12]
    a, b = r.checkpoint(12), w.checkpoint(12)
    for k, v in b["model"].items():
        assert torch.equal(a["model"][k], v), k
    assert torch.equal(a["data_rng"], b["data_rng"]) and torch.equal(a["dropout_rng"], b["dropout_rng"])
    assert (r.metrics["loss"].values == w.metrics["loss"].values).all()
    # a resumed run keeps its spec: more steps means a new run, not a different old one
    assert RunSpec.from_dict(r.spec).train.steps == 12


def test_model_seed_sets_the_parameters_train_seed_the_data():
    from workbench.tasks import make_batch
    from workbench.train.build import build_run_model

    def params(**parts):
        d = {
            "model": {"layer": "s4d", "d_model": 8, "n_layers": 1},
            "ssm": {"d_state": 4},
            "task": {"name": "adding", "seq_len": 16},
        }
        for k, v in parts.items():
            d.setdefault(k, {}).update(v)
        return build_run_model(RunSpec.from_dict(d)).state_dict()

    base, other_train, other_model = params(), params(train={"seed": 5}), params(model={"seed": 5})
    assert all(torch.equal(v, other_train[k]) for k, v in base.items())
    assert not all(torch.equal(v, other_model[k]) for k, v in base.items())
    task = spec().task
    batch = lambda seed: make_batch(task, 4, torch.Generator().manual_seed(seed)).inputs
    assert not torch.equal(batch(0), batch(5))  # train.seed seeds this stream (train.loop)


def test_schedules():
    assert lr_factor("constant", 5, 10, 2) == 1.0
    assert lr_factor("warmup-cosine", 0, 100, 10) == pytest.approx(0.1)
    assert lr_factor("warmup-cosine", 100, 100, 10) == pytest.approx(0.0)
    assert lr_factor("cosine", 50, 100, 0) == pytest.approx(0.5)


def test_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    from workbench.errors import SpecError

    assert pick_device("cpu").type == "cpu"
    mps = getattr(torch.backends, "mps", None)
    here = "cuda" if torch.cuda.is_available() else "mps" if mps is not None and mps.is_available() else "cpu"
    assert pick_device("auto").type == here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    with pytest.raises(SpecError, match="train.device"):
        pick_device("cuda")


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.mark.slow
def test_cli_train_json_runs_and_show(tmp_path):
    r = cli(
        "train",
        "--task.name",
        "adding",
        "--task.seq_len",
        "16",
        "--model.layer",
        "s4d",
        "--model.d_model",
        "8",
        "--ssm.d_state",
        "4",
        "--train.steps",
        "8",
        "--train.batch",
        "4",
        "--name",
        "cli run",
        "--json",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["status"] == "completed" and summary["steps"] == 8 and "mse" in summary["final_metrics"]
    assert (tmp_path / "runs" / summary["id"] / "spec.json").exists()
    listing = cli("runs", "--where", "layer=s4d", cwd=tmp_path)
    assert summary["id"] in listing.stdout
    assert "no runs" in cli("runs", "--where", "layer=mamba", cwd=tmp_path).stdout
    shown = cli("show", summary["id"], cwd=tmp_path)
    assert "completed" in shown.stdout and "checkpoints: 0" in shown.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        # each case is a subprocess (an interpreter and torch import); the fast selection keeps one
        pytest.param(["--task.name", "nope"], "task.kind='nope'", marks=pytest.mark.slow),
        pytest.param(["--train.steps", "0"], "train.steps=0", marks=pytest.mark.slow),
        pytest.param(
            ["--model.layer", "mamba", "--ssm.init", "hippo-legs"], "ssm.init='hippo-legs'", marks=pytest.mark.slow
        ),
        (["--task.name", "mqar", "--task.seq_len", "8"], "task.seq_len"),
        pytest.param(["--model.layer", "attention", "--model.heads", "3"], "model.heads=3", marks=pytest.mark.slow),
        pytest.param(["--train.device", "tpu"], "train.device='tpu'", marks=pytest.mark.slow),
    ],
)
def test_cli_train_bad_input_exits_2_and_writes_nothing(tmp_path, args, words):
    r = cli("train", *args, cwd=tmp_path)
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr and not (tmp_path / "runs").exists()


@pytest.mark.slow  # three CLI subprocesses
def test_cli_missing_run_exits_2(tmp_path):
    for args in (["show", "20990101-000000-none-0000"], ["stop", "../x"], ["train", "--resume", "nope-0"]):
        r = cli(*args, cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
