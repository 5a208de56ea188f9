"""SSM Workbench dashboard: `panel serve apps/dashboard.py`, or `workbench serve` (resources inline, offline).

`panel serve` runs this file as a script, outside any package. The dashboard's modules are its
sibling package: `apps` in a source checkout, `workbench_dashboard` when installed from a wheel;
the folder this file sits in names it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import panel as pn

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))
_app = importlib.import_module(f"{_HERE.name}.app")
App, create_app = _app.App, _app.create_app

if pn.state.served:
    create_app().servable()
