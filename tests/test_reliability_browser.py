"""The dashboard served from a read-only runs root (a read-only bind mount: even root cannot write)
lists its runs, names a damaged one as damaged in the Runs view, and reports (not raises) when that
run is selected; the server log stays free of tracebacks."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks import serving
from workbench.store import RunWriter

ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
READ_IDS = """() => {
  const doc = (window.Bokeh && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  if (!doc) return null;
  for (const m of doc.all_models) {
    const d = m.data;
    if (!d || typeof d !== 'object') continue;
    const get = (c) => (d instanceof Map) ? d.get(c) : d[c];
    if (get('id') !== undefined && get('status') !== undefined) {
      const ids = Array.from(get('id')), st = Array.from(get('status'));
      return Object.fromEntries(ids.map((k, i) => [k, st[i]]));
    }
  }
  return null;
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare for a read-only bind mount"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ro")
    runs = tmp / "runs"
    ids = []
    for i in range(3):
        w = RunWriter.create({"model": {"layer": "s4d"}, "task": {"kind": "adding"}}, f"ro run {i}", runs)
        for s in range(1, 30):
            w.log_metrics(s, {"loss": 1.0 / s})
        w.set_status("completed", step=29, final={"mse": 0.1})
        w.close()
        ids.append(w.id)
    db = runs / ids[1] / "run.sqlite"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])  # the damaged one
    if subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("unshare -m not permitted here")

    def read_only(port: int) -> list[str]:  # the server sees `runs` through a read-only bind mount
        r = shlex.quote(str(runs))
        ro = f"mount --bind {r} {r} && mount -o remount,bind,ro {r}"
        return ["unshare", "-m", "sh", "-c", f"{ro} && exec {shlex.join(serving.panel_serve(port))}"]

    with serving.served(runs, read_only, log=tmp / "panel.log") as srv:
        yield srv.url, ids, tmp / "panel.log"


def test_read_only_store_served_and_damaged_run_shown(served):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, ids, log = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="load", timeout=60_000)
            page.locator(".bk-tab", has_text="Runs").first.click()
            deadline, status = time.monotonic() + 30, None
            while time.monotonic() < deadline:
                status = page.evaluate(READ_IDS)
                if status and all(i in status for i in ids):
                    break
                time.sleep(0.3)
            assert status is not None and all(i in status for i in ids), status
            assert status[ids[1]] == "damaged" and status[ids[0]] == status[ids[2]] == "completed"
            notice = page.get_by_text(re.compile(r"^Damaged: ")).first  # text locators pierce shadow roots
            notice.wait_for(state="visible", timeout=10_000)
            assert ids[1] in notice.inner_text() and ids[0] not in notice.inner_text()
            # selecting the damaged run: reported in the view, no traceback in the server log
            page.locator(".tabulator-row", has_text=ids[1]).locator("input[type=checkbox]").first.click()
            page.wait_for_timeout(1500)  # the selection reaches the server; the next tick reads the run
            page.get_by_text(re.compile(rf"{ids[1]}.*is damaged")).first.wait_for(state="visible", timeout=15_000)
            page.wait_for_timeout(2500)  # a few ticks of the periodic reader
            ART.mkdir(exist_ok=True)
            page.screenshot(path=str(ART / "runs-damaged-read-only.png"), full_page=True, animations="disabled")
        finally:
            browser.close()
    text = log.read_text()
    assert "Traceback" not in text and "Read-only file system" not in text, text[-3000:]
