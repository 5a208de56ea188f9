"""Size bounds refuse at once and allocate nothing: sweeps by their shape (before expansion), runs by
an estimate of their training memory (before a model or batch exists)."""

import resource
import time
import tracemalloc

import pytest

from workbench.errors import SpecError
from workbench.specs import RunSpec, SweepSpec
from workbench.train.budget import GiB, check_memory, estimate

MiB = 2**20


def refused_fast(fn, field):
    """fn() raises SpecError naming `field` in < 1 s, < 1 MiB of Python allocations and < 50 MiB of RSS."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(SpecError) as info:
            fn()
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.field == field, str(info.value)
    assert elapsed < 1.0 and peak < MiB, (elapsed, peak)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0 < 50 * MiB
    return str(info.value)


def test_huge_random_sweep_refused_before_expansion():
    msg = refused_fast(
        lambda: SweepSpec.from_dict({"base": {"model": {"layer": "s4d"}}, "random": {"n": 10**8}}), "sweep"
    )
    assert "100000000 configurations" in msg and "--max-configs" in msg


def test_million_point_grid_refused_before_expansion():
    grid = {"train.seed": list(range(1000)), "ssm.d_state": list(range(2, 2002, 2))}  # 10^6 points
    msg = refused_fast(lambda: SweepSpec.from_dict({"grid": grid}), "sweep")
    assert "1000000 configurations" in msg
    sweep = SweepSpec.from_dict({"grid": grid}, max_configs=10**6)  # raised: accepted, and still lazy
    it = sweep.iter_configurations()
    assert sweep.size == 10**6 and next(it)[0] == {"train.seed": 0, "ssm.d_state": 2}


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"train": {"batch": 65535}}, "train.batch"),
        ({"task": {"name": "selective-copying", "n_data": 65535}}, "task.n_data"),
        ({"task": {"name": "delay", "seq_len": 1 << 22, "lag": 8}}, "task.seq_len"),
        ({"model": {"layer": "mamba", "d_model": 8192, "n_layers": 64}}, "model.d_model"),
        (
            {"model": {"layer": "attention"}, "task": {"name": "lorenz", "seq_len": 1 << 20}, "train": {"batch": 64}},
            "train.batch",
        ),
    ],
)
def test_run_memory_refused_before_allocation(spec, field):
    run = RunSpec.from_dict(spec)
    estimate(run)  # imports done outside the measured call
    msg = refused_fast(lambda: check_memory(run, "cpu", available=8 * GiB), field)
    assert "GiB to train" in msg and "8 GiB available" in msg


def test_default_runs_fit():
    for layer in ("s4d", "mamba", "mamba2", "attention", "lru", "gla", "mlstm", "mega-ema"):
        run = RunSpec.from_dict({"model": {"layer": layer}})
        assert sum(check_memory(run, "cpu", available=1 * GiB).values()) < GiB / 4, layer


def test_cli_refuses_an_oversized_batch_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from workbench.cli import main
    from workbench.train import budget

    monkeypatch.setattr(budget, "available_bytes", lambda device="cpu": 8 * GiB)
    assert main(["train", "--train.batch", "65535", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train.batch=65535" in err and list(tmp_path.iterdir()) == []
