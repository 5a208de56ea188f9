"""Run ids and paths stay inside the runs root: every command and API call refuses a folder outside
it, a symlink out of it, or a symlinked run, and touches nothing outside. A read-only store lists."""

import os
import shutil
import subprocess
import sys

import pytest

from workbench.errors import SpecError
from workbench.store import RunWriter, delete_run, list_runs, open_run
from workbench.train import runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.fixture
def store(tmp_path):
    """A runs root with one run, a run-like folder outside it, and symlinks out of and within it."""
    root = tmp_path / "runs"
    w = RunWriter.create({"model": {"layer": "s4d"}}, "inside", root)
    w.set_status("stopped", step=0)
    w.close()
    outside = tmp_path / "elsewhere" / "victim"
    shutil.copytree(w.path, outside)
    (outside / "precious.txt").write_text("keep me")
    (root / "20260101-000000-link-out-0000").symlink_to(outside, target_is_directory=True)
    (root / "20260101-000000-link-in-0000").symlink_to(w.path, target_is_directory=True)
    return root, w.id, outside


def bad_names(root, outside):
    return [
        str(outside),
        str(root / ".." / "elsewhere" / "victim"),
        "../elsewhere/victim",
        "..",
        "/",
        "",
        str(root / "20260101-000000-link-out-0000"),
        "20260101-000000-link-out-0000",
        "20260101-000000-link-in-0000",
        str(root / "20260101-000000-link-in-0000"),
    ]


def test_api_refuses_paths_outside_the_root(store):
    root, run_id, outside = store
    before, inside_before = snapshot(outside), snapshot(root / run_id)
    for name in bad_names(root, outside):
        for call in (open_run, delete_run, runner.pause, runner.stop, runner.resume):
            with pytest.raises(SpecError, match="run"):
                call(name, root)
    assert snapshot(outside) == before and snapshot(root / run_id) == inside_before
    assert (root / "20260101-000000-link-in-0000").is_symlink()  # not followed, not removed
    assert open_run(str(root / run_id), root).id == run_id  # a folder inside the root is fine


@pytest.mark.slow
def test_cli_refuses_paths_outside_the_root(store, tmp_path, capsys):
    from workbench.cli import main

    root, run_id, outside = store
    before = snapshot(outside)
    out = tmp_path / "exported"
    for name in bad_names(root, outside):
        for args in (
            ["show", name],
            ["stop", name],
            ["pause", name],
            ["resume", name],
            ["train", "--resume", name],
            ["export", name, "--figure", "training", "-o", str(out)],
        ):
            assert main([*args, "--runs-dir", str(root)]) == 2, args
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)
    r = cli("show", str(outside), "--runs-dir", str(root))  # and once through a real process
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert snapshot(outside) == before and not out.exists()
    assert list_runs(root).id.tolist() == [run_id]


def test_delete_of_a_symlinked_run_leaves_index_and_target(store):
    root, run_id, outside = store
    for name in ("20260101-000000-link-in-0000", "20260101-000000-link-out-0000"):
        with pytest.raises(SpecError):
            delete_run(name, root)
    assert list_runs(root).id.tolist() == [run_id] and (root / run_id / "spec.json").exists()
    delete_run(run_id, root)
    assert list_runs(root).empty and not (root / run_id).exists()


def _read_only(root, script):
    """Run `script` (sh) with `root` bind-mounted read-only: even root cannot write there."""
    cmd = f"mount --bind {root} {root} && mount -o remount,bind,ro {root} && {script}"
    return subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, timeout=300, cwd=ROOT)


def _can_mount_read_only(tmp_path):
    if shutil.which("unshare") is None:
        return False
    return _read_only(tmp_path, f"! touch {tmp_path}/probe 2>/dev/null").returncode == 0


@pytest.mark.slow
def test_a_read_only_store_lists_and_shows(tmp_path):
    if not _can_mount_read_only(tmp_path):
        pytest.skip("no read-only bind mount here (needs unshare -m)")
    root = tmp_path / "runs"
    ids = []
    for i in range(3):
        w = RunWriter.create({"model": {"layer": "s4d"}}, f"ro {i}", root)
        w.log_metrics(1, {"loss": 1.0})
        w.set_status("stopped" if i == 0 else "completed", step=1, final={"mse": 0.5})
        w.close()
        ids.append(w.id)
    before = snapshot(root)
    py = f"PYTHONPATH={ROOT} {sys.executable} -m workbench.cli"
    r = _read_only(
        root,
        f"{py} runs --runs-dir {root} && {py} show {ids[1]} --runs-dir {root} && {py} runs --json --runs-dir {root}",
    )
    assert r.returncode == 0, r.stderr
    assert all(i in r.stdout for i in ids) and "status: completed" in r.stdout
    r = _read_only(root, f"{py} resume {ids[0]} --runs-dir {root}")  # a stopped run: resuming must write
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert snapshot(root) == before
