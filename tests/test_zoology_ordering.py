"""Zoology Fig. 2's ordering checked on a table of runs: each claim can hold or fail."""

import pandas as pd
import pytest

from workbench.analysis.state_size import zoology_ordering


def _table(acc):
    """(layer, d_model) -> accuracy; state sizes by hand: s4d H·16, mamba 2H·16, attention 2·64·H."""
    size = {"s4d": lambda d: 16 * d, "mamba": lambda d: 32 * d, "attention": lambda d: 128 * d}
    return pd.DataFrame(
        [{"layer": k, "d_model": d, "state_size": size[k](d), "accuracy": a} for (k, d), a in acc.items()]
    )


def test_the_papers_ordering_holds():
    acc = {("s4d", 16): 0.1, ("s4d", 32): 0.2, ("mamba", 16): 0.5, ("mamba", 32): 0.7}
    checks = zoology_ordering(_table({**acc, ("attention", 16): 0.9, ("attention", 32): 0.99}))
    assert checks.holds.all()
    assert checks.claim.value_counts().to_dict() == {
        "attention best": 2,
        "rises with state size": 3,
        "gated > LTI at equal state size": 1,  # mamba d 16 (512) against s4d d 32 (512) only
    }
    pair = checks[checks.claim.str.startswith("gated")].iloc[0]
    assert pair["where"] == "mamba d 16 (512) vs s4d d 32 (512)" and pair.ours == "0.500 vs 0.200"


def test_each_claim_can_fail():
    acc = {("s4d", 16): 0.3, ("s4d", 32): 0.6, ("mamba", 16): 0.5, ("mamba", 32): 0.4, ("attention", 16): 0.2}
    checks = zoology_ordering(_table(acc)).set_index("where")
    assert not checks.loc["d 16", "holds"]  # attention 0.2 < mamba 0.5
    assert not checks.loc["mamba d 16 (512) vs s4d d 32 (512)", "holds"]  # 0.5 < 0.6
    assert not checks.loc["mamba", "holds"] and checks.loc["s4d", "holds"]  # mamba drops 0.5 -> 0.4


def _configs(acc):
    """(layer, d_model, d_state, heads) -> accuracy, state sizes from state_elements (L 32)."""
    from workbench.analysis.state_size import state_elements
    from workbench.specs import ModelSpec, SSMSpec, default_ssm

    rows = []
    for (k, d, n, h), a in acc.items():
        ssm = SSMSpec(**{**default_ssm(k).to_dict(), "d_state": n}) if k in ("s4d", "mamba") else None
        size = state_elements(ModelSpec(layer=k, d_model=d, heads=h), ssm, 32)
        rows.append({"layer": k, "d_model": d, "d_state": n, "heads": h, "state_size": size, "accuracy": a})
    return pd.DataFrame(rows)


MAMBA_AXES = {
    ("mamba", 16, 16, 2): 0.27,  # 512: the width axis' small Mamba recalls nothing
    ("mamba", 32, 16, 2): 0.28,  # 1024
    ("mamba", 64, 16, 2): 1.0,  # 2048
    ("mamba", 64, 4, 2): 0.77,  # 512 again, at d 64 with N 4
    ("mamba", 64, 8, 2): 0.86,  # 1024
    ("s4d", 16, 16, 2): 0.24,  # 256
    ("s4d", 32, 16, 2): 0.275,  # 512
    ("s4d", 64, 16, 2): 0.29,  # 1024
    ("s4d", 64, 4, 2): 0.25,  # 256
    ("s4d", 64, 8, 2): 0.27,  # 512
    ("gla", 64, 16, 8): 0.29,  # 512: eight heads of 8
    ("gla", 64, 16, 4): 0.38,  # 1024
    ("gla", 64, 16, 2): 0.99,  # 2048
}


def test_gated_against_lti_compares_each_layers_best_configuration_at_a_state_size():
    """Two configurations reach Mamba's 512 (d 16 N 16 and d 64 N 4) and two reach S4D's (d 32 N 16 and
    d 64 N 8): each layer's best one is compared, and every axis a layer was run on is a "rises" series."""
    checks = zoology_ordering(_configs(MAMBA_AXES))
    gated = checks[checks.claim.str.startswith("gated")].set_index("where").ours.to_dict()
    assert gated == {
        "mamba d 64 N 4 (512) vs s4d d 32 N 16 (512)": "0.770 vs 0.275",
        "mamba d 64 N 8 (1024) vs s4d d 64 N 16 (1024)": "0.860 vs 0.290",
        "gla d 64 8 heads (512) vs s4d d 32 N 16 (512)": "0.290 vs 0.275",
        "gla d 64 4 heads (1024) vs s4d d 64 N 16 (1024)": "0.380 vs 0.290",
    }
    rises = checks[checks.claim == "rises with state size"].set_index("where").ours.to_dict()
    assert rises == {
        "gla": "0.290 → 0.380 → 0.990",  # heads 8 → 4 → 2, in order of state size; its only axis
        "mamba by width": "0.270 → 0.280 → 1.000",
        "mamba by N at d 64": "0.770 → 0.860 → 1.000",
        "s4d by width": "0.240 → 0.275 → 0.290",
        "s4d by N at d 64": "0.250 → 0.270 → 0.290",
    }
    assert checks.holds.all()
    # without the d 64 N 4 run, Mamba's best at 512 is d 16 (0.27 < S4D's 0.275): the claim fails there
    worse = zoology_ordering(_configs({**MAMBA_AXES, ("mamba", 64, 4, 2): 0.2})).set_index("where")
    assert not worse.loc["mamba d 16 N 16 (512) vs s4d d 32 N 16 (512)", "holds"]
    # a drop along N at d 64 fails that axis alone
    drop = zoology_ordering(_configs({**MAMBA_AXES, ("mamba", 64, 8, 2): 0.5})).set_index("where")
    assert not drop.loc["mamba by N at d 64", "holds"] and drop.loc["mamba by width", "holds"]


def test_no_recall_baselines_match_the_task():
    """Every MQAR answer is one of the kv distinct values its context shows, drawn from V - V//2 values:
    a uniform guess among the context's values scores 1/kv, one over all values 1/(V - V//2)."""
    import torch

    from workbench.analysis.state_size import no_recall_baselines
    from workbench.specs import TaskSpec
    from workbench.tasks import make_batch

    task = TaskSpec(kind="mqar", seq_len=32, vocab_size=64, num_kv=4)
    assert no_recall_baselines(task) == {"chance": 1 / 32, "context-value guess": 1 / 4}
    b = make_batch(task, 256, torch.Generator().manual_seed(0))
    context_values = b.inputs[:, 1 : 2 * task.num_kv : 2]  # (B, kv)
    assert all(len(set(row.tolist())) == task.num_kv for row in context_values)
    answers = [(b.targets[i][b.mask[i]], context_values[i]) for i in range(len(b.targets))]
    assert all(torch.isin(a, c).all() and len(a) == task.num_kv for a, c in answers)
    guess = context_values.gather(
        1, torch.randint(0, task.num_kv, (256, task.num_kv), generator=torch.Generator().manual_seed(1))
    )
    hits = torch.stack([(guess[i] == a).float().mean() for i, (a, _) in enumerate(answers)]).mean()
    assert abs(hits.item() - 0.25) < 0.04  # 1024 guesses: the standard error is 0.014
    assert set(torch.unique(b.targets[b.mask]).tolist()) <= set(range(32, 64))


def test_best_learning_rate_is_by_the_mean_over_seeds():
    """lr 0.01 has the single best run (0.9) but the worse mean (0.55 against 0.6): 0.003 is kept, both seeds."""
    from workbench.analysis.state_size import at_best_lr

    runs = pd.DataFrame(
        [
            {"layer": "mamba", "d_model": 16, "lr": lr, "seed": s, "accuracy": a}
            for lr, accs in ((0.003, (0.6, 0.6)), (0.01, (0.9, 0.2)))
            for s, a in enumerate(accs)
        ]
        + [{"layer": "s4d", "d_model": 16, "lr": 0.01, "seed": 0, "accuracy": 0.3}]
    )
    best = at_best_lr(runs)
    assert best[best.layer == "mamba"][["lr", "seed"]].values.tolist() == [[0.003, 0], [0.003, 1]]
    assert best[best.layer == "s4d"].accuracy.tolist() == [0.3]
    # a configuration is the layer with every setting present: N 4 and N 16 each keep their own best rate
    by_n = pd.concat([runs.assign(d_state=16), runs.assign(d_state=4, accuracy=runs.accuracy[::-1].values)])
    best_n = at_best_lr(by_n)
    assert best_n[best_n.layer == "mamba"].groupby("d_state").lr.unique().map(list).to_dict() == {
        4: [0.01],
        16: [0.003],
    }


def test_ess_tracks_recall_per_state_size():
    """Bins by power of two (mlstm's 546 joins 512); a bin with one layer kind or without recall is not checked;
    ρ is Spearman's within the bin, so reversing ESS against accuracy reverses the verdict."""
    from workbench.analysis.state_size import ess_tracks_recall

    runs = pd.DataFrame(
        [
            {"layer": "s4d", "state_size": 512, "total_ess": 3.0, "accuracy": 0.27},
            {"layer": "mamba", "state_size": 512, "total_ess": 6.0, "accuracy": 0.99},
            {"layer": "mlstm", "state_size": 546, "total_ess": 5.0, "accuracy": 0.60},
            {"layer": "mamba", "state_size": 512, "total_ess": 4.0, "accuracy": 0.30},
            {"layer": "gla", "state_size": 128, "total_ess": 2.0, "accuracy": 0.25},  # no recall in this bin
            {"layer": "mlstm", "state_size": 146, "total_ess": 1.0, "accuracy": 0.30},
            {"layer": "attention", "state_size": 4096, "total_ess": 1.0, "accuracy": 0.99},  # one kind
            {"layer": "attention", "state_size": 4096, "total_ess": 2.0, "accuracy": 0.30},
        ]
    )
    checks = ess_tracks_recall(runs)
    assert checks["where"].tolist() == ["≈512 (mamba, mlstm, s4d; 4 runs)"]
    assert checks.ours.iloc[0].startswith("ρ 1.00") and checks.holds.all()
    flipped = ess_tracks_recall(runs.assign(total_ess=-runs.total_ess))
    assert flipped.ours.iloc[0].startswith("ρ -1.00") and not flipped.holds.any()
    assert len(ess_tracks_recall(runs, spread=0.0)) == 2  # the 128 bin is checked once recall is not asked
    assert ess_tracks_recall(runs.rename(columns={"total_ess": "ess"}), column="ess").equals(checks)


def test_mean_ess_of_an_lti_layer_is_the_closed_form():
    """A diagonal LTI layer with 11 real state dimensions: ESS_i = min(11, i, L − i); the mean over every
    second split (the default positions) of that closed form, at a tolerance that resolves every mode."""
    import numpy as np
    import torch

    from workbench.analysis.state_size import mean_ess
    from workbench.specs import SSMSpec
    from workbench.ssm.build import build_layer

    torch.manual_seed(0)
    lti = build_layer(SSMSpec(init="s4d-lin", d_state=12, dt_min=0.3, dt_max=0.6), d_model=2).double()
    L = 40
    want = np.mean([min(11, i, L - i) for i in range(2, L - 1, 2)])
    assert mean_ess(lti, torch.randn(2, L, 2, dtype=torch.float64), tol=1e-6) == want
    assert mean_ess(lti, torch.randn(2, L, 2, dtype=torch.float64), positions=[20], tol=1e-6) == 11


@pytest.mark.parametrize(
    "layer", ["s4d", "mamba", "mamba2", "gla", "mlstm", "deltanet", "gated-deltanet", "rg-lru", "attention"]
)
def test_group_rank_bound_holds_and_recurrences_reach_it(layer):
    """Every group's ESS stays within group_rank_bound (N, or d_model/heads, or L) on random weights and
    inputs, the selective and gated recurrences reach it at a middle split, and total_ess stays within
    state_elements."""
    import torch

    from workbench.analysis.ess import effective_state_size
    from workbench.analysis.state_size import group_rank_bound, state_elements, total_ess
    from workbench.specs import ModelSpec, SSMSpec, default_ssm
    from workbench.ssm.model import build_model

    L = 24
    spec = ModelSpec(layer=layer, d_model=8, heads=2, n_layers=1, vocab_size=16, d_output=16)
    ssm = SSMSpec(**{**default_ssm(layer).to_dict(), "d_state": 4})
    torch.manual_seed(0)
    model = build_model(spec, ssm).double()
    x = torch.randint(0, 16, (2, L), generator=torch.Generator().manual_seed(0))
    ess = effective_state_size(model, x, tol=1e-6).ess
    bound = group_rank_bound(spec, ssm, L)
    assert bound == {"attention": L, "rg-lru": 1}.get(layer, 4)
    assert int(ess.max()) <= bound
    # attention's rank is min(i, L - i) <= L/2 (its cache holds every token); S4D reaches N where every
    # mode outlives the tolerance (its closed form, test_mean_ess_of_an_lti_layer_is_the_closed_form)
    if layer not in ("attention", "s4d"):
        assert int(ess.sel(position=L // 2).max()) == bound
    assert total_ess(float(ess.mean()), spec, ssm, L) <= state_elements(spec, ssm, L)
