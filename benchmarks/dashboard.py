"""Dashboard responsiveness: knob-to-kernel latency in Chromium, and what a watching
session costs a run. `python -m benchmarks.dashboard [--reps 20]` (about 3 minutes; `make bench-dashboard`).

(a) The page changes the SSM init through the Bokeh model of its widget (what a click does) and
    times, inside the page, until the kernel plot's data source holds new data, then until the
    next animation frame (the repaint). The default model (2×S4D, H 32, N 64); each change waits
    for the previous one's slow half (memory, tokens) to finish, so every change meets an idle session.
(0) First paint: a fresh browser opens the page (a new session each time); from the navigation's
    start, the first contentful paint (the page's frame and its loading indicator) and the first
    figure holding data (the kernels), on the page's clock.
(b) The same short run trained headless and started from the dashboard's Train button with that
    session following it (1 s polling, every view redrawn on new probes), in alternating order:
    steps per second from the run's own clock.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS, machine
from benchmarks.serving import CHROMIUM, CHROMIUM_ARGS, served

ROOT = Path(__file__).resolve().parents[1]
STEPS = 2000

# In the page: set the Init widget, then poll the kernel sources every animation frame until their
# data changed (t_data), and one frame more for the paint (t_paint). Milliseconds, page clock.
KNOB = """async (value) => {
  const doc = Bokeh.documents[0];
  const sources = () => Array.from(doc.all_models).filter(m => m.data && ((m.data instanceof Map) ? m.data.has('K') : 'K' in m.data));
  const snap = () => sources().map(s => { const d = s.data; return Array.from((d instanceof Map) ? d.get('K') : d.K).join(); }).join('|');
  const before = snap();
  const init = Array.from(doc.all_models).find(m => m.title === 'Init' && 'value' in m);
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const t0 = performance.now();
  init.value = value;
  while (snap() === before) { await frame(); if (performance.now() - t0 > 20000) return null; }
  const t_data = performance.now() - t0;
  await frame();
  return [t_data, performance.now() - t0];
}"""
# the first plot whose renderers hold data: ms since the navigation started, or null
FIRST_FIGURE = """() => { if (!(window.Bokeh && Bokeh.documents.length)) return null;
  for (const m of Bokeh.documents[0].all_models)
    if (m.renderers && m.x_range && m.renderers.some(g => g.data_source && g.data_source.get_length
        && g.data_source.get_length() > 1)) return performance.now();
  return null; }"""
FCP = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null"
SET_WIDGET = """([title, value]) => { let n = 0;
  for (const m of Bokeh.documents[0].all_models) if (m.title === title && 'value' in m) { m.value = value; n++; }
  return n; }"""


def open_page(p, url):
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(url, wait_until="load", timeout=90_000)
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length && Array.from(Bokeh.documents[0].all_models)"
        ".some(m => m.title === 'Init')",
        timeout=90_000,
    )
    page.wait_for_timeout(2000)
    return browser, page


def first_paint(p, url, reps: int) -> dict:
    fcp, figure = [], []
    for _ in range(reps + 1):  # the first session warms the server's caches: not counted
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url, wait_until="commit", timeout=90_000)
            t = page.wait_for_function(FIRST_FIGURE, timeout=120_000, polling=20).json_value()
            fcp.append(page.evaluate(FCP))
            figure.append(t)
            page.wait_for_timeout(2500)  # the preview's slow half, before the session closes
        finally:
            browser.close()
    return {"first_contentful_paint": _stats(fcp[1:]), "first_figure": _stats(figure[1:])}


def _stats(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return {"median_ms": float("nan"), "p95_ms": float("nan"), "all_ms": []}
    return {"median_ms": statistics.median(v), "p95_ms": v[min(len(v) - 1, round(0.95 * (len(v) - 1)))], "all_ms": v}


def latency(p, url, reps: int) -> dict:
    browser, page = open_page(p, url)
    inits = ["s4d-inv", "s4d-lin"]
    data, paint = [], []
    try:
        for i in range(reps + 2):  # two warm-up changes
            out = page.evaluate(KNOB, inits[i % 2])
            assert out is not None, "the kernel plot did not change"
            if i >= 2:
                data.append(out[0])
                paint.append(out[1])
            page.wait_for_timeout(1500)  # the preview's slow half (memory, tokens) finishes
    finally:
        browser.close()

    return {"to_data": _stats(data), "to_paint": _stats(paint)}


def steps_per_s(run_dir: Path) -> float:
    from workbench.store import open_run

    m = open_run(run_dir).metrics
    return float(m.sizes["step"] / m["wall_time_s"].values[-1])


def wait_done(runs: Path, run_id: str, timeout: float = 600) -> None:
    from workbench.store import open_run

    t0 = time.monotonic()
    while open_run(run_id, runs).status not in ("completed", "failed", "stopped"):
        assert time.monotonic() - t0 < timeout, f"{run_id} did not finish"
        time.sleep(0.5)


def watched_run(p, url, runs: Path) -> str:
    """Start the run from the page's Train button; the session follows it on the Training tab."""
    browser, page = open_page(p, url)
    try:
        for title, value in (("Steps", STEPS),):
            assert page.evaluate(SET_WIDGET, [title, value]) >= 1
        page.wait_for_timeout(500)
        before = {d.name for d in runs.iterdir()} if runs.exists() else set()
        page.get_by_role("button", name="Train this spec").click()
        page.locator(".bk-tab", has_text="Training").first.click()
        for _ in range(100):
            new = {d.name for d in runs.iterdir() if d.is_dir()} - before if runs.exists() else set()
            if new:
                break
            time.sleep(0.1)
        run_id = new.pop()
        wait_done(runs, run_id)
        return run_id
    finally:
        browser.close()


def throughput(p, url, runs: Path, pairs: int) -> dict:
    """ABBA order (dashboard, headless, headless, dashboard, ...) against drift of a shared machine;
    the headless runs reuse the spec the dashboard wrote, so both train the same thing."""
    from workbench.specs import RunSpec
    from workbench.store import open_run
    from workbench.train import runner

    out = {"dashboard": [], "headless": []}
    spec = None
    for mode in (["dashboard", "headless", "headless", "dashboard"] * pairs)[: 2 * pairs]:
        if mode == "dashboard":
            rid = watched_run(p, url, runs)
            spec = spec or open_run(rid, runs).spec
        else:
            rid, proc = runner.start(RunSpec.from_dict(spec, name="headless"), runs)
            proc.wait()
            wait_done(runs, rid)
        out[mode].append(steps_per_s(runs / rid))
    h, w = statistics.median(out["headless"]), statistics.median(out["dashboard"])
    return {
        "headless_steps_per_s": out["headless"],
        "dashboard_steps_per_s": out["dashboard"],
        "ratio": w / h,
        "steps": STEPS,
        "spec": spec,
    }


def run(reps: int = 20, pairs: int = 2) -> str:
    """Both measures; writes results/dashboard.{json,md} and returns the Markdown."""
    from playwright.sync_api import sync_playwright

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        runs = Path(tmp) / "runs"
        with served(runs, timeout=90) as srv:
            url = srv.url
            first = first_paint(p, url, max(3, reps // 4))
            print(json.dumps({k: round(v["median_ms"]) for k, v in first.items()}), flush=True)
            lat = latency(p, url, reps)
            print(
                json.dumps({k: {m: round(v[m], 1) for m in ("median_ms", "p95_ms")} for k, v in lat.items()}),
                flush=True,
            )
            thr = throughput(p, url, runs, pairs)
            print(json.dumps({k: v for k, v in thr.items() if k != "spec"}), flush=True)
        time.sleep(1)  # let the last run's worker release its files before the folder goes
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(
        json.dumps({"machine": machine(), "first_paint": first, "latency": lat, "throughput": thr}, indent=1)
    )
    d, pt = lat["to_data"], lat["to_paint"]
    lines = [
        "| measure | value | target | met |",
        "|---|---:|---|---|",
        f"| page opened → frame and loading indicator painted, median | "
        f"{first['first_contentful_paint']['median_ms']:.0f} ms | | |",
        f"| page opened → first figure with data, median | {first['first_figure']['median_ms']:.0f} ms | ≤ 3 s | "
        f"{'yes' if first['first_figure']['median_ms'] <= 3000 else 'no'} |",
        f"| page opened → first figure with data, p95 | {first['first_figure']['p95_ms']:.0f} ms | | |",
        f"| init change → new kernel data in the page, median | {d['median_ms']:.0f} ms | | |",
        f"| init change → new kernel data in the page, p95 | {d['p95_ms']:.0f} ms | | |",
        f"| init change → kernel view repainted, median | {pt['median_ms']:.0f} ms | ≤ 150 ms | "
        f"{'yes' if pt['median_ms'] <= 150 else 'no'} |",
        f"| init change → kernel view repainted, p95 | {pt['p95_ms']:.0f} ms | ≤ 300 ms | "
        f"{'yes' if pt['p95_ms'] <= 300 else 'no'} |",
        f"| training, headless (median of {len(thr['headless_steps_per_s'])}) | "
        f"{statistics.median(thr['headless_steps_per_s']):.1f} steps/s | | |",
        f"| training, one dashboard session following (median of {len(thr['dashboard_steps_per_s'])}) | "
        f"{statistics.median(thr['dashboard_steps_per_s']):.1f} steps/s | | |",
        f"| throughput with the dashboard / headless | {100 * thr['ratio']:.0f} % | ≥ 90 % | "
        f"{'yes' if thr['ratio'] >= 0.9 else 'no'} |",
    ]
    m, load = machine(), " ".join(f"{v:.1f}" for v in load0)
    text = (
        f"Dashboard (Chromium, headless). Machine: {m['cpu']}, {m['cores']} cores. Default dashboard model; "
        f"{reps} init changes; {STEPS}-step runs; load average at start {load}.\n\n" + "\n".join(lines) + "\n"
    )
    (RESULTS / "dashboard.md").write_text(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(prog="benchmarks.dashboard")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--pairs", type=int, default=2, help="headless/dashboard run pairs")
    ns = ap.parse_args()
    print(run(ns.reps, ns.pairs))


if __name__ == "__main__":
    main()
