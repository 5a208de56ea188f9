"""The dashboard's checkpoint source: unserved (the view's logic) and served in Chromium."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.serving import served

pytest.importorskip("transformers")
pytest.importorskip("panel")
from pretrained_fixtures import save_hf, word_tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SENTENCE = "the cat sat on the mat ."
WORDS = ["the", "cat", "sat", "on", "mat", ".", "dog", "log"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    folder = save_hf("mamba", True, tmp_path_factory.mktemp("dash") / "tiny-mamba")
    word_tokenizer(folder, WORDS)
    return folder


@pytest.mark.slow
def test_view_opens_a_checkpoint_and_labels_tokens_with_words(ckpt):
    import holoviews as hv

    from apps.views.pretrained import OFF, PretrainedView

    view = PretrainedView()
    assert view._status.object.startswith(OFF[:30]) and not view._source.visible
    view.mode = "open a checkpoint"
    view.source, view.text = str(ckpt), SENTENCE
    view._on_open()
    assert not view._alert.visible, view._alert.object
    assert "hf-mamba" in view._status.object and view.config_card.visible and view.banner.visible
    assert view._config.object["model_type"] == "mamba"
    fig = view._panes["delta"].object
    ticks = hv.Store.lookup_options("bokeh", fig, "plot").kwargs["xticks"]
    assert [w for _, w in ticks] == SENTENCE.split()
    view.layer = 2
    assert "layer 2" in view._panes["delta"].object.label or "layer 2" in str(
        hv.Store.lookup_options("bokeh", view._panes["delta"].object, "plot").kwargs.get("title")
    )
    view.source = str(ckpt / "missing")
    view._on_open()
    assert view._alert.visible and "source=" in view._alert.object


def _ticks(fig, key="xticks"):
    import holoviews as hv

    els = [fig] + (list(fig.values()) if isinstance(fig, hv.Overlay) else [])
    for el in els:
        t = hv.Store.lookup_options("bokeh", el, "plot").kwargs.get(key)
        if t:
            return [w for _, w in t]
    return None


@pytest.mark.slow
def test_every_probe_view_shows_the_opened_checkpoint_on_the_text(ckpt, tmp_path, monkeypatch):
    """Opening a checkpoint in the Pretrained tab publishes its preview on the typed text: the probe
    views draw it with the words on their token axes, views without a quantity for it say why, the
    spec editor steps aside; going back to the spec (or choosing a run) previews the spec again."""
    import sys

    sys.path.insert(0, str(ROOT))
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    from apps.views import KernelsView, MemoryView, SpectrumView, TokensView, TrainingView, Workbench
    from apps.views.header import RunHeader
    from apps.views.pretrained import PretrainedView
    from workbench.specs import ModelSpec, TaskSpec

    state = Workbench(
        model=ModelSpec(layer="mamba", d_model=8, n_layers=2), task=TaskSpec(kind="selective-copying", n_data=4)
    )
    views = {v.title: v for v in (KernelsView(state), SpectrumView(state), MemoryView(state), TokensView(state))}
    training, header = TrainingView(state), RunHeader(state)
    pre = PretrainedView(state, mode="open a checkpoint", source=str(ckpt), text=SENTENCE)
    pre._on_open()
    assert not pre._alert.visible, pre._alert.object
    assert state.checkpoint == "tiny-mamba" and not state.run_id and pre.banner.visible
    assert "Kernels, Spectrum, Memory" in pre.banner.object and "other tabs" not in pre.banner.object
    words = SENTENCE.split()
    tok = views["Token dynamics"]
    assert tok.layer in (0, 1, 2) and sorted(tok.param.layer.objects) == [0, 1, 2]  # the checkpoint's 3 layers
    assert _ticks(tok.shown("delta")) == words and _ticks(tok.shown("gate")) == words
    att = tok.shown("attention")
    assert _ticks(att) == words and _ticks(att, "yticks") == words
    assert _ticks(tok.shown("norms"), "cticks") == words and _ticks(tok.shown("trajectories"), "cticks") == words
    assert "Checkpoint <b>tiny-mamba</b>" in header.pane.object
    assert "this checkpoint" in tok.note()
    mem = views["Memory"]
    assert _ticks(mem.shown("forgetting")) == words and _ticks(mem.shown("state_norms")) == words
    assert "continuous inputs" in mem.note()
    assert "typed text" in views["Kernels"].note() and "at rest" in views["Spectrum"].note()
    assert "tiny-mamba" in training._status.object and "no training run" in training._status.object
    shown = state.version
    state.ssm.dt_max = 0.05  # the spec editor is set aside: an edit does not replace the checkpoint
    assert state.version == shown and state.checkpoint
    pre.mode = "build from the spec"
    assert not state.checkpoint and not pre.banner.visible
    assert "token_text" not in state.data["selective"].coords and _ticks(tok.shown("delta")) is None


AXIS_WORDS = """() => {
  const doc = (window.Bokeh && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  if (!doc) return null;
  const out = [];
  for (const m of doc.all_models) {
    const o = m.major_label_overrides;
    if (o === undefined || o === null) continue;
    const vals = (o instanceof Map) ? Array.from(o.values()) : Object.values(o);
    if (vals.length) out.push(vals);
  }
  return out;
}"""


# the words on the axes of the plots whose title starts with `prefix` (x below, y left)
TITLED_AXIS_WORDS = """(prefix) => {
  const doc = (window.Bokeh && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  if (!doc) return null;
  const out = [];
  for (const m of doc.all_models) {
    const t = m.title;
    if (!t || typeof t !== 'object' || !String(t.text || '').startsWith(prefix)) continue;
    for (const ax of [...(m.below || []), ...(m.left || [])]) {
      const o = ax.major_label_overrides;
      if (o === undefined || o === null) continue;
      const vals = (o instanceof Map) ? Array.from(o.values()) : Object.values(o);
      if (vals.length) out.push(vals);
    }
  }
  return out;
}"""


def _wait_for_words(page, prefix: str, words: list[str], timeout_s: float = 60) -> list:
    deadline, found = time.monotonic() + timeout_s, []
    while time.monotonic() < deadline:
        found = page.evaluate(TITLED_AXIS_WORDS, prefix) or []
        if any(v == words for v in found):
            break
        page.wait_for_timeout(300)
    return found


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing")
def test_served_dashboard_opens_a_checkpoint_typed_sentence_on_the_delta_axis(ckpt, tmp_path):
    """Open a saved checkpoint by path, type a sentence: the Pretrained tab's Δ axis, then the Token
    dynamics and Memory tabs' token axes show the sentence's words; no console errors."""
    sync_api = pytest.importorskip("playwright.sync_api")
    log = tmp_path / "panel.log"
    try:
        with served(tmp_path / "runs", log=log) as srv, sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(srv.url, timeout=120_000)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=120_000)
            page.locator(".bk-tab", has_text="Pretrained").first.click()
            page.get_by_text("open a checkpoint").first.click()
            page.get_by_placeholder("path/to/checkpoint or org/model-id").fill(str(ckpt))
            box = page.get_by_placeholder("Type a text…")
            box.fill(SENTENCE)
            box.press("Tab")  # the text area sends its value on change
            page.get_by_role("button", name="Open", exact=True).click()
            deadline = time.monotonic() + 90
            found = []
            while time.monotonic() < deadline:
                found = page.evaluate(AXIS_WORDS) or []
                if any(v == SENTENCE.split() for v in found):
                    break
                page.wait_for_timeout(300)
            assert any(v == SENTENCE.split() for v in found), f"no axis labelled with the words: {found[:3]}"
            page.wait_for_timeout(800)
            ART.mkdir(exist_ok=True)
            page.screenshot(path=str(ART / "pretrained.png"), full_page=True, animations="disabled", timeout=90_000)
            assert page.locator(".pretrained-config").count() >= 1  # the loaded config, read-only, in the sidebar
            words = SENTENCE.split()
            page.locator(".bk-tab", has_text="Token dynamics").first.click()
            on_delta = _wait_for_words(page, "Δ_t (tokens", words)
            on_attention = _wait_for_words(page, "Hidden attention α", words, 20)
            page.screenshot(
                path=str(ART / "pretrained-tokens.png"), full_page=True, animations="disabled", timeout=90_000
            )
            page.locator(".bk-tab", has_text="Memory").first.click()
            on_norms = _wait_for_words(page, "State norm against position", words)
            assert any(v == words for v in on_delta), f"Token dynamics' Δ axis: {on_delta}"
            assert any(v == words for v in on_attention), f"hidden attention's axes: {on_attention}"
            assert any(v == words for v in on_norms), f"Memory's state-norm axis: {on_norms}"
            assert not errors, errors
            browser.close()
    finally:
        print(log.read_text())  # shown by pytest only on failure
