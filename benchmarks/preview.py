"""Preview latency: every quantity the dashboard shows for the untrained default model (target < 50 ms).

The default dashboard model: 2 S4D-Lin layers, H 64, N 64, kernels of length 1024. The peer is
computing the same quantities separately (each function on its own, kernels recomputed).
"""
from __future__ import annotations

from benchmarks.harness import measure
from workbench.analysis import frequency_response, init_audit, kernels, memory_function, preview, spectrum
from workbench.specs import ModelSpec, SSMSpec
from workbench.ssm.model import build_model

SHARED, SEPARATE = "workbench preview (build + all quantities)", "each function separately"


def build(L, impl):
    def shared():
        preview(build_model(ModelSpec(), SSMSpec(d_state=64)), L)

    def separate():
        m = build_model(ModelSpec(), SSMSpec(d_state=64))
        kernels(m, L), spectrum(m), frequency_response(m, length=L), memory_function(m, L), init_audit(m)
    return {SHARED: shared, SEPARATE: separate}[impl]


def run(quick: bool = False) -> list[dict]:
    res = measure("benchmarks.preview", (1024,), [SHARED, SEPARATE], repeats=5 if quick else 15)
    case = "preview of the default model (2×S4D, H64, N64, L1024)"
    ours, sep = res[SHARED], res[SEPARATE]
    return [{"case": case, "impl": SHARED, "median_s": ours["median_s"], "peak_mb": ours["peak_mb"],
             "target": "< 50 ms", "met": ours["median_s"] < 0.05},
            {"case": case, "impl": SEPARATE, "median_s": sep["median_s"], "peak_mb": sep["peak_mb"],
             "vs": "workbench", "ratio": sep["median_s"] / ours["median_s"]}]
