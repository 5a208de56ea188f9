"""The run store: written while read, crash-safe under SIGKILL, ids that cannot escape the root."""

import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest
import torch
import torch._dynamo  # noqa: F401  the first optimizer imports it (1.6 s); forked children inherit it
import xarray as xr

from workbench.errors import SpecError
from workbench.specs import RunSpec
from workbench.store import RunWriter, delete_run, list_runs, open_run, rebuild_index
from workbench.train import runner
from workbench.train.worker import run_worker


def tiny_run(steps=200, **train):
    t = dict(steps=steps, batch=4, probe_every=5, eval_every=5, checkpoint_every=7, threads=1, warmup=5)
    t.update(train)
    return RunSpec.from_dict(
        {
            "model": {"layer": "s4d", "d_model": 8, "n_layers": 1},
            "ssm": {"d_state": 4},
            "task": {"name": "adding", "seq_len": 16},
            "train": t,
        }
    )


def _work(path):
    torch.set_num_threads(1)
    run_worker(path)


def test_metrics_and_probes_roundtrip(tmp_path):
    w = RunWriter.create({"model": {"layer": "mamba"}}, "a run", tmp_path)
    for s in range(1, 6):
        w.log_metrics(s, {"loss": 1.0 / s})
    ds = xr.Dataset(
        {"K": (("channel", "lag"), np.arange(6.0).reshape(2, 3))}, coords={"channel": [0, 1], "lag": [0, 1, 2]}
    )
    w.log_probe(0, "kernels", ds, capacity=4)
    w.log_probe(5, "kernels", ds * 2, capacity=4)
    w.close()
    r = open_run(w.id, tmp_path)
    assert r.metrics.loss.values.tolist() == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    p = r.probe("kernels")
    assert p.step.values.tolist() == [0, 5] and p.K.dims == ("step", "channel", "lag")
    assert np.array_equal(p.K.values[1], 2 * ds.K.values)
    with pytest.raises(SpecError, match="probe"):
        r.probe("nope")


def test_ids_and_names_cannot_escape_the_root(tmp_path):
    for bad in ["../x", "a/b", "..", "/etc", "A B"]:
        with pytest.raises(SpecError, match="run"):
            open_run(bad, tmp_path)
    with pytest.raises(SpecError, match="name"):
        RunWriter.create({}, "../../evil/..", tmp_path)
    w = RunWriter.create({}, "....evil..", tmp_path)  # dots alone: the id keeps only a safe slug
    assert w.path.parent == tmp_path and ".." not in w.id and "/" not in w.id
    with pytest.raises(SpecError, match="an existing run"):
        open_run("20990101-000000-nothing-0000", tmp_path)


def test_list_filter_delete_and_rebuild(tmp_path):
    a = RunWriter.create({"model": {"layer": "mamba"}, "ssm": {"init": "s4d-real"}}, "a", tmp_path)
    b = RunWriter.create({"model": {"layer": "s4d"}, "ssm": {"init": "s4d-lin"}}, "b", tmp_path)
    a.set_status("completed", step=3, final={"token_accuracy": 0.9})
    assert list_runs(tmp_path, layer="mamba").id.tolist() == [a.id]
    assert list_runs(tmp_path, **{"ssm.init": "s4d-lin"}).id.tolist() == [b.id]
    assert list_runs(tmp_path, **{"final.token_accuracy": 0.9}).id.tolist() == [a.id]
    with pytest.raises(SpecError, match="nofield"):
        list_runs(tmp_path, nofield=1)
    (tmp_path / "index.sqlite").unlink()
    assert rebuild_index(tmp_path) == 2 and len(list_runs(tmp_path)) == 2
    delete_run(b.id, tmp_path)
    assert list_runs(tmp_path).id.tolist() == [a.id] and not (tmp_path / b.id).exists()


@pytest.mark.slow
def test_reader_sees_steps_grow_while_training(tmp_path):
    run_id, proc = runner.start(tiny_run(steps=100000), tmp_path)
    try:
        r, seen, deadline = open_run(run_id, tmp_path), [], time.time() + 90
        while len(set(seen)) < 4 and time.time() < deadline:
            seen.append(r.last_step)
            time.sleep(0.3)
        assert sorted(set(seen))[-1] > sorted(set(seen))[1] > 0, seen
        t_probe = time.time()
        while "kernels" not in r.probe_names and time.time() - t_probe < 30:
            time.sleep(0.2)
        assert r.probe("kernels").sizes["step"] >= 1
        runner.pause(run_id, tmp_path)
        while r.status != "paused" and time.time() < deadline:
            time.sleep(0.1)
        frozen = r.last_step
        time.sleep(1.0)
        assert r.status == "paused" and r.last_step == frozen
        runner.stop(run_id, tmp_path)
        proc.wait(timeout=60)
        assert r.status == "stopped" and r.checkpoints[-1] == r.last_step
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_twenty_sigkills_leave_an_openable_store_and_resume_continues(tmp_path):
    path = runner.create(tiny_run(steps=150), tmp_path)
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(0)
    progress = []
    for _ in range(20):
        p = ctx.Process(target=_work, args=(path,))
        p.start()
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        r = open_run(path.name, tmp_path)  # opens after every kill
        assert path.name in list_runs(tmp_path).id.tolist()
        steps = r.metrics.step.values.tolist()
        assert steps == list(range(1, len(steps) + 1))  # everything flushed is there, no holes
        for name in r.probe_names:
            assert np.isfinite(r.probe(name).to_array().values).all()
        if r.checkpoints:
            assert r.checkpoint()["step"] == r.checkpoints[-1]
        progress.append(r.last_step)
    assert max(progress) > 0
    p = ctx.Process(target=_work, args=(path,))
    p.start()
    p.join(timeout=300)
    r = open_run(path.name, tmp_path)
    assert r.status == "completed" and r.last_step == 150
    assert r.metrics.step.values.tolist() == list(range(1, 151))
    probe_steps = r.probe("kernels").step.values.tolist()
    assert probe_steps == sorted(set(probe_steps)) and probe_steps[-1] == 150
    from workbench.train import load_model

    assert not load_model(r).training and load_model(path.name, root=tmp_path) is not None


def test_checkpoints_load_with_weights_only(tmp_path):
    path = runner.create(tiny_run(steps=10), tmp_path)
    run_worker(path)
    r = open_run(path.name, tmp_path)
    state = torch.load(r.path / "checkpoints" / f"step_{r.checkpoints[-1]:08d}.pt", weights_only=True)
    assert state["step"] == 10 and "model" in state
    from workbench.train import load_model

    model = load_model(r)
    assert not model.training
    for k, v in model.state_dict().items():  # the checkpoint's weights, not a fresh init
        assert torch.equal(v, state["model"][k]), k
    assert load_model(path.name, root=tmp_path) is not None
