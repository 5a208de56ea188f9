"""Publication export: every format is what it claims, data and spec round-trip, the CLI fails cleanly."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import holoviews as hv
import numpy as np
import pytest
import xarray as xr

from workbench.cli import main
from workbench.errors import SpecError
from workbench.plots import export, figure_for_run, memory_figure, open_data, training_figure
from workbench.plots.export import to_netcdf3
from workbench.specs import RunSpec
from workbench.store import RunWriter, open_run
from workbench.train import runner
from workbench.train.worker import run_worker

CDN = ("cdn.bokeh.org", "cdn.holoviz", "unpkg", "jsdelivr")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny trained Mamba run: every probe kind, metrics with train/test names."""
    root = tmp_path_factory.mktemp("runs")
    spec = RunSpec.from_dict(
        {
            "model": {"layer": "mamba", "d_model": 8, "n_layers": 2},
            "task": {"name": "selective-copying", "noise_len": 8, "n_data": 4},
            "train": dict(steps=6, batch=4, probe_every=3, eval_every=3, checkpoint_every=3, warmup=1, threads=1),
        }
    )
    run_worker(runner.create(spec, root))
    return open_run(next(p for p in root.iterdir() if p.is_dir()))


def _html_without_bokehjs(html: str) -> str:
    """The page minus the inline <script> bodies that are BokehJS bundles (their code names a MathJax
    CDN it would fetch only for LaTeX labels, which these figures do not use)."""
    return re.sub(r"<script>\s*/\* BEGIN bokeh[\s\S]*?</script>", "", html)


@pytest.mark.slow  # six renderers, matplotlib's among them
def test_every_format(run, tmp_path):
    fig, data = figure_for_run(run, "spectrum")
    hv.Store.set_current_backend("bokeh")
    files = export(fig, tmp_path / "out" / "spectrum", data=data, spec=run.spec)
    assert hv.Store.current_backend == "bokeh"  # the matplotlib export did not switch it
    assert [f.suffix for f in files] == [".png", ".svg", ".pdf", ".html", ".nc", ".json"]
    png, svg, pdf, html, nc, js = files
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    assert ET.parse(svg).getroot().tag.endswith("svg")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
    page = html.read_text()
    assert "BEGIN bokeh.min.js" in page and "Bokeh.embed" in page  # BokehJS inline, the plot embedded
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)  # nothing loaded from elsewhere
    rest = _html_without_bokehjs(page)
    assert not [c for c in CDN if c in rest] and not re.search(r"https?://(?!www\.w3\.org)", rest)
    back = open_data(nc)
    for name in data.variables:
        assert back[name].dims == data[name].dims and back[name].dtype == data[name].dtype
        np.testing.assert_allclose(back[name].values, data[name].values)
    plain = xr.open_dataset(nc, engine="scipy")  # readable without workbench too
    np.testing.assert_allclose(plain["pole_abs"].values, data["pole_abs"].values)
    assert RunSpec.from_dict(json.loads(js.read_text())).to_dict() == RunSpec.from_dict(run.spec).to_dict()


@pytest.mark.parametrize(
    "kind",
    ["kernels", "memory", *(pytest.param(k, marks=pytest.mark.slow) for k in ("tokens", "training", "selective"))],
)
def test_each_figure_renders_on_both_backends(run, kind):
    fig, data = figure_for_run(run, kind)
    assert isinstance(fig, hv.Layout)
    hv.renderer("matplotlib").get_plot(fig)
    hv.renderer("bokeh").get_plot(fig)
    for panel in fig:
        mpl = hv.Store.lookup_options("matplotlib", panel, "plot").kwargs
        assert mpl["xlabel"] and mpl["ylabel"] and mpl["fontsize"]["labels"] == 10
        assert hv.Store.lookup_options("bokeh", panel, "plot").kwargs["width"] == 450
    if kind == "memory":  # gradient memory of a token model: log-log
        mpl = hv.Store.lookup_options("matplotlib", list(fig)[0], "plot").kwargs
        assert mpl["logx"] and mpl["logy"]


def test_steps_and_bad_input(run, tmp_path):
    steps = run.probe("kernels")["step"].values.tolist()
    assert steps == [0, 3, 6]
    _, data = figure_for_run(run, "kernels", step=3)
    assert int(data["step"]) == 3
    with pytest.raises(SpecError, match="step=4"):
        figure_for_run(run, "kernels", step=4)
    with pytest.raises(SpecError, match="figure"):
        figure_for_run(run, "poles")
    with pytest.raises(SpecError, match="formats"):
        export(training_figure(run.metrics), tmp_path / "x", formats=("png", "gif"))
    with pytest.raises(SpecError, match="memory data"):
        memory_figure(run.metrics)
    assert not list(tmp_path.iterdir())


def test_netcdf_round_trip_of_what_netcdf3_cannot_hold(tmp_path):
    ds = xr.Dataset(
        {
            "z": ("a", np.array([1 + 2j, 3 - 1j])),
            "flag": ("a", np.array([True, False])),
            "big": ("a", np.array([1, 2**40])),
            "test/acc": ("a", [0.5, 1.0]),
        },
        coords={"a": np.array([0, 1], dtype=np.int64)},
        attrs={"on": True, "d": {"x": 1}, "eigs": [1, 2.5], "huge": 2**40, "s": "ρ(t) Ā"},
    )
    to_netcdf3(ds).to_netcdf(tmp_path / "d.nc", engine="scipy")
    back = open_data(tmp_path / "d.nc")
    assert set(back.variables) == set(ds.variables)
    for n in ds.variables:
        assert back[n].dtype == ds[n].dtype and (back[n].values == ds[n].values).all()
    assert back.attrs == ds.attrs


def test_cli_export(run, tmp_path, capsys):
    out = tmp_path / "figs"
    assert (
        main(
            [
                "export",
                str(run.path),
                "--figure",
                "kernels",
                "--format",
                "png",
                "--format",
                "html",
                "--step",
                "3",
                "-o",
                str(out),
                "--runs-dir",
                str(run.path.parent),
            ]
        )
        == 0
    )  # a folder inside the root
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{run.id}_kernels_step3.{x}" for x in ("html", "json", "nc", "png")]
    assert capsys.readouterr().out.count("\n") == 4


def test_cli_errors_write_nothing(run, tmp_path, capsys):
    bare = RunWriter.create(RunSpec().to_dict(), "no probes", tmp_path / "runs")  # metrics, no probe yet
    bare.log_metrics(1, {"loss": 1.0})
    bare.close()
    out = tmp_path / "figs"
    inside = ["--runs-dir", str(run.path.parent)]
    cases = {
        "--figure='poles'": [str(run.path), *inside, "--figure", "poles"],
        "--format='gif'": [str(run.path), *inside, "--figure", "kernels", "--format", "gif"],
        "--step=4": [str(run.path), *inside, "--figure", "kernels", "--step", "4"],
        "--step=99": [str(run.path), *inside, "--figure", "training", "--step", "99"],
        "run=": [str(run.path), "--figure", "training"],  # a folder outside the default root
        "--figure='tokens'": [bare.id, "--runs-dir", str(tmp_path / "runs"), "--figure", "tokens"],
        "run='missing-run'": ["missing-run", "--runs-dir", str(tmp_path / "runs"), "--figure", "kernels"],
    }
    for expect, args in cases.items():
        assert main(["export", *args, "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expect in err and "Traceback" not in err, err
    assert not out.exists()


def test_publication_style(run):
    """Series differ in colour and line style; many token curves are one legend entry; log axes read 0.5, 2."""
    from workbench.plots.publication import broken

    lin = list(figure_for_run(run, "kernels")[0])[0]
    styles = [
        tuple(hv.Store.lookup_options("matplotlib", c, "style").kwargs[k] for k in ("color", "linestyle")) for c in lin
    ]
    assert len(styles) > 1 and len({s[0] for s in styles}) == len({s[1] for s in styles}) == len(styles)
    norms, traj = list(figure_for_run(run, "tokens")[0])
    assert [type(e).__name__ for e in traj] == ["Curve", "Scatter", "Scatter"]  # not one Curve per token
    assert len(norms) == 2 and hv.Store.lookup_options("matplotlib", norms, "plot").kwargs["xticks"] == [0, 1, 2]
    x, y = broken([[0, 1], [0, 1]], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(np.isnan(x), [False, False, True, False, False])
    panel = list(figure_for_run(run, "memory")[0])[0]
    plot = hv.renderer("matplotlib").get_plot(panel)
    plot.state.canvas.draw()
    ax = plot.handles["axis"]
    labels = [t.get_text() for t in ax.yaxis.get_ticklabels() + ax.yaxis.get_ticklabels(minor=True) if t.get_text()]
    assert labels and not [t for t in labels if "times" in t or "×" in t], labels
