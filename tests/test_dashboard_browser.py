"""The served dashboard in Debian's Chromium: loads offline and cleanly, and redraws on an edit."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} missing: apt-get install -y chromium (never playwright install)"),
]

# Every kernel curve's source has a column "K" (the Curve's value dimension); read them all.
# HoloViews replaces source data without a change signal, so the test polls (PRACTICE.md).
READ_KERNELS = """() => {
  const doc = (window.Bokeh && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  if (!doc) return null;
  const out = [];
  for (const m of doc.all_models) {
    if (m.data !== undefined && m.data !== null && m.data.K !== undefined) out.push(Array.from(m.data.K));
  }
  return out.length ? out : null;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_served(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"panel serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "panel.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "panel", "serve", "apps/dashboard.py", "--port", str(port),
         "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/dashboard"
    try:
        _wait_until_served(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        print((tmp_path / "panel.log").read_text())  # shown by pytest only on failure


def _poll(page, fn, until, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(fn)
        if until(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s; last value: {str(value)[:200]}")


def test_dashboard_loads_offline_and_redraws(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    errors, foreign = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):  # record and refuse anything that would need the internet
                host = urlparse(r.request.url).hostname
                if host in (None, "127.0.0.1", "localhost"):  # None: data: and blob: URLs
                    return r.continue_()
                foreign.append(r.request.url)
                return r.abort()
            page.route("**/*", route)

            page.goto(server, wait_until="load", timeout=60_000)
            before = _poll(page, READ_KERNELS, lambda v: v is not None and len(v[0]) == 1024)

            page.locator("select:has(option[value='s4d-inv'])").select_option("s4d-inv")
            after = _poll(page, READ_KERNELS, lambda v: v is not None and v != before)
            assert len(after) == len(before) and len(after[0]) == 1024

            page.wait_for_timeout(500)  # let the new data paint before the picture
            out = ROOT / "test-artifacts"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert not foreign, f"requests to non-local hosts: {foreign}"
    assert not errors, f"browser console errors: {errors}"
