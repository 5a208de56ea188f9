"""A wheel carries everything `workbench serve` needs: built, installed into a folder of its own, and
served from a directory outside the checkout, the dashboard answers HTTP 200 from the wheel's files.

A fresh virtual environment with every dependency would take minutes to install here, so the wheel
is installed without dependencies into `site/`, which PYTHONPATH puts before this checkout (the
dependencies come from the running environment); the imported files are checked to live in `site/`.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.serving import served

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "runs",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: building writes build/ and *.egg-info next to pyproject.toml
    shutil.copytree(ROOT, src, ignore=SKIP)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = (tmp / "dist").glob("ssm_workbench-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(tmp / "site"), str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return tmp / "site"


def _env(site: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(site)}


def test_wheel_holds_the_library_and_the_dashboard(site):
    for f in [
        "workbench/cli.py",
        "workbench/ssm/build.py",
        "workbench_dashboard/dashboard.py",
        "workbench_dashboard/app.py",
        "workbench_dashboard/compat.py",
        "workbench_dashboard/views/state.py",
    ]:
        assert (site / f).is_file(), f
    assert not (site / "apps").exists() and not (site / "tests").exists()
    code = (
        "import workbench, workbench.cli as c, workbench_dashboard.app as a;"
        "print(workbench.__file__); print(a.__file__); print(c.dashboard_script())"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=site.parent, env=_env(site), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    for line in r.stdout.split():
        assert Path(line).resolve().is_relative_to(site.resolve()), line


def test_workbench_serve_from_the_wheel_answers_200(site, tmp_path):
    outside = tmp_path / "elsewhere"  # no apps/, no workbench/ here
    outside.mkdir()
    log = tmp_path / "serve.log"
    serve = lambda port: [sys.executable, "-m", "workbench", "serve", "--port", str(port), "--runs-dir", "runs"]
    with served(command=serve, cwd=outside, env=_env(site), log=log) as srv:
        assert "<title>SSM Workbench</title>" in srv.page
        said = log.read_text()
        served_from = said.split("serving the dashboard (", 1)[1].split(")", 1)[0]
        assert Path(served_from).resolve() == (site / "workbench_dashboard" / "dashboard.py").resolve(), said
