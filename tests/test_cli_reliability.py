"""The CLI on hostile input: one line and exit 2 (nothing written) for bad values, huge integers,
non-finite numbers, absent devices, malformed sweeps and unwritable outputs; valid JSON always;
a closed pipe is not an error; `serve` off loopback warns, allows the machine's origins, takes a password."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from benchmarks.fuzz import refusal_fault, run_cli
from workbench.cli import main
from workbench.cli_json import dumps

ROOT = Path(__file__).resolve().parent.parent
SMALL = [
    "--train.steps",
    "2",
    "--train.batch",
    "2",
    "--model.d_model",
    "4",
    "--model.n_layers",
    "1",
    "--ssm.d_state",
    "2",
    "--train.probe_every",
    "0",
    "--train.threads",
    "1",
    "--task.name",
    "adding",
    "--task.seq_len",
    "8",
]


def refused(args, words=""):
    """main(args) exits 2 with one stderr line naming `words`; returns that line."""
    rc, _, err = run_cli(args)
    why = refusal_fault(rc, err)
    assert why is None and words in err, (why, err)
    return err.strip()


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--train.seed", str(2**64)], "train.seed=18446744073709551616"),
        (["--ssm.seed", str(2**53)], "ssm.seed"),
        (["--train.eval_every", str(2**64)], "train.eval_every"),
        (["--train.checkpoint_every", "1e400"], "train.checkpoint_every"),
        (["--ssm.dt_max", "inf"], "ssm.dt_max=inf"),
        (["--ssm.ssm_lr", "inf"], "ssm.ssm_lr=inf"),
        (["--train.lr", "nan"], "train.lr=nan"),
        (["--train.lr", "1" + "0" * 400], "train.lr"),
        (["--task.test_lengths", "4,99999999"], "task.test_lengths"),
    ],
)
def test_bad_train_values_write_nothing(tmp_path, flags, words):
    root = tmp_path / "runs"
    refused(["train", *SMALL, *flags, "--runs-dir", str(root)], words)
    assert not root.exists() or not any(p.is_dir() for p in root.iterdir())


def test_empty_resume_is_not_a_new_run(tmp_path):
    refused(["train", "--resume", "", "--runs-dir", str(tmp_path)], "run=''")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is visible here")
@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_absent_device_refused_before_the_run_folder(tmp_path, device):
    if device == "mps" and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        pytest.skip("an MPS device is visible here")
    refused(["train", *SMALL, "--train.device", device, "--runs-dir", str(tmp_path)], f"train.device='{device}'")
    assert list(tmp_path.iterdir()) == []


def test_learn_a_false_trains(tmp_path, capsys):
    for layer in ("s4d", "mamba"):
        assert (
            main(
                [
                    "train",
                    *SMALL,
                    "--model.layer",
                    layer,
                    "--ssm.learn_a",
                    "false",
                    "--json",
                    "--runs-dir",
                    str(tmp_path),
                ]
            )
            == 0
        )
        assert json.loads(capsys.readouterr().out)["status"] == "completed"


def test_json_is_valid_for_non_finite_values(tmp_path, capsys):
    text = dumps({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": torch.tensor(float("nan"))})
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": None}
    rc = main(
        [
            "train",
            *SMALL,
            "--train.lr",
            "1e30",
            "--ssm.ssm_lr",
            "1e30",
            "--train.grad_clip",
            "0",
            "--json",
            "--runs-dir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    strict = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in --json output"))
    assert strict["status"] in ("completed", "diverged") and rc in (0, 1)
    assert main(["runs", "--json", "--runs-dir", str(tmp_path)]) == 0
    json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in runs --json"))


@pytest.mark.parametrize(
    "text, words",
    [
        ("base: {model: s4d}", "base.model='s4d'"),
        ("grid: [ssm.init]", "grid=['ssm.init']"),
        ("grid: {1: [a]}", "sweep field=1"),
        ("random: {space: {ssm.dt_min: {log_uniform: [0, 0.1]}}}", "random.space.ssm.dt_min"),
        ("random: {space: {ssm.dt_min: {uniform: [0.1]}}}", "random.space.ssm.dt_min"),
        ("random: {n: many}", "random.n='many'"),
        ("random: {n: 100000000}", "configurations per sweep"),
        ("grid: {train.seed: [1, 2, 3]}\nrandom: {n: 1000}", "3000 configurations"),
        ("random: {seed: -1}", "random.seed=-1"),
        ("random: {space: []}", "random.space=[]"),
        ("name: [x]", "name=['x']"),
        ("a: [", "valid YAML"),
    ],
)
def test_malformed_sweeps_one_line(tmp_path, text, words):
    f = tmp_path / "s.yaml"
    f.write_text(text)
    refused(["sweep", str(f), "--dry-run"], words)


def test_max_configs_flag_raises_the_bound(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text("base: {model: {layer: s4d}}\ngrid: {train.seed: [0, 1, 2]}")
    refused(["sweep", str(f), "--dry-run", "--max-configs", "2"], "at most 2 configurations")
    assert main(["sweep", str(f), "--dry-run", "--max-configs", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_export_to_an_unwritable_folder(tmp_path, capsys):
    assert main(["train", *SMALL, "--runs-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    run_id = next(p.name for p in tmp_path.iterdir() if p.is_dir())
    for out in ("/proc/self", "/proc/self/new", "/dev/null"):
        refused(["export", run_id, "--figure", "training", "-o", out, "--runs-dir", str(tmp_path)], "-o=")


@pytest.mark.slow  # a CLI subprocess in a shell pipe
def test_closed_pipe_is_quiet(tmp_path):
    assert main(["train", *SMALL, "--runs-dir", str(tmp_path)]) == 0
    run_id = next(p.name for p in tmp_path.iterdir() if p.is_dir())
    # `true` exits without reading: every write of `show` meets a closed pipe
    script = (
        f"{sys.executable} -m workbench.cli show {run_id} --runs-dir {tmp_path} | true; echo rc=${{PIPESTATUS[0]}} >&2"
    )
    r = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "rc=0" in r.stderr and "BrokenPipe" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def serve_ns(**kw):
    ns = dict(
        port=5006,
        address="127.0.0.1",
        runs_dir="runs",
        show=False,
        allow_websocket_origin=[],
        basic_auth=None,
        cookie_secret=None,
    )
    return SimpleNamespace(**{**ns, **kw})


def test_serve_arguments(monkeypatch, capsys):
    from workbench.cli import dashboard_script
    from workbench.cli_serve import own_names, panel_args

    DASHBOARD = dashboard_script()
    monkeypatch.delenv("PANEL_BASIC_AUTH", raising=False)
    monkeypatch.delenv("WORKBENCH_BASIC_AUTH", raising=False)
    args = panel_args(serve_ns(), DASHBOARD)
    assert "127.0.0.1:5006" in args and not capsys.readouterr().err  # loopback: quiet, no password needed
    args = panel_args(serve_ns(address="0.0.0.0", allow_websocket_origin=["lab.example.org:443"]), DASHBOARD)
    err = capsys.readouterr().err
    assert "WARNING" in err and "ANYONE" in err and "--basic-auth" in err
    assert "lab.example.org:443" in args and all(n in args for n in own_names(5006))
    args = panel_args(serve_ns(address="0.0.0.0", basic_auth="s3cret", cookie_secret="k"), DASHBOARD)
    assert "s3cret" not in " ".join(args) and os.environ["PANEL_BASIC_AUTH"] == "s3cret"
    assert os.environ["PANEL_COOKIE_SECRET"] == "k" and "password required" in capsys.readouterr().err
    monkeypatch.delenv("PANEL_BASIC_AUTH")
    monkeypatch.delenv("PANEL_COOKIE_SECRET")
    refused(["serve", "--cookie-secret", "k"], "--cookie-secret")
    refused(["serve", "--allow-websocket-origin", "bad origin"], "--allow-websocket-origin")
    refused(["serve", "--address", "no.such.host.invalid"], "--address")
