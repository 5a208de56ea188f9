"""Panel views: `pn.viewable.Viewer` classes that compose specs, runs and `workbench.plots`."""
from apps.views.editor import spec_editor
from apps.views.export import ExportView
from apps.views.probes import KernelsView, MemoryView, SpectrumView, TokensView
from apps.views.runs import RunControls, RunsView
from apps.views.state import Workbench
from apps.views.training import TrainingView

__all__ = ["ExportView", "KernelsView", "MemoryView", "RunControls", "RunsView", "SpectrumView",
           "TokensView", "TrainingView", "Workbench", "spec_editor"]
