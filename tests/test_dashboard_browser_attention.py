"""In Debian's Chromium, on a small finished Mamba run: selected in the Runs view, it shows its
recorded hidden attention in the Token dynamics view (an image with data, not the "not available"
placeholder); the header's step scrubber moves what the open probe view draws."""

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


def _run_row(browser, url: str, run_id: str):
    """A fresh page on the Runs tab, and the run's row once listed."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(url, wait_until="load", timeout=60_000)
    page.locator(".bk-tab", has_text="Runs").first.click()
    row = page.locator(".tabulator-row", has_text=run_id)
    row.first.wait_for(timeout=30_000)
    return page, row


def test_a_runs_hidden_attention_is_drawn(served_run):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, run_id = served_run
    ART.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, row = _run_row(browser, url, run_id)
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


# every kernel source's K column, joined: changes when the kernels view draws another step
KERNELS = """() => { const doc = (window.Bokeh && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  if (!doc) return null; const out = [];
  for (const m of doc.all_models) { const d = m.data; if (!d || typeof d !== 'object') continue;
    const k = (d instanceof Map) ? d.get('K') : d.K; if (k !== undefined) out.push(Array.from(k).join()); }
  return out.length ? out.sort().join('|') : null; }"""


def test_the_header_scrubber_moves_the_open_probe_view(served_run):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, run_id = served_run
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, row = _run_row(browser, url, run_id)
            row.locator(".tabulator-cell").nth(2).click()  # a data cell: opens the run
            page.get_by_text("Probe step").first.wait_for(timeout=30_000)  # shown: the run has steps 0 and 2
            page.locator(".bk-tab", has_text="Kernels").first.click()
            page.wait_for_timeout(2000)
            at_last = page.evaluate(KERNELS)
            # drag the scrubber's handle to its left end (step 0), as a user would
            box = page.locator(".wb-scrubber .noUi-handle").first.bounding_box()
            track = page.locator(".wb-scrubber .noUi-base").first.bounding_box()
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] / 2, y)
            page.mouse.down()
            page.mouse.move(track["x"] + 2, y, steps=8)
            page.mouse.up()
            deadline, now = time.monotonic() + 30, at_last
            while now == at_last and time.monotonic() < deadline:
                page.wait_for_timeout(300)
                now = page.evaluate(KERNELS)
            page.screenshot(path=str(ART / "dashboard-scrubber.png"), animations="disabled")
        finally:
            browser.close()
    assert at_last is not None and now != at_last, "the kernels did not change with the scrubber"
