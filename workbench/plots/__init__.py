"""Plots: HoloViews figure builders from analysis Datasets. Imports holoviews, never panel.

Not imported by `import workbench` (that must stay free of the UI stack); import it explicitly.
"""
from workbench.plots.convergence import legs_convergence_plot
from workbench.plots.lti import OKABE_ITO, eigenvalue_plot, kernel_plot, pole_plot

__all__ = ["OKABE_ITO", "eigenvalue_plot", "kernel_plot", "legs_convergence_plot", "pole_plot"]
