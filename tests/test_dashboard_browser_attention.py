"""In Debian's Chromium: a Mamba run selected in the Runs view shows its recorded hidden attention
in the Token dynamics view (an image with data, not the "not available" placeholder)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.serving import CHROMIUM, CHROMIUM_ARGS as ARGS, served
from workbench.specs import RunSpec
from workbench.train import runner
from workbench.train.worker import run_worker

ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install -y chromium"),
]

# the plot titled "Hidden attention ...": how many image pixels its renderers hold, and the texts drawn in it
ATTENTION = """() => {
  const doc = (window.Bokeh && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  if (!doc) return null;
  let best = null;  // a replaced plot may linger among the document's models: the one drawing most
  for (const m of doc.all_models) {
    const t = m.title;
    if (!t || typeof t !== 'object' || !String(t.text || '').startsWith('Hidden attention')) continue;
    let pixels = 0; const texts = [];
    for (const r of (m.renderers || [])) {
      const d = r.data_source ? r.data_source.data : null;
      if (!d) continue;
      const get = (c) => (d instanceof Map) ? d.get(c) : d[c];
      const img = get('image');
      if (img) for (const a of img) pixels += a.length;
      const text = get('text');
      if (text) texts.push(...Array.from(text));
    }
    if (best === null || pixels > best.pixels) best = {title: String(t.text), pixels, texts};
  }
  return best;
}"""


@pytest.fixture(scope="module")
def served_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("att") / "runs"
    spec = RunSpec.from_dict(
        {
            "model": {"layer": "mamba", "d_model": 4, "n_layers": 1},
            "task": {"name": "selective-copying", "noise_len": 8, "n_data": 4},
            "train": dict(steps=2, batch=4, probe_every=2, eval_every=2, checkpoint_every=2, warmup=1, threads=1),
        },
        name="attention run",
    )
    run_id = runner.create(spec, runs).name
    run_worker(runs / run_id)
    with served(runs, log=runs.parent / "panel.log") as srv:
        yield srv.url, run_id


def test_a_runs_hidden_attention_is_drawn(served_run):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, run_id = served_run
    ART.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url, wait_until="load", timeout=60_000)
            page.locator(".bk-tab", has_text="Runs").first.click()
            row = page.locator(".tabulator-row", has_text=run_id)
            row.first.wait_for(timeout=30_000)
            row.locator("input[type=checkbox]").first.click()
            page.locator(".bk-tab", has_text="Token dynamics").first.click()
            deadline, seen = time.monotonic() + 60, None
            while time.monotonic() < deadline:
                seen = page.evaluate(ATTENTION)
                if seen and seen["pixels"] == 16 * 16:  # the run's (L = 16), not the preview's (L = 40)
                    break
                page.wait_for_timeout(300)
            page.get_by_text("first 4 channels").first.wait_for(timeout=30_000)  # the note on a run's stored part
            page.screenshot(path=str(ART / "dashboard-tokens-run-attention.png"), full_page=True, animations="disabled")
        finally:
            browser.close()
    assert seen is not None and seen["pixels"] == 16 * 16, seen  # the run's L × L matrix (L = 16)
    assert not any("not available" in t or "recorded by runs" in t for t in seen["texts"]), seen
