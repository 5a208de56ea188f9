"""Text analyses on a loaded checkpoint, each checked against something computed another way."""

import json
import math
import re

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
from pretrained_fixtures import hf_model, save_hf  # noqa: E402

from workbench.analysis.delta_audit import delta_audit  # noqa: E402
from workbench.analysis.text import effective_memory, encode, text_dynamics, token_loss  # noqa: E402
from workbench.analysis.text_attention import text_attention  # noqa: E402
from workbench.analysis.walk import mixer_inputs  # noqa: E402
from workbench.pretrained import load_pretrained  # noqa: E402
from workbench.ssm.probe import capture  # noqa: E402

TEXT = "State space models read text one token at a time."


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("ana")
    return {k: load_pretrained(save_hf(k, False, root / k), dtype="float64") for k in ("mamba", "mamba2")}


@pytest.mark.parametrize("kind", ["mamba", "mamba2"])
@torch.no_grad()
def test_hidden_attention_reproduces_the_layer_output(models, kind):
    """y_i = Σ_j α_ij u_j + D u_i for the chosen channel (Mamba) or head (Mamba-2, every p of the head)."""
    model, layer, ch = models[kind], 1, 5
    ds = text_attention(model, TEXT, layer=layer, channel=ch)
    ids, words = encode(model, TEXT)
    x = mixer_inputs(model, ids)[layer]
    m = model.layers[layer].mixer
    alpha = torch.tensor(ds["alpha"].values)
    if kind == "mamba":
        with capture(m, "y") as seen:
            m(x)
        u = m.scan_inputs(x)[0][0, ch]  # (L,)
        got, want = alpha @ u + m.D[ch] * u, seen["y"][0, ch]
    else:
        L = x.shape[1]
        z, xBC, dt_raw = m._split(m.in_proj(x))
        xs = m._ssm_inputs(m.conv(xBC.transpose(1, 2))[..., :L].transpose(1, 2), dt_raw)[0].view(1, L, m.h, m.P)
        with capture(m, "y") as seen:
            m(x)
        u = xs[0, :, ch]  # (L, P)
        got, want = alpha @ u + m.D[ch] * u, seen["y"][0, :, ch]
    assert float(want.abs().max()) > 1e-3
    assert float((got - want).abs().max()) <= 1e-10 * float(want.abs().max()) + 1e-13
    assert list(ds["source_token"].values) == words
    row = ds["alpha_row"].values
    assert np.allclose(row.sum(1), 1.0) and np.allclose(np.triu(row, 1), 0)
    assert "alpha_mean" in ds and "Σ_j" in ds.attrs["normalization"]


@pytest.mark.parametrize("kind", ["mamba", "mamba2"])
def test_state_norm_equals_the_recurrent_states(models, kind):
    model = models[kind]
    ds = text_dynamics(model, TEXT)
    ids, _ = encode(model, TEXT)
    state, norms = None, []
    with torch.no_grad():
        for t in range(ids.shape[1]):
            _, state = model.step(ids[:, t], state)
            norms.append([float(s[1].abs().norm()) for s in state])
    np.testing.assert_allclose(ds["state_norm"].values, np.array(norms).T, rtol=1e-9)
    assert ds["delta"].dims == ("layer", "head" if kind == "mamba2" else "channel", "position")
    assert (ds["delta"].values > 0).all() and ds["token"].values[0] == "S"


def test_effective_memory_half_life_is_the_product_of_decays(models):
    model = models["mamba"]
    mem = effective_memory(model, TEXT)
    dyn = text_dynamics(model, TEXT)
    L = dyn.sizes["position"]
    for layer in (0, 2):
        m = model.layers[layer].mixer
        slow = m.A.real.abs().min(-1).values.detach().double().numpy()  # (E,)
        total = dyn["delta"].sel(layer=layer).values.sum(-1)  # Σ_t Δ_t per channel
        decay = np.exp(-slow * total)  # |Π_t exp(Δ_t A)| of the slowest mode over the text
        np.testing.assert_allclose(decay, 0.5 ** (L / mem["half_life"].sel(layer=layer).values), rtol=1e-9)
    assert int(mem["n_local"].sum() + mem["n_global"].sum()) == 3 * 64
    assert (mem["is_global"].values == (mem["half_life"].values >= L)).all()
    assert int(mem["half_life_histogram"].sum()) == 3 * 64


def test_token_loss_matches_transformers(models):
    model = models["mamba"]
    ids, _ = encode(model, TEXT)
    with torch.no_grad():
        ref = hf_model("mamba", False)(ids, labels=ids).loss
    tl = token_loss(model, TEXT)
    assert abs(tl.attrs["mean_loss"] - float(ref)) < 1e-5
    assert np.isnan(tl["loss"].values[0]) and np.isfinite(tl["loss"].values[1:]).all()
    assert tl.attrs["perplexity"] == pytest.approx(math.exp(tl.attrs["mean_loss"]))


@pytest.mark.parametrize("kind,bias", [("mamba", "dt_proj.bias"), ("mamba2", "dt_bias")])
def test_delta_audit_flags_an_overwritten_init_and_passes_an_untouched_one(tmp_path, kind, bias):
    hf = hf_model(kind, True)
    hf.save_pretrained(tmp_path / "ok")
    with torch.no_grad():  # what a blanket `zeros_(module.bias)` re-initialization does: Δ = softplus(0) = 0.69
        getattr(hf.backbone.layers[1].mixer, bias.split(".")[0]).__getattr__(
            "bias"
        ).zero_() if "." in bias else hf.backbone.layers[1].mixer.dt_bias.zero_()
    hf.save_pretrained(tmp_path / "bad")
    ok = delta_audit(load_pretrained(tmp_path / "ok"))
    bad = delta_audit(load_pretrained(tmp_path / "bad"))
    assert ok.attrs["verdict"] == "consistent" and int(ok["outside"].sum()) == 0
    assert bad.attrs["verdict"] == "disagrees"
    assert list(bad["outside"].values) == [0, bad.sizes["head" if kind == "mamba2" else "channel"], 0]
    assert "layer 1" in json.loads(bad.attrs["flags"])[0]


@pytest.mark.slow
def test_inspect_cli_prints_summary_json_and_exports(tmp_path, capsys):
    from workbench.cli import main

    folder = save_hf("mamba2", True, tmp_path / "m2")
    capsys.readouterr()
    out = tmp_path / "figs"
    assert (
        main(
            [
                "inspect",
                str(folder),
                "--text",
                TEXT,
                "--export",
                str(out),
                "--format",
                "html",
                "--json",
                "--layer",
                "2",
                "--channel",
                "3",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    s = json.loads(lines[-1])
    assert s["format"] == "hf-mamba2" and s["layers"] == 3 and s["delta_audit"]["verdict"] == "consistent"
    assert len(s["memory"]["local"]) == 3 and math.isfinite(s["mean_loss"])
    names = {p.name for p in out.iterdir()}
    for fig in ("delta", "state_norm", "attention", "memory", "delta_audit", "loss"):
        assert {f"{fig}.html", f"{fig}.nc", f"{fig}.json"} <= names
    html = (out / "delta.html").read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)  # nothing loaded from elsewhere
    assert "major_label_overrides" in html and '"S"' in html  # the tokens (bytes here) label the axis


def test_inspect_cli_bad_channel_names_the_flag(tmp_path, capsys):
    from workbench.cli import main

    folder = save_hf("mamba", True, tmp_path / "m")
    capsys.readouterr()  # transformers' progress bar while saving
    assert main(["inspect", str(folder), "--text", TEXT, "--channel", "999"]) == 2
    err = capsys.readouterr().err
    assert "--channel=999" in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["mamba", "mamba2"])
def test_text_preview_reads_the_text_and_labels_every_token_axis(models, kind, monkeypatch):
    """The probe views' Datasets of a checkpoint: computed on the text's ids (Δ equals the layer's own
    Δ probe on them), every token axis labelled with the words, hidden attention of the first channels
    or heads equal to the preview's full computation (another code path), and the text cut to max_tokens."""
    from workbench.analysis.selective import _ssd_scores
    from workbench.analysis.text_preview import text_preview
    from workbench.ssm.hidden_attention import hidden_attention

    model = models[kind]
    ids, words = encode(model, TEXT)  # 50 byte tokens (no tokenizer.json): the first 20 keep it quick
    ids, words = ids[:, :20], words[:20]
    data = text_preview(model, TEXT, max_tokens=20)
    want = {"spectrum", "gradient_memory", "selective", "tokens", "attention", "state_norms", "ess"}
    assert want | ({"kernels"} if kind == "mamba" else set()) <= set(data)  # Mamba-2: no impulse-response probe
    sel = data["selective"]
    assert list(sel["token_text"].values) == words and list(data["tokens"]["token_text"].values) == words
    assert list(data["state_norms"]["position_text"].values) == words
    att = data["attention"]
    assert list(att["source_text"].values) == words and list(att["target_text"].values) == words
    ess = data["ess"]  # split position i: after reading tokens < i
    assert list(ess["position_text"].values) == [words[i - 1] for i in ess["position"].values]
    with torch.no_grad(), capture(model, "layers.1.mixer.delta") as seen:
        model(ids)
    want = seen["layers.1.mixer.delta"][0]
    want = want if kind == "mamba" else want.T  # (channels|heads, L)
    np.testing.assert_allclose(sel["delta"].sel(layer=1, sample=0).values, want.numpy(), rtol=1e-12)
    x = mixer_inputs(model, ids)[1]
    m = model.layers[1].mixer
    alpha = torch.tensor(att["alpha"].sel(layer=1).values)  # (4, L, L)
    assert alpha.shape[0] == 4
    if kind == "mamba":  # the full (E, L, L) einsum of the preview's own hidden attention
        np.testing.assert_allclose(alpha.numpy(), hidden_attention(m, x)[0, :4].numpy(), rtol=1e-9, atol=1e-12)
    else:  # each head's α reproduces the layer's SSM output: y_i = Σ_j α_ij x_j + D x_i
        L = x.shape[1]
        with torch.no_grad():
            z, xBC, dt_raw = m._split(m.in_proj(x))
            xs = m._ssm_inputs(m.conv(xBC.transpose(1, 2))[..., :L].transpose(1, 2), dt_raw)[0].view(L, m.h, m.P)
            with capture(m, "y") as seen:
                m(x)
            for h in range(4):
                got, want = alpha[h] @ xs[:, h] + m.D[h] * xs[:, h], seen["y"][0, :, h]
                assert float((got - want).abs().max()) <= 1e-10 * float(want.abs().max())
            # the preview's all-heads scores of a grouped layer (2 groups here) agree on those heads
            np.testing.assert_allclose(alpha.numpy(), _ssd_scores(m, x)[:4].numpy(), rtol=1e-9, atol=1e-12)
    assert sel.sizes["token"] == 20 and sel.attrs["text_tokens"] == 20
    import workbench.analysis.text_preview as tp

    assert tp.skipped(model, 20) == {}  # a tiny model: everything
    monkeypatch.setattr(tp, "KERNEL_BUDGET", 0)
    monkeypatch.setattr(tp, "ESS_BUDGET", 0)
    why = tp.skipped(model, 8)
    assert set(why) == ({"kernels", "ess"} if kind == "mamba" else {"ess"}) and "skipped" in why["ess"]
    small = text_preview(model, TEXT, max_tokens=8)
    assert not set(why) & set(small) and {"selective", "attention", "state_norms"} <= set(small)
    assert sel.attrs["text_total"] == len(encode(model, TEXT)[1]) > 20
