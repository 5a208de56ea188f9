"""Preview latency: the function the dashboard runs on every knob (`workbench.train.probes.preview_run`,
which run probes share), on the default model of the benchmark (target < 50 ms for what a knob waits for).

The default: 2 S4D-Lin layers, H 64, N 64, kernels of length 1024 (the adding task at L 1024).
"Fast half": the closed-form quantities drawn at once on an edit (kernels, spectrum, frequency
response, init audit); "full": everything, with the passes on the probe batch. The peer computes
the fast half's quantities separately (each function on its own, kernels recomputed).
"""

from __future__ import annotations

from benchmarks.harness import measure
from workbench.analysis import frequency_response, init_audit, kernels, spectrum
from workbench.specs import RunSpec
from workbench.train.build import build_run_model
from workbench.train.probes import preview_run

FAST, FULL, SEPARATE = (
    "dashboard preview, fast half (build + closed forms)",
    "dashboard preview, full",
    "fast-half quantities each computed separately",
)


def spec(L: int) -> RunSpec:
    return RunSpec.from_dict(
        {
            "model": {"layer": "s4d", "d_model": 64, "n_layers": 2},
            "ssm": {"d_state": 64},
            "task": {"name": "adding", "seq_len": L},
        }
    )


def build(L, impl):
    run = spec(L)

    def fast():
        preview_run(run, fast_only=True)

    def full():
        preview_run(run)

    def separate():
        m = build_run_model(run).eval()
        kernels(m, L), spectrum(m), frequency_response(m, length=L), init_audit(m)

    return {FAST: fast, FULL: full, SEPARATE: separate}[impl]


def run(quick: bool = False) -> list[dict]:
    res = measure("benchmarks.preview", (1024,), [FAST, FULL, SEPARATE], repeats=5 if quick else 15)
    case = "preview of the default model (2×S4D, H64, N64, L1024)"
    fast, full, sep = res[FAST], res[FULL], res[SEPARATE]
    return [
        {
            "case": case,
            "impl": FAST,
            "median_s": fast["median_s"],
            "peak_mb": fast["peak_mb"],
            "target": "< 50 ms",
            "met": fast["median_s"] < 0.05,
        },
        {"case": case, "impl": FULL, "median_s": full["median_s"], "peak_mb": full["peak_mb"]},
        {
            "case": case,
            "impl": SEPARATE,
            "median_s": sep["median_s"],
            "peak_mb": sep["peak_mb"],
            "vs": "workbench",
            "ratio": sep["median_s"] / fast["median_s"],
        },
    ]
