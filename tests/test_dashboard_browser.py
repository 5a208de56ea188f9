"""The served dashboard in Debian's Chromium: loads offline and cleanly, previews an edit, trains a
short run live, follows a chosen step, lists CLI runs within 2 s, and exports valid files.

One server and one page for the whole story: starting them dominates the test's time.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from benchmarks.serving import CHROMIUM, CHROMIUM_ARGS as ARGS, served

ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} missing: apt-get install -y chromium (never playwright install)",
    ),
]

# HoloViews replaces source data without a change signal, so the test polls the document (checked on Bokeh 3.x).
# Kernel curves have a column "K" (their value dimension); metric curves have "step" and "value".
READ = """(col) => {
  const doc = (window.Bokeh && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  if (!doc) return null;
  const out = [], cols = col.split(',');
  for (const m of doc.all_models) {
    const d = m.data;
    if (d === undefined || d === null || typeof d !== 'object') continue;
    const get = (c) => (d instanceof Map) ? d.get(c) : d[c];
    if (cols.every(c => get(c) !== undefined)) out.push(Array.from(get(cols[cols.length - 1])));
  }
  return out.length ? out : null;
}"""
SET_WIDGET = """([title, value]) => {
  let n = 0;
  for (const m of Bokeh.documents[0].all_models) if (m.title === title && 'value' in m) { m.value = value; n++; }
  return n;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    runs = tmp / "runs"
    try:
        with served(runs, log=tmp / "panel.log", timeout=90) as srv:
            yield srv.url, runs
    finally:
        print((tmp / "panel.log").read_text())  # shown by pytest only on failure


def _poll(page, until, col="K", timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(READ, col)
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s; last value: {str(value)[:200]}")
        time.sleep(0.2)


def _shot(page, name: str) -> None:
    # generous: on 2 busy cores (a run training, the server redrawing) a capture can take long;
    # CSS animations (the busy indicator) off so the capture need not wait for a still frame
    page.screenshot(path=str(ART / name), full_page=True, animations="disabled", timeout=90_000)


def _tab(page, title: str, shot: str | None = None):
    page.locator(".bk-tab", has_text=title).first.click()
    page.wait_for_timeout(800)  # let the tab's plots lay out and paint before the picture
    if shot:
        _shot(page, shot)


def test_dashboard_story(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, runs = server
    ART.mkdir(exist_ok=True)
    errors, foreign = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):  # record and refuse anything that would need the internet
                if urlparse(r.request.url).hostname in (None, "127.0.0.1", "localhost"):
                    return r.continue_()
                foreign.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            page.goto(url, wait_until="load", timeout=60_000)

            # 1. preview: changing the init changes the kernel plot's data
            before = _poll(page, lambda v: v is not None and len(v[0]) == 40)
            _shot(page, "dashboard-kernels-preview.png")
            page.locator("select:has(option[value='s4d-inv'])").select_option("s4d-inv")
            after = _poll(page, lambda v: v is not None and any(k not in before for k in v))
            assert all(len(k) == 40 for k in after)
            for title, shot in (
                ("Spectrum", "spectrum-preview"),
                ("Memory", "memory-preview"),
                ("Token dynamics", "tokens-preview"),
            ):
                _tab(page, title, f"dashboard-{shot}.png")

            # 2. a run started from the CLI's runner appears in the runs table within 2 s
            _tab(page, "Runs")  # rendered when first opened: wait for the table (the examples) first
            _poll(page, lambda v: v is not None and any("selective-copying" in str(c) for c in v), col="id", timeout=60)
            from workbench.specs import RunSpec
            from workbench.train import runner

            cli_id = runner.create(RunSpec(name="from cli"), runs).name
            t0 = time.monotonic()
            _poll(page, lambda v: v is not None and any(cli_id in c for c in v), col="id", timeout=5)
            assert time.monotonic() - t0 < 2.5  # 1 s period, plus the page's round trip

            # 3. train a short run from the Train button: the loss curve grows while it runs
            for title, value in (("Steps", 120), ("Probe every", 40), ("Eval every", 40)):
                assert page.evaluate(SET_WIDGET, [title, value]) >= 1, title
            page.wait_for_timeout(500)
            page.get_by_role("button", name="Train this spec").click()
            _tab(page, "Training")
            sizes = []
            _poll(
                page,
                lambda v: v is not None and sizes.append(max(map(len, v))) is None and len(set(sizes)) >= 2,
                col="step,value",
                timeout=90,
            )
            _poll(page, lambda v: v is not None and max(map(len, v)) >= 120, col="step,value", timeout=90)
            page.wait_for_timeout(1500)  # the last probe step (120) is shown: follow latest
            _shot(page, "dashboard-training.png")

            # 4. choosing an earlier step (tap on the loss curve near its middle) changes the kernels.
            # Not step 0: its kernels are the untrained preview's (same seed), which sources of plots
            # rebuilt since may still hold, so only a middle step's kernels are surely new to the page.
            _tab(page, "Kernels")
            latest = _poll(page, lambda v: v is not None)
            _tab(page, "Training")
            frame = page.locator(".bk-CartesianFrame:visible").first.bounding_box()  # the loss plot's data area
            page.mouse.click(frame["x"] + frame["width"] * 0.45, frame["y"] + frame["height"] * 0.5)
            page.locator("text=/probes of step (40|80) shown/").first.wait_for(timeout=15_000)
            _tab(page, "Kernels")
            _poll(page, lambda v: v is not None and any(k not in latest for k in v))
            _shot(page, "dashboard-kernels-run.png")
            for title, shot in (
                ("Spectrum", "spectrum-run"),
                ("Memory", "memory-run"),
                ("Token dynamics", "tokens-run"),
                ("Runs", "runs"),
            ):
                _tab(page, title, f"dashboard-{shot}.png")

            # 5. export downloads a zip of valid files
            _tab(page, "Export")
            with page.expect_download(timeout=60_000) as dl:
                page.get_by_role("button", name="Download the export (zip)").click()
            data = Path(dl.value.path()).read_bytes()
            _shot(page, "dashboard-export.png")
        finally:
            browser.close()
    files = zipfile.ZipFile(io.BytesIO(data))
    by_ext = {n.rsplit(".", 1)[1]: files.read(n) for n in files.namelist()}
    assert set(by_ext) == {"png", "svg", "pdf", "html", "nc", "json"}
    assert by_ext["png"].startswith(b"\x89PNG") and by_ext["pdf"].startswith(b"%PDF")
    assert b"<svg" in by_ext["svg"][:1000] and b"<html" in by_ext["html"][:2000].lower()
    assert by_ext["nc"].startswith(b"CDF")
    assert json.loads(by_ext["json"])["ssm"]["init"] == "s4d-inv"
    assert not foreign, f"requests to non-local hosts: {foreign}"
    assert not errors, f"browser console errors: {errors}"
