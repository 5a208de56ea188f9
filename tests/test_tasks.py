"""Synthetic tasks: shapes, determinism, and each task's semantics against a direct computation."""

import math

import numpy as np
import pytest
import torch

import workbench.tasks as tasks
from workbench.errors import SpecError
from workbench.specs import TaskSpec
from workbench.tasks import digits, dynamics, listops, recall, regression
from workbench.tasks.base import Batch, loss, metric_value


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def batch_of(kind, n=16, seed=0, **fields):
    spec = TaskSpec.from_dict({"kind": kind, **fields})
    return spec, tasks.make_batch(spec, n, gen(seed))


# ---------------------------------------------------------------- registry, shapes, spec


@pytest.mark.parametrize("kind", TaskSpec.KINDS)
def test_every_task_shapes_dtypes_io_and_determinism(kind):
    spec, b = batch_of(kind, 8)
    io = tasks.get_task(kind).io(spec)
    B, L = b.mask.shape
    assert (B, L) == (8, spec.length()) and b.mask.dtype == torch.bool and b.mask.any()
    if io["vocab_size"]:
        assert b.inputs.shape == (B, L) and b.inputs.dtype == torch.int64
        assert 0 <= int(b.inputs.min()) and int(b.inputs.max()) < io["vocab_size"]
    else:
        assert b.inputs.shape == (B, L, io["d_input"]) and b.inputs.dtype == torch.float32
    if b.targets.dtype == torch.int64:
        assert b.targets.shape == (B, L) and int(b.targets[b.mask].max()) < io["d_output"]
    else:
        assert b.targets.shape == (B, L, io["d_output"]) and b.targets.dtype == torch.float32
    again = tasks.make_batch(spec, 8, gen(0))
    other = tasks.make_batch(spec, 8, gen(1))
    assert all(torch.equal(x, y) for x, y in zip(b, again))
    assert not all(torch.equal(x, y) for x, y in zip(b, other))
    held = tasks.test_batches(spec, 8)
    assert held and all(
        torch.equal(x, y) for h, h2 in zip(held.values(), tasks.test_batches(spec, 8).values()) for x, y in zip(h, h2)
    )
    assert tasks.get_task(kind).metric in tasks.METRICS


def test_registry_matches_spec_kinds_and_unknown_task_names_field():
    assert tuple(tasks.TASKS) == TaskSpec.KINDS
    with pytest.raises(SpecError) as err:
        tasks.get_task("nope")
    assert err.value.field == "task.kind" and "one of mqar" in str(err.value)


def test_spec_defaults_roundtrip_and_resolved_small_settings():
    spec = TaskSpec().validate()
    assert TaskSpec.from_dict(spec.to_dict()).to_dict() == spec.to_dict()
    assert spec.length() == 64 + 2 * 8
    assert TaskSpec(kind="mqar").length() == 64 and TaskSpec(kind="mqar").vocab() == 256
    assert TaskSpec(kind="adding").length() == 100 and TaskSpec(kind="delay").length() == 256
    assert TaskSpec.from_dict({"test_lengths": "128, 512"}).test_lengths == [128, 512]


@pytest.mark.parametrize(
    "values, field, words",
    [
        ({"copy_min": 9, "copy_max": 4}, "task.copy_min", "<= task.copy_max"),
        ({"kind": "mqar", "num_kv": 20}, "task.seq_len", "4·task.num_kv"),
        ({"kind": "mqar", "vocab_size": 8}, "task.vocab_size", "distinct keys"),
        ({"n_bits": 7}, "task.n_bits", "[1, 6]"),
        ({"kind": "x"}, "task.kind", "one of mqar"),
        ({"kind": "selective-copying", "seq_len": 50}, "task.seq_len", "noise_len + 2·n_data"),
        ({"kind": "digits", "seq_len": 100}, "task.seq_len", "64"),
        ({"kind": "copying", "seq_len": 30}, "task.seq_len", "2·task.copy_max"),
        ({"kind": "delay", "seq_len": 32, "lag": 32}, "task.lag", "less than"),
        ({"kind": "n-dms", "seq_len": 4, "n_bits": 4}, "task.seq_len", "more than task.n_bits"),
        ({"test_lengths": [1.5]}, "task.test_lengths", "integers in [3,"),
        ({"test_lengths": "x"}, "task.test_lengths", "integers in [3,"),
    ],
)
def test_spec_errors_name_field_value_and_allowed(values, field, words):
    with pytest.raises(SpecError) as err:
        TaskSpec.from_dict(values)
    msg = str(err.value)
    assert err.value.field == field and words in msg and "\n" not in msg


# ---------------------------------------------------------------- recall


def test_mqar_reproduces_zoology_docstring_example():
    # Zoology: vocab 12, 2 pairs, length 16, zeros as filler: "2 8 4 7 0 0 4 ..." with
    # label 7 at the first query (key 4, position 6) and 8 at the second (key 2, position 12):
    # gap index g puts its key at 2·kv + 2·g, so key 2 has gap 4 and key 4 gap 1.
    b = recall.mqar_sequences(torch.tensor([[2, 4]]), torch.tensor([[8, 7]]), torch.tensor([[4, 1]]), 16)
    assert b.inputs[0].tolist() == [2, 8, 4, 7, 0, 0, 4, 0, 0, 0, 0, 0, 2, 0, 0, 0]
    assert b.mask[0].nonzero()[:, 0].tolist() == [6, 12]
    assert b.targets[0, [6, 12]].tolist() == [7, 8]


def test_mqar_answer_is_the_value_paired_earlier_with_the_queried_key():
    spec, b = batch_of("mqar", 32)
    kv, V = spec.num_kv, spec.vocab()
    assert (b.mask.sum(1) == kv).all()
    for row in range(32):
        x = b.inputs[row]
        keys, values = x[0 : 2 * kv : 2], x[1 : 2 * kv : 2]
        assert ((1 <= keys) & (keys < V // 2)).all() and len(set(keys.tolist())) == kv
        assert ((V // 2 <= values) & (values < V)).all()
        pairs = dict(zip(keys.tolist(), values.tolist()))
        queries = b.mask[row].nonzero()[:, 0]
        assert (queries >= 2 * kv).all() and ((queries - 2 * kv) % 2 == 0).all()
        assert sorted(x[queries].tolist()) == sorted(keys.tolist())
        assert [pairs[k] for k in x[queries].tolist()] == b.targets[row, queries].tolist()


def test_power_law_gap_probabilities_sum_to_one_and_favour_short_gaps():
    p = recall.power_law_gap_probs(28, 0.01)
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-12) and (p.diff() < 0).all()
    assert torch.allclose(recall.power_law_gap_probs(10, 1.0), torch.full((10,), 0.1, dtype=torch.float64))


def test_induction_heads_target_is_the_token_after_the_trigger():
    spec, b = batch_of("induction-heads", 64)
    trigger = spec.vocab() - 1
    assert (b.inputs[:, -1] == trigger).all() and (b.mask.sum(1) == 1).all() and b.mask[:, -1].all()
    for row in range(64):
        where = (b.inputs[row, :-1] == trigger).nonzero()[:, 0]
        assert len(where) == 1 and where[0] + 1 < spec.length() - 1
        assert b.targets[row, -1] == b.inputs[row, where[0] + 1]
    held = tasks.test_batches(spec, 4)
    assert {k: v.inputs.shape[1] for k, v in held.items()} == {"L=256": 256, "L=1024": 1024}


# ---------------------------------------------------------------- copying


def test_selective_copying_targets_are_the_data_tokens_in_order():
    spec, b = batch_of("selective-copying", 32)
    region, M = spec.noise_len + spec.n_data, spec.n_data
    assert (b.inputs[:, region:] == spec.alphabet + 1).all() and (b.mask[:, region:]).all()
    assert not b.mask[:, :region].any()
    for row in range(32):
        data = b.inputs[row, :region][b.inputs[row, :region] != 0]
        assert data.tolist() == b.targets[row, region:].tolist() and len(data) == M


def test_copying_repeats_the_string_after_the_separator():
    spec, b = batch_of("copying", 32)
    sep = spec.alphabet + 1
    for row in range(32):
        x = b.inputs[row]
        n = int((x == sep).nonzero()[0, 0])
        assert spec.copy_min <= n <= spec.copy_max
        assert b.mask[row].nonzero()[:, 0].tolist() == list(range(n, 2 * n))
        assert b.targets[row, n : 2 * n].tolist() == x[:n].tolist()
        assert x[n + 1 : 2 * n].tolist() == x[: n - 1].tolist()  # teacher forcing: the copy is in the input


# ---------------------------------------------------------------- regression


def test_adding_two_markers_target_sum_and_mean_baseline_is_one_sixth():
    spec, b = batch_of("adding", 4096)
    values, markers = b.inputs[..., 0], b.inputs[..., 1]
    half = spec.length() // 2
    assert (markers[:, :half].sum(1) == 1).all() and (markers[:, half:].sum(1) == 1).all()
    assert torch.allclose(b.targets[:, -1, 0], (values * markers).sum(1), atol=1e-6)
    baseline = float(((b.targets[:, -1, 0] - 1) ** 2).mean())
    assert abs(baseline - 1 / 6) < 0.012  # 4 standard errors


@pytest.mark.parametrize("rho", ["exponential", "polynomial"])
def test_lf_memory_equals_direct_convolution(rho):
    spec, b = batch_of("lf-memory", 4, rho=rho, seq_len=30)
    x = b.inputs[..., 0].double()
    r = [math.exp(-s) if rho == "exponential" else (1 + 0.1 * s) ** -1.1 for s in range(30)]
    y = torch.tensor(
        [[sum(r[s] * float(x[i, t - s]) for s in range(t + 1)) for t in range(30)] for i in range(4)],
        dtype=torch.float64,
    )
    assert torch.allclose(b.targets[..., 0].double(), y, atol=1e-5) and b.mask.all()


def test_delay_target_is_the_lagged_input():
    spec, b = batch_of("delay", 8, seq_len=128, lag=10)
    u = b.inputs[..., 0]
    assert torch.equal(b.targets[:, 10:, 0], u[:, :-10]) and not b.mask[:, :10].any() and b.mask[:, 10:].all()
    assert torch.allclose(u.pow(2).mean(1), torch.ones(8), atol=1e-5)  # unit RMS
    # Band limit: the 2L-long draw has no energy above cutoff, so the crop is smooth.
    full = regression.band_limited_noise(1, 64, 0.1, gen())
    assert full.diff().abs().max() < 0.5 * full.abs().max()


# ---------------------------------------------------------------- bits


def test_n_parity_and_n_dms_against_direct_computation():
    N = 3
    spec, b = batch_of("n-parity", 8, n_bits=N, seq_len=20)
    x = b.inputs.tolist()
    for i in range(8):
        for t in range(20):
            assert bool(b.mask[i, t]) == (t >= N - 1)
            if t >= N - 1:
                assert b.targets[i, t] == sum(x[i][t - N + 1 : t + 1]) % 2
    spec, b = batch_of("n-dms", 8, n_bits=N, seq_len=20)
    x = b.inputs.tolist()
    for i in range(8):
        for t in range(N, 20):
            assert b.targets[i, t] == int(x[i][t - N] == x[i][t])
        assert not b.mask[i, :N].any() and b.mask[i, N:].all()


# ---------------------------------------------------------------- listops, digits


def test_listops_label_is_the_value_of_the_expression():
    tree = ("[MAX", [4, 3, ("[MIN", [2, 3]), 1, 0])
    assert listops.evaluate(tree) == 4 and listops.parse(listops.to_tokens(tree)) == tree
    assert listops.evaluate(("[MED", [1, 4, 2, 9])) == 3 and listops.evaluate(("[SM", [7, 8, 9])) == 4
    spec, b = batch_of("listops-lite", 32)
    for row in range(32):
        ids = [i for i in b.inputs[row].tolist() if i]
        assert 20 <= len(ids) <= 100 and b.inputs[row, -1] == listops.TOKEN["]"]
        assert listops.evaluate(listops.parse([listops.VOCAB[i] for i in ids])) == b.targets[row, -1]


def test_digits_split_scaling_and_bit_reversal():
    pixels, labels = digits.load()
    assert pixels.shape == (1797, 64) and 0 <= pixels.min() and pixels.max() == 1
    train, test = digits.split_indices(0, "train"), digits.split_indices(0, "test")
    assert len(train) + len(test) == 1797 and not set(train.tolist()) & set(test.tolist())
    perm = digits.bit_reversal()
    assert sorted(perm.tolist()) == list(range(64)) and perm[1] == 32 and torch.equal(perm[perm], torch.arange(64))
    plain = tasks.test_batches(TaskSpec(kind="digits"), 8)["test"]
    permuted = tasks.test_batches(TaskSpec(kind="digits-permuted"), 8)["test"]
    assert len(plain.inputs) == len(test) and torch.equal(permuted.inputs[:, :, 0], plain.inputs[:, perm, 0])
    assert torch.equal(plain.targets[:, -1], labels[test])


# ---------------------------------------------------------------- dynamics


def test_ar_coefficients_from_roots_and_stable_unit_variance():
    a = dynamics.ar_coefficients(torch.tensor([[0.5, -0.5]], dtype=torch.complex128))
    assert torch.allclose(a, torch.tensor([[0.0, 0.25]], dtype=torch.float64))  # z² - 0.25
    roots = dynamics.ar_roots(64, 5, gen())
    a = dynamics.ar_coefficients(roots)
    for row in a.numpy():
        assert np.abs(np.roots(np.concatenate([[1.0], -row]))).max() < 1
    spec, b = batch_of("ar-p", 256, ar_order=3)
    assert torch.equal(b.targets[:, :-1], b.inputs[:, 1:]) and abs(float(b.inputs.std()) - 1) < 0.15


def test_lorenz_target_is_the_next_rk4_state():
    spec, b = batch_of("lorenz", 4, seq_len=20)
    assert torch.equal(b.targets[:, :-1], b.inputs[:, 1:])
    state = b.inputs[:, 5].double().numpy() * dynamics.LORENZ_STD + dynamics.LORENZ_MEAN  # (B, 3)
    s = tuple(state.T)
    for _ in range(dynamics.LORENZ_EVERY):
        s = dynamics.rk4_step(s, dynamics.LORENZ_DT)
    nxt = (np.stack(s, -1) - dynamics.LORENZ_MEAN) / dynamics.LORENZ_STD
    assert np.allclose(nxt, b.targets[:, 5].numpy(), atol=1e-3)


# ---------------------------------------------------------------- metrics, loss


def one_hot_logits(targets, classes, scale=20.0):
    return scale * torch.nn.functional.one_hot(targets, classes).float()  # (B, L, C)


def test_metric_values_on_hand_made_logits():
    spec, b = batch_of("copying", 6)
    logits = one_hot_logits(b.targets, 12)
    for metric in ("token_accuracy", "sequence_accuracy", "accuracy"):
        assert metric_value(metric, logits, b) == 1.0
    row, pos = 0, int(b.mask[0].nonzero()[0, 0])
    logits[row, pos] = one_hot_logits((b.targets[row, pos] + 1) % 12, 12)
    assert metric_value("sequence_accuracy", logits, b) == pytest.approx(5 / 6)
    assert metric_value("token_accuracy", logits, b) == pytest.approx(1 - 1 / int(b.mask.sum()))
    targets = torch.tensor([[[1.0], [2.0], [3.0]]])
    mse_batch = Batch(torch.zeros(1, 3, 1), targets, torch.tensor([[False, True, True]]))
    assert metric_value("mse", torch.tensor([[[9.0], [2.5], [1.0]]]), mse_batch) == pytest.approx((0.25 + 4) / 2)
    with pytest.raises(ValueError):
        metric_value("f1", logits, b)


def test_loss_is_a_scalar_cross_entropy_or_masked_mse():
    spec, b = batch_of("mqar", 4)
    out = torch.randn(4, spec.length(), spec.vocab(), requires_grad=True)
    value = loss(out, b)
    assert value.shape == () and value > 0
    value.backward()
    assert out.grad[~b.mask].abs().max() == 0  # nothing leaks from unscored positions
    assert loss(one_hot_logits(b.targets, spec.vocab(), 50.0), b) < 1e-6
    spec, b = batch_of("lorenz", 2, seq_len=10)
    assert float(loss(b.targets + 0.5, b)) == pytest.approx(0.25)
