"""Packaging: environment.yml agrees with pyproject.toml; `import workbench` stays light."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # pip name -> conda-forge name where they differ


def split(req: str) -> tuple[str, str]:
    m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req.strip())
    return m.group(1).lower(), m.group(3).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.update(split(r) for r in dep["pip"] if not r.startswith("-e"))
        else:
            conda.update([split(dep)])
    conda.pop("python"), conda.pop("pip")
    have = {**pip}
    for name, spec in conda.items():
        pip_name = {v: k for k, v in CONDA_NAMES.items()}.get(name, name)
        have[pip_name] = spec
    # dask[distributed] is two conda packages with the same bound
    assert have.pop("distributed") == wanted["dask"]
    assert have == wanted


def test_constraints_pin_torch_cpu_build():
    pins = (ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins


@pytest.mark.slow  # a fresh interpreter
def test_import_workbench_loads_no_ui_stack():
    code = (
        "import sys, workbench, workbench.specs, workbench.ssm.build, workbench.analysis, workbench.cli;"
        "bad=[m for m in ('panel','holoviews','bokeh') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_specs_import_without_torch():
    code = "import sys, workbench.specs; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_apps_do_no_tensor_work_themselves():
    """Layering: apps ask workbench for Datasets (and for thread settings), never import torch."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "apps").rglob("*.py")
        if re.search(r"^\s*(import|from)\s+torch\b", p.read_text(), re.M)
    ]
    assert offenders == []


def test_use_threads_sets_torch_and_rejects_zero():
    import torch

    from workbench.errors import SpecError
    from workbench.threads import use_threads

    before = torch.get_num_threads()
    try:
        use_threads(1)
        assert torch.get_num_threads() == 1
        with pytest.raises(SpecError, match="threads"):
            use_threads(0)
    finally:
        torch.set_num_threads(before)


def test_wheel_package_list_names_every_package_folder():
    """pyproject lists packages explicitly (apps/ installs as workbench_dashboard): a new subpackage
    missing from the list would silently be missing from the wheel."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {v: k for k, v in tool["package-dir"].items()}  # folder -> installed name
    found = set()
    for base in ("workbench", "apps"):
        for init in (ROOT / base).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            found.add(".".join((mapped.get(parts[0], parts[0]),) + parts[1:]))
    data = {name for name, folder in tool["package-dir"].items() if folder.startswith("data/")}  # YAML only
    assert set(tool["packages"]) - data == found


def test_license_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "BSD-3-Clause"}
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")
