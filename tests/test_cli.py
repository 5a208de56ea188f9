"""The CLI: --help for everything; bad values print one line and exit 2 (no traceback)."""

import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_spec_flags():
    r = run("spec", "--help")
    assert r.returncode == 0 and "--ssm.init" in r.stdout and "--ssm.dt_transform" in r.stdout
    top = run("--help")
    assert top.returncode == 0 and "serve" in top.stdout


@pytest.mark.slow  # each case pays an interpreter and torch import; the fast selection keeps two
def test_spec_prints_json():
    r = run("spec", "--ssm.init", "s4d-inv", "--ssm.dt_min", "1e-2")
    assert r.returncode == 0
    assert json.loads(r.stdout)["init"] == "s4d-inv" and json.loads(r.stdout)["dt_min"] == 0.01


@pytest.mark.parametrize(
    "args, words",
    [
        (["spec", "--ssm.init", "bogus"], "ssm.init='bogus'"),
        pytest.param(["spec", "--ssm.dt_min", "0.5"], "ssm.dt_min=0.5", marks=pytest.mark.slow),
        pytest.param(["spec", "--ssm.d_state", "abc"], "ssm.d_state='abc'", marks=pytest.mark.slow),
        pytest.param(
            ["spec", "--ssm.init", "s4d-real", "--ssm.a_reparam", "best"],
            "ssm.a_reparam='best'",
            marks=pytest.mark.slow,
        ),
        pytest.param(["spec", "--ssm.nope", "1"], "unrecognized arguments", marks=pytest.mark.slow),
        pytest.param(["serve", "--port", "99999"], "--port=99999", marks=pytest.mark.slow),
        pytest.param(["serve", "--port", "abc"], "invalid int value", marks=pytest.mark.slow),
        pytest.param(["frobnicate"], "invalid choice", marks=pytest.mark.slow),
    ],
)
def test_bad_input_one_line_exit_2(args, words):
    r = run(*args)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr
