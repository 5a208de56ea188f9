"""The thread policy: load read from /proc, the thread count it picks, and that it changes no result."""

import pytest
import torch

from workbench import threads
from workbench.errors import SpecError
from workbench.ssm.scan import selective_scan, selective_scan_ref


def write_stat(tmp_path, busy: tuple[int, int], own: int):
    """A /proc/stat with two CPUs whose user time is `busy`, and a /proc/self/stat with utime `own`."""
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  0 0 0 0 0 0 0 0 0 0\n"
        + "".join(f"cpu{i} {b} 0 0 1000 0 0 0 0 0 0\n" for i, b in enumerate(busy))
        + "intr 0\n"
    )
    me = tmp_path / "self_stat"
    me.write_text("123 (python with) spaces) R " + " ".join(["0"] * 10) + f" {own} 0 0 0\n")
    return str(stat), str(me)


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.delenv("WORKBENCH_THREADS", raising=False)


def meter_after(tmp_path, monkeypatch, busy0, own0, busy1, own1, seconds):
    clock = [100.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(threads.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    m = threads.LoadMeter(*write_stat(tmp_path, busy0, own0))
    m.tick = 100
    write_stat(tmp_path, busy1, own1)
    clock[0] += seconds
    return m


def test_meter_counts_other_processes_not_this_one(tmp_path, monkeypatch, two_cores):
    # over 1 s: cpu0 busy 100 ticks (this process: 60 of them), cpu1 busy 90 ticks -> others 1.3 cores
    m = meter_after(tmp_path, monkeypatch, (0, 0), 0, (100, 90), 60, 1.0)
    assert m.others_busy() == pytest.approx(1.3)
    # within the window the reading is kept (no new sample counted)
    write_stat(tmp_path, (100, 90), 60)
    assert m.others_busy() == pytest.approx(1.3)


def test_meter_counts_reaped_children_only_when_asked(tmp_path, monkeypatch, two_cores):
    m = meter_after(tmp_path, monkeypatch, (0, 0), 0, (100, 90), 60, 1.0)
    (tmp_path / "self_stat").write_text("1 (p) R " + " ".join(["0"] * 10) + " 60 0 50 0\n")  # cutime 50
    assert m.others_busy() == pytest.approx(1.3)
    m = meter_after(tmp_path, monkeypatch, (0, 0), 0, (100, 90), 60, 1.0)
    m.children = True
    (tmp_path / "self_stat").write_text("1 (p) R " + " ".join(["0"] * 10) + " 60 0 50 0\n")
    assert m.others_busy() == pytest.approx(0.8)


def test_meter_ignores_cores_outside_the_affinity(tmp_path, monkeypatch, two_cores):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0})
    m = meter_after(tmp_path, monkeypatch, (0, 0), 0, (20, 100), 0, 1.0)
    assert m.others_busy() == pytest.approx(0.2)


def test_meter_without_proc_reads_idle(tmp_path):
    m = threads.LoadMeter(str(tmp_path / "missing"), str(tmp_path / "missing2"))
    assert m.others_busy() == 0.0


def test_real_meter_reads_a_plausible_load():
    import time

    m = threads.LoadMeter()
    time.sleep(0.5)  # ≥ 50 clock ticks per core: the reading's rounding stays below 0.05 core
    v = m.others_busy()
    assert 0.0 <= v <= threads.usable_cores() + 0.1


@pytest.mark.parametrize("others, want", [(0.0, 2), (0.2, 2), (0.3, 1), (1.0, 1), (1.9, 1)])
def test_threads_for_leaves_busy_cores_alone(monkeypatch, two_cores, others, want):
    monkeypatch.setattr(threads, "free_cores", lambda: 2 - others)
    assert threads.threads_for(1 << 20, 2) == want
    assert threads.threads_for(1 << 20, 1) == 1  # never above the process's own count
    assert threads.threads_for(1000, 2) == 1  # too small to split, whatever the load
    assert threads.threads_for(1 << 18, 2, small=threads.STEP_SMALL_WORK) == 1


def test_fixed_policy_and_bad_policy(monkeypatch, two_cores):
    monkeypatch.setattr(threads, "free_cores", lambda: 1.0)
    monkeypatch.setenv("WORKBENCH_THREADS", "fixed")
    assert threads.threads_for(1 << 20, 2) == 2
    monkeypatch.setenv("WORKBENCH_THREADS", "sometimes")
    with pytest.raises(SpecError, match="WORKBENCH_THREADS.*sometimes.*adaptive, fixed"):
        threads.threads_for(1 << 20, 2)


def test_adaptive_restores_the_count(monkeypatch, two_cores):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(threads, "free_cores", lambda: 1.0)
        with threads.adaptive(1 << 20) as k:
            assert k == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def scan_inputs(b=2, D=8, N=4, L=300):
    g = torch.Generator().manual_seed(3)
    return {
        "u": torch.randn(b, D, L, generator=g),
        "delta": torch.rand(b, D, L, generator=g) * 0.2,
        "A": -torch.rand(D, N, generator=g) - 0.2,
        "B": torch.randn(b, N, L, generator=g),
        "C": torch.randn(b, N, L, generator=g),
        "D": torch.randn(D, generator=g),
    }


@pytest.mark.parametrize("n", [1, 2])
def test_scan_matches_the_reference_on_either_thread_count(monkeypatch, n):
    """The policy only moves work between threads: values and gradients agree with the sequential loop."""
    seen = []
    monkeypatch.setattr(threads, "threads_for", lambda work, limit, small=0: seen.append(n) or n)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        kw = scan_inputs()
        leaves = {k: v.clone().requires_grad_() for k, v in kw.items()}
        ref = {k: v.clone().requires_grad_() for k, v in kw.items()}
        y = selective_scan(**leaves)
        y.square().sum().backward()
        y_ref = selective_scan_ref(**ref)
        y_ref.square().sum().backward()
        torch.testing.assert_close(y, y_ref, rtol=1e-4, atol=1e-4)
        for k in kw:
            torch.testing.assert_close(leaves[k].grad, ref[k].grad, rtol=1e-3, atol=1e-3)
        assert seen == [n, n]  # forward and backward both asked the policy
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_use_threads_rejects_non_integers():
    with pytest.raises(SpecError, match="threads"):
        threads.use_threads(1.5)


def test_competing_load_starts_and_stops_its_process():
    import psutil

    from benchmarks.load import competing_load, stats

    before = {p.pid for p in psutil.Process().children()}  # e.g. a multiprocessing helper of an earlier test
    with competing_load() as core:
        kids = [p for p in psutil.Process().children() if p.pid not in before]
        assert len(kids) == 1 and kids[0].cpu_affinity() == [core]
        pid = kids[0].pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    s = stats([1.0, 2.0, 3.0, 4.0, 10.0])
    assert s["median_s"] == 3.0 and s["p90_s"] == pytest.approx(4 + 0.6 * 6) and s["spread"] == pytest.approx(7.6 / 3)


@pytest.mark.slow  # trains
def test_train_steps_on_the_policys_count_and_restores_it(monkeypatch):
    from workbench.specs import RunSpec
    from workbench.train import loop

    monkeypatch.setattr(threads, "threads_for", lambda work, limit, small=0: 1)
    counts = []
    real_make_batch = loop.make_batch
    monkeypatch.setattr(loop, "make_batch", lambda *a: counts.append(torch.get_num_threads()) or real_make_batch(*a))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        run = RunSpec.from_dict(
            {
                "model": {"layer": "mamba", "d_model": 8, "n_layers": 1},
                "task": {"kind": "selective-copying", "noise_len": 8, "n_data": 2},
                "train": {"steps": 3, "batch": 2, "probe_every": 0, "probe_length": 8, "eval_every": 1},
            }
        )
        assert loop.train(run, lambda e: None)["status"] == "completed"
        assert counts == [1, 1, 1]  # threads 0 (automatic): every step on the policy's count
        assert torch.get_num_threads() == 2
        run.train.threads = 2
        counts.clear()
        loop.train(run, lambda e: None)
        assert counts == [2, 2, 2]  # an explicit count is kept
    finally:
        torch.set_num_threads(before)
