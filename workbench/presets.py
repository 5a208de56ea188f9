"""Presets: small configurations that show what a paper shows, sized for a laptop CPU.

A preset is a YAML file in `data/presets/`: a `base` spec shared by its runs, the `runs` to
compare (each a partial spec laid over the base), the `metric` that separates them and the
order the paper predicts (`expect`, best first). `quick` is a one-run preset: the defaults of
`workbench train` and of the dashboard's editor, so the two start from the same spec.

No torch here (specs only): the CLI's `--help` and the dashboard read presets without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import SpecError
from workbench.specs import RunSpec


def _presets_dir() -> Path:
    """data/presets in a source checkout; `workbench_presets` beside the package when installed."""
    beside = Path(__file__).resolve().parent.parent
    for folder in (beside / "data" / "presets", beside / "workbench_presets"):
        if folder.is_dir():
            return folder
    return beside / "data" / "presets"  # absent: load_preset names what exists (nothing)


PRESETS_DIR = _presets_dir()
DEFAULT = "quick"
KEYS = ("title", "paper", "shows", "metric", "better", "normalize", "expect", "budget_s", "base", "runs")


@dataclass
class Preset:
    name: str
    title: str
    paper: str
    shows: str
    metric: str  # the metrics key that separates the runs, e.g. test/acc
    better: str  # "higher" or "lower": which way the metric improves
    normalize: str  # "" or "target_power": compare mse / E[y²] of the held-out targets (tasks of different scale)
    expect: list[str]  # run labels, best first, as the paper predicts
    budget_s: float  # wall time of all runs on a 2-core CPU, as measured when the preset was tuned
    base: dict
    runs: dict[str, dict] = field(default_factory=dict)

    def run_dict(self, label: str, overrides: dict | None = None) -> dict:
        """The nested spec dict of run `label`: base, then the run's own fields, then `overrides`."""
        if label not in self.runs:
            raise SpecError("--preset-run", label, f"one of the runs of preset {self.name!r}: {', '.join(self.runs)}")
        return merge(merge(self.base, self.runs[label]), overrides or {})

    def run_specs(self, overrides: dict | None = None) -> list[tuple[str, RunSpec]]:
        """[(label, validated RunSpec)] for every run, named '<preset>: <label>'."""
        return [
            (label, RunSpec.from_dict(self.run_dict(label, overrides), name=f"{self.name}: {label}"))
            for label in self.runs
        ]

    def separates(self, finals: dict[str, dict]) -> bool | None:
        """Whether final metrics {label: {metric: value}} come out in the expected order (None: not all there)."""
        vals = [finals.get(label, {}).get(self.metric) for label in self.expect]
        if len(vals) < 2 or any(v is None for v in vals):
            return None
        sign = 1 if self.better == "higher" else -1
        return all(sign * (a - b) > 0 for a, b in zip(vals, vals[1:]))


def merge(a: dict, b: dict) -> dict:
    """Nested dict merge: b's leaves win; neither input changes."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in a.items()}
    for k, v in b.items():
        out[k] = merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k, {}), dict) else v
    return out


def preset_names() -> list[str]:
    """Shipped presets, `quick` first."""
    names = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
    return sorted(names, key=lambda n: n != DEFAULT)


def load_preset(name: str) -> Preset:
    """Read and check a preset (by name, or a path to a YAML file); every run must validate."""
    import yaml

    path = Path(name) if str(name).endswith((".yaml", ".yml")) else PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise SpecError("--preset", name, "one of " + ", ".join(preset_names()) + " (or a path to a preset's YAML)")
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SpecError("--preset", str(path), f"valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(d, dict):
        raise SpecError("--preset", str(path), "a YAML mapping with " + ", ".join(KEYS))
    for k in d:
        if k not in KEYS:
            raise SpecError(f"preset {path.stem}: {k}", d[k], "one of the preset keys " + ", ".join(KEYS))
    runs = d.get("runs") or {path.stem: {}}
    if not isinstance(runs, dict):
        raise SpecError(f"preset {path.stem}: runs", runs, "a mapping of run label to partial spec")
    expect = list(d.get("expect") or [])
    for label in expect:
        if label not in runs:
            raise SpecError(f"preset {path.stem}: expect", label, "labels of its runs: " + ", ".join(runs))
    better = d.get("better", "higher")
    if better not in ("higher", "lower"):
        raise SpecError(f"preset {path.stem}: better", better, "higher or lower")
    normalize = d.get("normalize", "") or ""
    if normalize not in ("", "target_power"):
        raise SpecError(f"preset {path.stem}: normalize", normalize, "target_power, or leave it out")
    p = Preset(
        name=path.stem,
        title=str(d.get("title", path.stem)),
        paper=str(d.get("paper", "")),
        shows=str(d.get("shows", "")).strip(),
        metric=str(d.get("metric", "")),
        better=better,
        normalize=normalize,
        expect=expect,
        budget_s=float(d.get("budget_s", 0)),
        base=d.get("base") or {},
        runs=runs,
    )
    p.run_specs()  # every run validates now, not when it is about to train
    return p


def default_run() -> RunSpec:
    """The one default spec of the CLI and the dashboard: the `quick` preset's run."""
    p = load_preset(DEFAULT)
    return p.run_specs()[0][1]


def default_run_dict() -> dict:
    p = load_preset(DEFAULT)
    return p.run_dict(next(iter(p.runs)))
