"""SSM Workbench: the library behind the dashboard, the notebooks and the CLI.

Importing this package loads no UI stack (panel, holoviews, bokeh) and, until an
attribute below is used, not even torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "build_layer": ("workbench.ssm.build", "build_layer"),
    "SSMSpec": ("workbench.specs", "SSMSpec"),
    "SpecError": ("workbench.errors", "SpecError"),
    "open_run": ("workbench.store", "open_run"),
    "load_model": ("workbench.train.checkpoints", "load_model"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = list(_LAZY)
