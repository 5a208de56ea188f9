"""Analysis: pure functions from a layer or model to an `xarray.Dataset` with named dims. No plotting."""
from workbench.analysis.lti import layer_kernels, layer_spectrum, legs_convergence

__all__ = ["layer_kernels", "layer_spectrum", "legs_convergence"]
