"""The shipped example runs at the CLI: `runs` lists them beside the store's (or not, with
--no-examples; flagged in --json), `show` and `export` open them by id, and commands that write
(eval, resume, delete) stay inside the runs root, so an example is never touched."""

import hashlib
import json

import pytest

from workbench.cli import main
from workbench.store.examples import EXAMPLES, example_ids, example_runs

pytestmark = pytest.mark.skipif(not example_ids(), reason="no data/example_runs in this checkout")


def _digest() -> str:
    h = hashlib.sha256()
    for p in sorted(EXAMPLES.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_runs_lists_examples_after_the_store(tmp_path, capsys):
    root = str(tmp_path / "runs")
    assert main(["runs", "--runs-dir", root]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no runs in ") and "shipped example runs" in out
    assert all(i in out for i in example_ids())
    assert main(["runs", "--runs-dir", root, "--no-examples"]) == 0
    assert not any(i in capsys.readouterr().out for i in example_ids())
    assert main(["runs", "--runs-dir", root, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == set(example_ids()) and all(r["example"] is True for r in rows)


def test_runs_filters_apply_to_examples(tmp_path, capsys):
    layers = {r["model.layer"] for r in example_runs()}
    one = sorted(layers)[0]
    assert main(["runs", "--runs-dir", str(tmp_path), "--where", f"layer={one}", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["model.layer"] for r in rows} == {one}
    assert main(["runs", "--runs-dir", str(tmp_path), "--where", "layer=no-such-layer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.slow  # renders a figure
def test_show_and_export_open_an_example_by_id_and_write_nothing_there(tmp_path, capsys):
    before = _digest()
    rid = example_ids()[0]
    assert main(["show", rid, "--runs-dir", str(tmp_path / "runs")]) == 0
    assert capsys.readouterr().out.startswith(rid)
    out = tmp_path / "figs"
    assert main(["export", rid, "--figure", "kernels", "--format", "png", "-o", str(out)]) == 0
    assert sorted(p.suffix for p in out.iterdir()) == [".json", ".nc", ".png"]
    assert main(["eval", rid, "--lengths", "64", "--runs-dir", str(tmp_path / "runs")]) == 2  # writes: store only
    assert "an existing run under" in capsys.readouterr().err
    assert _digest() == before
