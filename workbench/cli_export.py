"""`workbench export RUN --figure KIND`: a run's publication figure, with its data and spec.

Everything a user can get wrong (run, figure, format, probe, step) is checked before the first
file is written, so an error leaves the output folder as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import SpecError

FIGURES = ("kernels", "spectrum", "memory", "tokens", "training", "selective")  # = plots.figures.KINDS
FORMATS = ("png", "svg", "pdf", "html")  # = plots.export.FORMATS (no holoviews import to build the parser)


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a run's figure as PNG/SVG/PDF/HTML beside its data (.nc) and spec (.json)")
    p.add_argument("run", help="run id, or a run folder inside --runs-dir")
    p.add_argument("--figure", required=True, metavar="KIND", help="one of " + ", ".join(FIGURES))
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="FMT",
        help="one of " + ", ".join(FORMATS) + "; repeatable (default: all)",
    )
    p.add_argument("--step", type=int, default=None, help="a recorded step (default: the latest)")
    p.add_argument("--width", default="double", help="single or double (journal column; default double)")
    p.add_argument("--dpi", type=int, default=200, help="PNG resolution, 50 to 1200 (default 200)")
    p.add_argument("--font", type=int, default=8, help="axis-label size in points, 5 to 16 (default 8)")
    p.add_argument("-o", "--out", default=".", help="output folder (default: the current one)")
    p.add_argument("--runs-dir", default=None, help="run store root (default ./runs or $WORKBENCH_RUNS_DIR)")


def export_command(ns) -> int:
    if ns.figure not in FIGURES:
        raise SpecError("--figure", ns.figure, "one of " + ", ".join(FIGURES))
    formats = ns.formats or list(FORMATS)
    bad = [f for f in formats if f.lower() not in FORMATS]
    if bad:
        raise SpecError("--format", bad[0], "one of " + ", ".join(FORMATS))
    from workbench.plots.composite import figure_options
    from workbench.store.examples import open_readable
    from workbench.store.run import default_root

    options = figure_options(ns.width, ns.dpi, ns.font, names=("--width", "--dpi", "--font"))

    run = open_readable(ns.run, ns.runs_dir or default_root())
    if ns.figure != "training" and ns.figure not in run.probe_names:
        raise SpecError(
            "--figure",
            ns.figure,
            f"a probe recorded by run {run.id}: " + (", ".join(run.probe_names) or "none yet") + ", or training",
        )
    out = Path(ns.out)
    if out.exists() and not out.is_dir():
        raise SpecError("-o", str(out), "a folder (this is a file)")
    existing = next((p for p in [out, *out.absolute().parents] if p.exists()), None)
    if (
        existing is None
        or not existing.is_dir()
        or not os.access(existing, os.W_OK | os.X_OK)
        or str(existing.absolute()).startswith(("/proc", "/sys"))
    ):
        raise SpecError("-o", str(out), "a folder this user can write (or create)")
    from workbench.plots.composite import composite, composite_data, run_data
    from workbench.plots.export import export

    try:  # the same figure as the dashboard's Export of this view at this step
        data, step = ({}, ns.step) if ns.figure == "training" else run_data(run, ns.step)
        fig = composite(ns.figure, data, run.id, step, options, metrics=run.metrics)
    except SpecError as err:  # name the flag the user typed
        if err.field not in ("step", "figure"):
            raise
        raise SpecError(f"--{err.field}", err.value, err.allowed) from None
    data = composite_data(ns.figure, data, run.id, step, metrics=run.metrics)
    stem = out / (f"{run.id}_{ns.figure}" + (f"_step{ns.step}" if ns.step is not None else ""))
    try:
        written = export(fig, stem, formats, data=data, spec=run.spec, dpi=options.dpi)
    except OSError as err:
        raise SpecError("-o", str(out), f"a folder this user can write ({err.strerror or err})") from None
    for f in written:
        print(f)
    return 0
