"""One figure path: the dashboard's Export and `workbench export` write the same files for the same
run, step and view, and the options (width, DPI, font size) are validated with one clear error."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from run_fixtures import trained_mamba_run  # noqa: E402

from apps.views import ExportView, KernelsView, Workbench  # noqa: E402
from apps.views.probes import MemoryView  # noqa: E402
from workbench.cli import main  # noqa: E402
from workbench.errors import SpecError  # noqa: E402
from workbench.plots.composite import composite, figure_options, run_data  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_mamba_run(tmp_path_factory.mktemp("runs"), 8, steps=6, every=3)


def _svg_structure(path: Path) -> list:
    """(tag, attributes other than ids) of every SVG element, in document order."""
    return [
        (el.tag, tuple(sorted((k, v) for k, v in el.attrib.items() if k != "id")))
        for el in ET.parse(path).getroot().iter()
    ]


@pytest.mark.slow
def test_dashboard_and_cli_write_the_same_figures(run, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(run.path.parent))
    state = Workbench()
    state.select_run(run.id)
    state.follow_latest = False
    state.step = 3
    views = {v.title: v for v in (KernelsView(state), MemoryView(state))}
    for title, kind in (("Kernels", "kernels"), ("Memory", "memory")):
        export = ExportView(state, views, view=title, formats=["png", "svg"], width="single", dpi=120, font=7)
        board = {p.suffix: p for p in export.files(tmp_path / "board")}
        out = tmp_path / "cli"
        argv = ["export", run.id, "--figure", kind, "--step", "3", "-o", str(out), "--runs-dir", str(run.path.parent)]
        assert (
            main(argv + ["--format", "png", "--format", "svg", "--width", "single", "--dpi", "120", "--font", "7"]) == 0
        )
        cli = {p.suffix: p for p in out.glob(f"{run.id}_{kind}_step3.*")}
        png, png_cli = board[".png"].read_bytes(), cli[".png"].read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == png_cli
        width_px = int.from_bytes(png[16:20], "big")
        assert abs(width_px - 3.5 * 120) < 0.2 * 3.5 * 120  # one journal column at 120 dpi
        assert board[".svg"].read_bytes() == cli[".svg"].read_bytes()
        assert _svg_structure(board[".svg"]) == _svg_structure(cli[".svg"])
        assert b"<dc:date>" not in board[".svg"].read_bytes()  # no creation date: a re-export is the same file
        titles = re.findall(r"<!-- (.*?) -->", board[".svg"].read_text(), re.S)
        assert any(run.id in t for t in titles) and any("step 3" in t for t in titles)


def test_every_panel_titled_with_run_and_step_and_empty_ones_left_out(run):
    data, step = run_data(run, 3)
    fig = composite("memory", data, run.id, step)
    titles = [p.opts.get("plot", backend="matplotlib").kwargs["title"] for p in fig]
    assert titles and all(t.endswith(f"{run.id}\nstep 3") for t in titles)
    # a token model has no memory function ρ(t): no panel for it (not an empty one with a message)
    assert not any("ρ" in t for t in titles) and any("Gradient memory" in t for t in titles)
    mpl = {t.split("\n")[0]: p.opts.get("plot", backend="matplotlib").kwargs for t, p in zip(titles, fig)}
    grad = next(v for k, v in mpl.items() if k.startswith("Gradient"))
    assert grad["logx"] and grad["logy"] and "lag" in grad["xlabel"] and grad["xlabel"] != "x"
    heat = next(p for p in fig if p.__class__.__name__ == "Image")
    assert heat.opts.get("plot", backend="matplotlib").kwargs["colorbar"]
    hist = next(p for p in fig if "Half-lives" in p.opts.get("plot", backend="matplotlib").kwargs["title"])
    alphas = [h.opts.get("style", backend="matplotlib").kwargs["alpha"] for h in hist]
    assert len(alphas) == 2 and all(0 < a < 1 for a in alphas)  # two layers, seen through each other
    pre = composite("kernels", data, "preview", None)
    assert all(p.opts.get("plot", backend="matplotlib").kwargs["title"].endswith("\npreview") for p in pre)


@pytest.mark.parametrize(
    "kw, field",
    [
        (dict(width="triple"), "width"),
        (dict(dpi=10), "dpi"),
        (dict(dpi=200.5), "dpi"),
        (dict(font=40), "font"),
        (dict(font=True), "font"),
    ],
)
def test_options_are_validated(kw, field):
    with pytest.raises(SpecError) as err:
        figure_options(**kw)
    assert err.value.field == field and str(list(kw.values())[0]) in str(err.value)


def test_cli_rejects_bad_options_writing_nothing(run, tmp_path, capsys):
    out = tmp_path / "o"
    for flag, value in (("--width", "wide"), ("--dpi", "5"), ("--font", "99")):
        argv = ["export", run.id, "--figure", "kernels", "-o", str(out), "--runs-dir", str(run.path.parent)]
        code = main(argv + [flag, value])
        err = capsys.readouterr().err
        assert code == 2 and flag in err and value in err and "Traceback" not in err
    assert not out.exists()
    assert np.isfinite(run.metrics["loss"].values).any()
