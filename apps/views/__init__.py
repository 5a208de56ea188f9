"""Panel views: `pn.viewable.Viewer` classes that compose specs, runs and `workbench.plots`."""

from .editor import spec_editor
from .export import ExportView
from .probes import KernelsView, MemoryView, SpectrumView, TokensView
from .runs import RunControls, RunsView
from .state import Workbench
from .training import TrainingView

__all__ = [
    "ExportView",
    "KernelsView",
    "MemoryView",
    "RunControls",
    "RunsView",
    "SpectrumView",
    "TokensView",
    "TrainingView",
    "Workbench",
    "spec_editor",
]
