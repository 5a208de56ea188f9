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
    assert run("--help").returncode == 0 and "serve" in run("--help").stdout


def test_spec_prints_json():
    r = run("spec", "--ssm.init", "s4d-inv", "--ssm.dt_min", "1e-2")
    assert r.returncode == 0
    assert json.loads(r.stdout)["init"] == "s4d-inv" and json.loads(r.stdout)["dt_min"] == 0.01


@pytest.mark.parametrize(
    "args, words",
    [
        (["spec", "--ssm.init", "bogus"], "ssm.init='bogus'"),
        (["spec", "--ssm.dt_min", "0.5"], "ssm.dt_min=0.5"),
        (["spec", "--ssm.d_state", "abc"], "ssm.d_state='abc'"),
        (["spec", "--ssm.init", "s4d-real", "--ssm.a_reparam", "best"], "ssm.a_reparam='best'"),
        (["spec", "--ssm.nope", "1"], "unrecognized arguments"),
        (["serve", "--port", "99999"], "--port=99999"),
        (["serve", "--port", "abc"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_one_line_exit_2(args, words):
    r = run(*args)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr
