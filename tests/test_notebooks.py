"""Notebooks: stored without outputs, in step with their py:percent source, and they run in a real kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("*.py"))


def test_every_notebook_is_paired():
    assert len(PAIRS) >= 7
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == [p.stem for p in PAIRS]


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_stored_without_outputs_and_matching_source(py):
    stored = json.loads(py.with_suffix(".ipynb").read_text())
    for cell in stored["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{py.stem}: strip the outputs"
    source = jupytext.read(py)  # the .py is the source of truth; the .ipynb must say the same
    cells = lambda nb: [(c["cell_type"], "".join(c["source"]).strip()) for c in nb["cells"]]
    assert cells(stored) == cells(source), f"{py.stem}: run `jupytext --sync notebooks/{py.name}`"


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_offline_and_library_only(py):
    text = py.read_text()
    assert 'hv.extension("bokeh", inline=True)' in text  # no CDN: plots render offline
    assert "pn.extension(" not in text or "pn.extension(inline=True" in text
    assert 'FAST = os.environ.get("WORKBENCH_FAST") == "1"' in text
    assert "\nclass " not in text  # configuring models is fine; redefining library code is not
    assert "runs/" not in text and "./runs" not in text  # runs go to a temporary folder


@pytest.mark.slow
def test_notebooks_run_in_a_kernel(tmp_path):
    """Every notebook, in FAST mode, in a real Jupyter kernel (nbmake), with Jupyter's files in tmp."""
    env = {
        **os.environ,
        "WORKBENCH_FAST": "1",
        "WORKBENCH_RUNS_DIR": str(tmp_path / "runs"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
    }
    nbs = [str(p.with_suffix(".ipynb")) for p in PAIRS]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbmake",
            "--nbmake-timeout=600",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            *nbs,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert not (tmp_path / "runs").exists()  # the notebooks used their own temporary folders
    assert all(not p.with_suffix(".ipynb").read_text().count('"output_type"') for p in PAIRS)  # nbmake wrote nothing
