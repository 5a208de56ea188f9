"""Everything the untrained-model preview shows, computed once (the kernels are shared)."""
from __future__ import annotations

import xarray as xr

from workbench.analysis.audit import init_audit
from workbench.analysis.kernels import kernels, response_from_kernels, spectrum
from workbench.analysis.memory import memory_function


def preview(model, length: int) -> dict[str, xr.Dataset]:
    """{kernels, spectrum, frequency_response, memory_function, init_audit} of an LTI model."""
    k = kernels(model, length)
    return {"kernels": k, "spectrum": spectrum(model), "frequency_response": response_from_kernels(model, k),
            "memory_function": memory_function(model, length), "init_audit": init_audit(model)}
