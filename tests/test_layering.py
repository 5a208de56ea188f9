"""Imports go one way: every module of workbench/ and apps/, every import statement (function-level
ones too), against the declared order of layers (docs/architecture.md, "Layers").

A module may import from its own layer's package and from layers below it, never from above.
A new top-level module or subpackage must be given a layer here; the test says so.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# bottom to top; a name is workbench's top-level module or subpackage ("app": the dashboard package)
LAYERS = [
    {"workbench", "errors", "threads"},  # the package root (lazy attributes only), errors, thread settings
    {
        "specs",
        "spec_groups",
        "presets",
    },  # every setting as param classes, the fields' metadata, presets (YAML); no torch
    {"ssm"},  # the mathematics and the layers; build_model
    {"tasks"},  # generated data
    {"analysis"},  # model -> xarray Datasets
    {"store"},  # runs on disk: specs and files, never a model
    {"train"},  # loop, worker, runner; writes the store, probes through analysis; load_model
    {"pretrained"},  # checkpoints (Hugging Face, mamba_ssm, the workbench's own runs) into ssm layers
    {"plots"},  # Datasets -> HoloViews
    {"sweep"},  # many runs on Dask
    {"flags", "cli_json", "cli_serve"},  # spec fields as command-line flags; strict JSON output; serve arguments
    {"cli_train", "cli_export", "cli_inspect", "cli_eval"},
    {"cli", "__main__"},
    {"app"},  # apps/, installed as workbench_dashboard: Panel views, never torch
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
# third-party packages a layer may never import (anywhere in the module)
BANNED = {
    "specs": {"torch", "panel", "holoviews", "bokeh"},
    "spec_groups": {"torch", "panel", "holoviews", "bokeh"},
    "presets": {"torch", "panel", "holoviews", "bokeh"},
    "errors": {"torch", "panel", "holoviews", "bokeh"},
    "plots": {"torch", "panel"},
    "app": {"torch"},
}
UI = {"panel", "bokeh"}  # only the dashboard imports these at module level; plots may reach bokeh in a function


def modules():
    """(dotted name, layer name, path) of every module of workbench/ and apps/."""
    for base, pkg in (("workbench", "workbench"), ("apps", "apps")):
        for f in sorted((ROOT / base).rglob("*.py")):
            parts = f.relative_to(ROOT).with_suffix("").parts
            dotted = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if pkg == "apps":
                layer = "app"
            else:
                layer = parts[1] if len(parts) > 1 and parts[1] != "__init__" else "workbench"
            yield dotted, layer, f


def imports(path: Path, dotted: str):
    """(absolute module name, line, top-level?, relative?) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, id(node) in top, False
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            else:
                names = [node.module]
            for n in names:
                yield n, node.lineno, id(node) in top, bool(node.level)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] in ("apps", "workbench_dashboard"):
        return "app"
    if parts[0] != "workbench":
        return None
    return parts[1] if len(parts) > 1 else "workbench"


ALL = list(modules())


def test_every_module_has_a_layer():
    missing = sorted({layer for _, layer, _ in ALL if layer not in RANK})
    assert not missing, f"declare the layer of {missing} in tests/test_layering.py and docs/architecture.md"


@pytest.mark.parametrize("dotted, layer, path", ALL, ids=[m for m, _, _ in ALL])
def test_imports_point_down(dotted, layer, path):
    bad = []
    for target, line, at_top, relative in imports(path, dotted):
        to = layer_of(target)
        first = target.split(".")[0]
        if to is not None and to != layer and RANK.get(to, 1e9) > RANK[layer]:
            bad.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {target} ({to}), a layer above")
        if first in BANNED.get(layer, ()):
            bad.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {target}")
        if layer != "app" and first in UI and at_top:
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {target} at module level outside the dashboard")
        if layer != "app" and first == "holoviews" and layer != "plots":
            bad.append(f"{path.relative_to(ROOT)}:{line} imports holoviews outside workbench.plots")
        if layer == "app" and first == "apps" and not relative:
            bad.append(
                f"{path.relative_to(ROOT)}:{line} imports {target}: the dashboard installs as "
                "workbench_dashboard, so its modules import each other relatively"
            )
    assert not bad, "\n".join(bad)


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from . import x\n\ndef g():\n    from workbench.train import runner\n    import torch\n")
    found = {(t, top) for t, _, top, _ in imports(f, "workbench.store.m")}
    assert found == {("workbench.store.x", True), ("workbench.train", False), ("torch", False)}
    f.write_text("from ..compat import apply\nfrom .state import W\n")
    assert {(t, rel) for t, _, _, rel in imports(f, "apps.views.base")} == {
        ("apps.compat", True),
        ("apps.views.state", True),
    }
