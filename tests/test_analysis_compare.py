"""Comparing runs: mean ± spread over a group's runs (checked against numpy by hand), a final
metric against a field, and legend labels that tell the selected runs apart."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from workbench.analysis.compare import final_by_field, group_curves, short_labels


def metrics(steps, values):
    return xr.Dataset({"loss": ("step", np.asarray(values, float))}, coords={"step": steps})


def test_group_curves_mean_and_spread_at_the_steps_every_run_has():
    runs = {
        "a": metrics([0, 10, 20, 30], [4.0, 3.0, 2.0, 1.0]),
        "b": metrics([0, 10, 20], [2.0, 1.0, np.nan]),  # a NaN step is not a step this run has
        "c": metrics([0, 10], [9.0, 8.0]),
    }
    ds = group_curves(runs, {"a": "s4d", "b": "s4d", "c": "mamba"}, "loss")
    assert list(ds.group.values) == ["mamba", "s4d"] and list(ds.step.values) == [0, 10, 20, 30]
    s4d = ds.sel(group="s4d")
    np.testing.assert_allclose(s4d["mean"].values[:2], [3.0, 2.0])
    np.testing.assert_allclose(s4d["std"].values[:2], [1.0, 1.0])  # population std of (4, 2) and (3, 1)
    assert np.isnan(s4d["mean"].values[2:]).all()  # b stops at 10: the group's curve stops there
    np.testing.assert_allclose(s4d["lo"].values[:2], [2.0, 1.0])
    np.testing.assert_allclose(ds.sel(group="mamba")["mean"].values[:2], [9.0, 8.0])
    assert ds["n"].sel(group="s4d") == 2 and ds.attrs["metric"] == "loss"


def test_group_curves_skips_runs_without_the_metric():
    ds = group_curves({"a": metrics([0], [1.0]), "b": None}, {"a": 1, "b": 1}, "loss")
    assert ds["n"].values.tolist() == [1]
    assert group_curves({"a": metrics([0], [1.0])}, {"a": 1}, "acc").sizes["group"] == 0


def test_final_by_field_numeric_and_categorical():
    rows = pd.DataFrame(
        {
            "ssm.d_state": [16, 16, 64, 4],
            "model.layer": ["s4d", "mamba", "mamba", "s4d"],
            "final.acc": [0.5, 0.7, 0.9, np.nan],
        }
    )
    ds = final_by_field(rows, "ssm.d_state", "acc")
    assert ds.attrs["numeric"] == 1 and list(ds.value.values) == [16, 64]  # 4 has no final value
    np.testing.assert_allclose(ds["mean"], [0.6, 0.9])
    np.testing.assert_allclose(ds["std"], [0.1, 0.0])
    assert ds["n"].values.tolist() == [2, 1]
    cat = final_by_field(rows, "model.layer", "final.acc")
    assert list(cat.value.values) == ["mamba", "s4d"] and cat.attrs["numeric"] == 0
    with pytest.raises(KeyError, match="final.loss"):
        final_by_field(rows, "model.layer", "loss")


def test_short_labels():
    rows = pd.DataFrame(
        {
            "id": ["20261201-1-x-aaaa", "20261201-2-x-bbbb"],
            "name": ["x", "x"],
            "model.layer": ["mamba", "s4d"],
            "train.seed": [0, 0],
        }
    )
    assert short_labels(rows) == {"20261201-1-x-aaaa": "layer=mamba", "20261201-2-x-bbbb": "layer=s4d"}
    named = rows.assign(name=["fast", "slow"])
    assert set(short_labels(named).values()) == {"fast", "slow"}
    common = rows.assign(name=["selective-copying: mamba", "selective-copying: mamba2"])
    assert set(short_labels(common).values()) == {"mamba", "mamba2"}  # cut at the word boundary
    same = rows.assign(**{"model.layer": ["s4d", "s4d"]})
    assert set(short_labels(same).values()) == {"aaaa", "bbbb"}
    seeds = same.assign(**{"model.seed": [0, 1], "train.seed": [1, 0]})  # two fields named seed
    assert short_labels(seeds)["20261201-1-x-aaaa"] == "model.seed=0, train.seed=1"
