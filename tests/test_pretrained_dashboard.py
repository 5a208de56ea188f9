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


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing")
def test_served_dashboard_opens_a_checkpoint_typed_sentence_on_the_delta_axis(ckpt, tmp_path):
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
            assert not errors, errors
            browser.close()
    finally:
        print(log.read_text())  # shown by pytest only on failure
