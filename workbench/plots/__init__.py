"""Plots: HoloViews figure builders from analysis Datasets. Imports holoviews, never panel.

Not imported by `import workbench` (that must stay free of the UI stack); import it explicitly.
"""

from workbench.plots.convergence import legs_convergence_plot
from workbench.plots.export import export, open_data
from workbench.plots.figures import (
    figure_for_run,
    kernels_figure,
    memory_figure,
    selective_figure,
    spectrum_figure,
    tokens_figure,
    training_figure,
)
from workbench.plots.lti import OKABE_ITO, eigenvalue_plot, kernel_plot, pole_plot

__all__ = [
    "export",
    "open_data",
    "figure_for_run",
    "kernels_figure",
    "memory_figure",
    "selective_figure",
    "spectrum_figure",
    "tokens_figure",
    "training_figure",
    "OKABE_ITO",
    "eigenvalue_plot",
    "kernel_plot",
    "legs_convergence_plot",
    "pole_plot",
]
