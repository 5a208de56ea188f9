"""The store keeps data through misuse: one writer per run, damaged runs skipped and named,
completed runs final, resume past a truncated checkpoint, killed runs seen as killed."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from workbench.errors import SpecError
from workbench.specs import RunSpec
from workbench.store import RunDamaged, RunLocked, RunWriter, list_runs, open_run, rebuild_index
from workbench.train import runner
from workbench.train.worker import run_worker


def tiny_run(steps=20, **train):
    t = dict(steps=steps, batch=4, probe_every=5, eval_every=5, checkpoint_every=7, threads=1, warmup=2)
    t.update(train)
    return RunSpec.from_dict(
        {
            "model": {"layer": "s4d", "d_model": 8, "n_layers": 1},
            "ssm": {"d_state": 4},
            "task": {"name": "adding", "seq_len": 16},
            "train": t,
        }
    )


def cli(*args, root):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args, "--runs-dir", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_exit_2(r, words=""):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and words in lines[0], r.stderr


def rows(path):
    r = open_run(path.name, path.parent)
    return r.metrics.sizes.get("step", 0), dict(r.meta)


def test_second_writer_refused_in_process(tmp_path):
    w = RunWriter.create({}, "a", tmp_path)
    with pytest.raises(RunLocked, match="no other process is writing"):
        RunWriter(w.path)
    assert open_run(w.id, tmp_path).live
    w.close()
    assert not open_run(w.id, tmp_path).live
    RunWriter(w.path).close()  # free again once the first writer closed


@pytest.mark.slow
def test_resume_refused_while_live_then_allowed_after_sigkill(tmp_path):
    path = runner.create(tiny_run(steps=100000, checkpoint_every=20, probe_every=50), tmp_path)
    proc = runner.launch(path)
    try:
        deadline = time.time() + 120
        while not (open_run(path.name, tmp_path).checkpoints[-1:] and rows(path)[0] > 40):
            assert proc.poll() is None and time.time() < deadline, (path / "worker.log").read_text()
            time.sleep(0.2)
        before = rows(path)[0]
        one_line_exit_2(cli("train", "--resume", path.name, root=tmp_path), "no other process is writing")
        with pytest.raises(RunLocked):
            run_worker(path)
        time.sleep(0.6)  # a flush period: the live run kept every step it had written (nothing truncated)
        assert rows(path)[0] >= before and proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    r = open_run(path.name, tmp_path)
    assert r.meta["status"] == "running" and r.status == "killed" and not r.live
    assert list_runs(tmp_path).set_index("id").loc[path.name, "status"] == "killed"
    runner.stop(path.name, tmp_path)  # the resumed run stops at once: at its first check of the control file
    out = run_worker(path)
    assert out["status"] == "stopped" and open_run(path.name, tmp_path).status == "stopped"
    steps = open_run(path.name, tmp_path).metrics.step.values.tolist()
    assert steps == list(range(1, len(steps) + 1))  # one trajectory, no holes


def test_created_run_is_killed_only_after_a_grace(tmp_path, monkeypatch):
    from workbench.store import run as run_mod  # live_status reads the grace from here

    path = runner.create(tiny_run(), tmp_path)
    assert open_run(path.name, tmp_path).status == "created"
    monkeypatch.setattr(run_mod, "CREATED_GRACE_S", -1.0)
    assert open_run(path.name, tmp_path).status == "killed"


@pytest.mark.slow  # five runs written, then the index rebuilt
def test_rebuild_index_skips_a_truncated_run_and_lists_the_others(tmp_path):
    ids = []
    for i in range(5):
        w = RunWriter.create({"model": {"layer": "s4d"}}, f"run {i}", tmp_path)
        for s in range(1, 50):
            w.log_metrics(s, {"loss": 1.0 / s})
        w.set_status("completed", step=49, final={"mse": 0.1 * i})
        w.close()
        ids.append(w.id)
    db = tmp_path / ids[2] / "run.sqlite"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    (tmp_path / "index.sqlite").unlink()
    skipped = []
    with pytest.warns(UserWarning, match=ids[2]):
        assert rebuild_index(tmp_path, skipped=skipped) == 4
    assert [i for i, _ in skipped] == [ids[2]]
    status = list_runs(tmp_path).set_index("id").status
    assert sorted(status.index) == sorted(ids) and status[ids[2]] == "damaged"
    assert (status.drop(ids[2]) == "completed").all()
    with pytest.raises(RunDamaged, match="damaged"):
        _ = open_run(ids[2], tmp_path).meta
    one_line_exit_2(cli("show", ids[2], root=tmp_path), "damaged")
    r = cli("runs", "--rebuild", "--no-examples", root=tmp_path)  # the store's own rows only
    assert r.returncode == 0 and r.stdout.count("completed") == 4 and "damaged" in r.stdout + r.stderr


@pytest.mark.slow  # trains, then two CLI subprocesses
def test_a_completed_run_is_not_resumable_and_keeps_its_metrics(tmp_path):
    path = runner.create(tiny_run(steps=10), tmp_path)
    run_worker(path)
    n, meta = rows(path)
    assert meta["status"] == "completed" and set(meta["final_metrics"]) > {"wall_time_s"}
    with pytest.raises(SpecError, match="has not completed"):
        runner.resume(path.name, tmp_path)
    with pytest.raises(SpecError, match="has not completed"):
        run_worker(path)
    one_line_exit_2(cli("train", "--resume", path.name, root=tmp_path), "has not completed")
    one_line_exit_2(cli("resume", path.name, root=tmp_path), "has not completed")
    assert rows(path) == (n, meta)  # final_metrics (and everything else) unchanged
    assert not (path / "control").exists()


def test_resume_falls_back_past_a_truncated_checkpoint(tmp_path):
    path = runner.create(tiny_run(steps=20), tmp_path)
    run_worker(path)
    r = open_run(path.name, tmp_path)
    assert r.checkpoints == [0, 7, 14, 20]
    w = RunWriter(path)
    w.set_status("failed", step=20, error="simulated crash")  # as if it had died after the last checkpoint
    w.close()
    ck = path / "checkpoints" / "step_00000020.pt"
    ck.write_bytes(ck.read_bytes()[:1000])
    heard = []
    out = run_worker(path, notice=heard.append)
    assert out["status"] == "completed" and out["step"] == 20
    assert len(heard) == 1 and "checkpoint 20 unreadable" in heard[0] and "resuming from checkpoint 14" in heard[0]
    r = open_run(path.name, tmp_path)
    assert r.metrics.step.values.tolist() == list(range(1, 21)) and r.checkpoints == [0, 7, 14, 20]
    assert torch.load(ck, weights_only=True)["step"] == 20  # rewritten whole


@pytest.mark.slow  # resumes through a CLI subprocess that trains to the end
def test_leftover_stop_is_cleared_by_resume(tmp_path):
    path = runner.create(tiny_run(steps=12, checkpoint_every=4), tmp_path)
    (path / "control").write_text("stop")
    out = run_worker(path)  # a stop sent while nothing ran: the run stops at once
    assert out["status"] == "stopped"
    r = cli("train", "--resume", path.name, "--json", root=tmp_path)
    assert r.returncode == 0, r.stderr
    assert '"status": "completed"' in r.stdout and open_run(path.name, tmp_path).last_step == 12


def test_index_row_without_a_folder_is_missing(tmp_path):
    w = RunWriter.create({}, "gone", tmp_path)
    w.set_status("completed", step=1)
    w.close()
    (w.path / "spec.json").unlink()
    assert list_runs(tmp_path).set_index("id").status[w.id] == "missing"


@pytest.mark.parametrize("damage", ["chunk", "zarr.json", "spec.json"])
def test_damaged_probe_or_spec_is_reported_not_raised(tmp_path, capsys, damage):
    from workbench.cli import main

    path = runner.create(tiny_run(steps=5), tmp_path)
    run_worker(path)
    z = path / "probes" / "kernels.zarr"
    if damage == "chunk":
        chunk = next(
            p for p in sorted(z.rglob("*")) if p.is_file() and p.parent.name == "c" or p.is_file() and "/c/" in str(p)
        )
        chunk.write_bytes(b"\x00garbage")
    elif damage == "zarr.json":
        (z / "zarr.json").write_text("{not json")
    else:
        (path / "spec.json").write_text("{")
    rc = main(["show", path.name, "--runs-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if damage == "spec.json":
        assert rc == 2 and out == "" and "is damaged: spec.json" in err
    else:
        assert rc == 1 and "kernels (DAMAGED" in out and "status: completed" in out
        with pytest.raises(RunDamaged, match="kernels.zarr"):
            open_run(path.name, tmp_path).probe("kernels")
        rc = main(
            ["export", path.name, "--figure", "kernels", "-o", str(tmp_path / "out"), "--runs-dir", str(tmp_path)]
        )
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "damaged" in err and not (tmp_path / "out").exists()
