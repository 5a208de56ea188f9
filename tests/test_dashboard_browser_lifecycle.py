"""The run lifecycle in Chromium: a click on a run's row opens it with its spec in the sidebar, the
header's progress advances while a run trains, and Euler with Δ in [0.1, 1] raises the stability
banner. Screenshots of each state go to test-artifacts/."""

from __future__ import annotations

import re
import time

import pytest

from tests.test_dashboard_browser import ARGS, ART, CHROMIUM, SET_WIDGET, _shot, _tab, server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _progress(page) -> int:
    text = page.locator(".wb-run").first.text_content(timeout=30_000) or ""
    found = re.search(r"step\s+(\d+)", text)
    assert found, f"no step in the header: {text!r}"
    return int(found.group(1))


def test_run_lifecycle(server):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    url, runs = server
    ART.mkdir(exist_ok=True)
    from workbench.specs import RunSpec
    from workbench.store import RunWriter

    spec = RunSpec.from_dict(
        {"model": {"layer": "s4d", "d_model": 4}, "ssm": {"init": "s4d-inv", "d_state": 8}, "train": {"steps": 10}},
        name="finished by hand",
    )
    w = RunWriter.create(spec.to_dict(), spec.name, runs)
    for s in range(1, 11):
        w.log_metrics(s, {"loss": 1 / s, "wall_time_s": 0.1 * s})
    w.set_status("completed", step=10, final={"loss": 0.1})
    w.close()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url, wait_until="load", timeout=60_000)
            page.locator(".wb-run", has_text="Preview").first.wait_for(timeout=60_000)

            # 1. a click on the run's row (its name) opens it; the sidebar shows its spec read-only
            _tab(page, "Runs")
            page.locator(".tabulator-cell", has_text="finished by hand").first.click(timeout=30_000)
            page.locator(".wb-badge[data-status='completed']").first.wait_for(timeout=60_000)
            page.locator("text=Spec of the open run").first.wait_for(timeout=60_000)
            assert page.locator(".wb-run-spec", has_text="s4d-inv").first.is_visible()
            _shot(page, "lifecycle-run-opened.png")
            page.get_by_role("button", name="Copy into the editor").click()
            page.locator(".wb-run", has_text="Preview").first.wait_for(timeout=60_000)

            # 2. a run trains: the header's step advances. Long enough to still be live when the rate shows
            # (400 steps of this model finish in seconds on a fast CPU, and a finished run shows no rate);
            # the test stops it
            for title, value in (("Steps", 100_000), ("Probe every", 100), ("Eval every", 50)):
                assert page.evaluate(SET_WIDGET, [title, value]) >= 1, title
            page.wait_for_timeout(500)
            page.get_by_role("button", name="Train this spec").click()
            page.locator(".wb-badge[data-status='running']").first.wait_for(timeout=60_000)
            first = _progress(page)
            deadline = time.monotonic() + 60
            while _progress(page) <= first:
                assert time.monotonic() < deadline, "the header's step did not advance"
                page.wait_for_timeout(500)
            # the rate needs two recorded steps; the read of a followed run backs off by its cost (≤ 5 s)
            page.locator(".wb-run", has_text="steps/s").first.wait_for(timeout=30_000)
            _shot(page, "lifecycle-progress.png")
            page.get_by_role("button", name="Stop").click()
            page.get_by_role("button", name="Back to preview").click()

            # 3. forward Euler with Δ in [0.1, 1]: the banner names the field and a fix
            page.locator(".wb-run", has_text="Preview").first.wait_for(timeout=60_000)
            page.locator("select:has(option[value='euler'])").first.select_option("euler")
            for title, value in (("Dt max", 1.0), ("Dt min", 0.1)):
                page.evaluate(SET_WIDGET, [title, value])
            banner = page.locator(".stability-banner", has_text="ssm.discretization").first
            banner.wait_for(timeout=60_000)
            page.locator(".stability-banner", has_text="zoh").first.wait_for(timeout=10_000)  # the fix is named
            _tab(page, "Kernels", "lifecycle-euler-banner.png")
        finally:
            browser.close()
