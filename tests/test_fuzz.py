"""Seeded fuzzing of every CLI command's flags and of `RunSpec.from_dict` (benchmarks/fuzz.py holds the
generators; `python -m benchmarks.fuzz` runs the >= 1,000-case version). Every case must exit 0, or
exit 2 with one stderr line, no traceback and nothing written to the runs root."""

import pytest

from benchmarks.fuzz import fuzz


def _assert_clean(report):
    for kind, r in report.items():
        assert not r["failures"], f"{kind}: {r['failures'][:3]}"
        assert r["exit2"] > 0  # the generators do reach refusals ...
        assert r["exit0"] > 0 or kind == "serve"  # ... and valid cases


def test_fuzz_from_dict():
    _assert_clean(fuzz({"from_dict": 600}, seed=11))


@pytest.mark.slow
def test_fuzz_cli_commands():
    _assert_clean(fuzz({"spec": 150, "store": 80, "serve": 40, "sweep": 80}, seed=12))


@pytest.mark.slow
def test_fuzz_train():
    _assert_clean(fuzz({"train": 40}, seed=13))
