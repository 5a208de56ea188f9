"""Runs record hidden attention (bounded) at every probe step, equal to `hidden_attention` on the
checkpoint of that step; the Tokens view draws it for the run, or says why a run has none."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from run_fixtures import trained_mamba_run  # noqa: E402

from workbench.analysis.selective import hidden_attention  # noqa: E402
from workbench.specs import ModelSpec, RunSpec  # noqa: E402
from workbench.ssm.model import build_model  # noqa: E402
from workbench.tasks import test_batches  # noqa: E402
from workbench.train import probes  # noqa: E402
from workbench.train.checkpoints import load_model  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_mamba_run(tmp_path_factory.mktemp("runs"), 4, steps=4, every=2)


def test_run_records_bounded_attention_equal_to_a_direct_computation(run):
    assert run.probe_steps("attention") == [0, 2, 4]
    rec = run.probe("attention")
    batch = next(iter(test_batches(RunSpec.from_dict(run.spec).task, 4).values()))
    for step in (2, 4):
        direct = hidden_attention(load_model(run, step), batch.inputs[:1])  # (layer, channel, L, L), full size
        at = rec.sel(step=step)
        assert at.sizes["channel"] == probes.ATTENTION_GROUPS < direct.sizes["channel"]
        for var in ("alpha", "alpha_minmax"):
            want = direct[var].isel(channel=slice(0, probes.ATTENTION_GROUPS)).values
            np.testing.assert_allclose(at[var].values, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(rec["alpha"].sel(step=0).values, rec["alpha"].sel(step=4).values)  # it moves


def test_the_stored_corner_is_the_full_matrix_corner(monkeypatch):
    """Causal mixers: α_ij (i, j < n) on the first n tokens is the corner of the full-length matrix."""
    torch.manual_seed(0)
    m = build_model(ModelSpec(layer="mamba", d_model=4, n_layers=2, vocab_size=6)).eval()
    x = torch.randint(0, 6, (2, 24))
    monkeypatch.setattr(probes, "ATTENTION_LENGTH", 10)
    got = probes.bounded_attention(m, x)["attention"]
    full = hidden_attention(m, x[:1])["alpha"].values[:, :4, :10, :10]
    assert got["alpha"].dtype == np.float32 and got.sizes["target"] == got.sizes["source"] == 10
    np.testing.assert_allclose(got["alpha"].values, full, rtol=1e-5, atol=1e-7)
    assert "first 10 tokens" in got.attrs["stored"]
    s4d = build_model(ModelSpec(layer="s4d", d_model=4, vocab_size=6)).eval()
    assert probes.bounded_attention(s4d, x) == {}  # no mixing matrix: nothing recorded


def test_tokens_view_draws_a_runs_attention_and_says_why_an_old_run_has_none(run, monkeypatch):
    import holoviews as hv

    from apps.views import Workbench
    from apps.views.probes import TokensView

    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(run.path.parent))
    state = Workbench()
    state.select_run(run.id)
    view = TokensView(state)
    fig = view.shown("attention")
    assert isinstance(fig, hv.Image) and "Hidden attention" in fig.opts.get().kwargs["title"]
    assert "first 4 channels" in view.note()
    # a run made before runs recorded it: the reason, not "not available for this model"
    state.data = {k: v for k, v in state.data.items() if k != "attention"}
    state.changed = {"attention"}
    state.version += 1
    texts = [e for e in view.shown("attention") if isinstance(e, hv.Text)]
    assert texts and "recorded by runs made since" in texts[0].text
