"""Timing and memory harness: peers alternate within one process, medians and ratios are reported.

Peak memory is measured in a fresh process per implementation (freed memory stays with a
process, so in-process readings depend on what ran before): the peak resident set size during
one call, above the resident size just before it.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import psutil
import torch

from benchmarks.load import Busy, competing_load, stats

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": gpu,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }


def peak_rss_mb(module: str, args: tuple, impl: str) -> float:
    """Peak RSS growth (MB) of one call of `module.build(*args, impl)`, in a fresh process."""
    # Linux: writing 5 to clear_refs resets the high-water mark VmHWM, so imports don't count.
    # A tiny autograd call first, so thread pools and arenas that any first call creates don't count.
    code = (
        f"import psutil, torch; import {module} as m; fn = m.build(*{args!r}, {impl!r}); "
        "(torch.ones(64, requires_grad=True) * 2).exp().sum().backward(); "
        "open('/proc/self/clear_refs', 'w').write('5'); base = psutil.Process().memory_info().rss; fn(); "
        "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')); "
        "print((hwm * 1024 - base) / 2**20)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return max(0.0, float(out.stdout.strip().splitlines()[-1]))


def _timed(fns: dict, repeats: int, warmup: int) -> dict:
    """{name: stats + "busy"}; the order rotates every repetition, so drift hits every peer alike."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times = {n: [] for n in names}
    with Busy() as busy:
        for r in range(repeats):
            for n in names[r % len(names) :] + names[: r % len(names)]:
                t0 = time.perf_counter()
                fns[n]()
                times[n].append(time.perf_counter() - t0)
    return {n: {**stats(times[n]), "busy": busy.value} for n in names}


def measure(
    module: str, args: tuple, impls: list[str], repeats: int = 7, warmup: int = 1, loaded: list[str] | None = None
) -> dict:
    """{impl: {"median_s", "p90_s", "spread", "times_s", "busy", "peak_mb"[, "loaded": {...}]}}.

    `loaded`: the implementations measured a second time beside a competing CPU-bound process
    pinned to one core (benchmarks.load); "busy" is the other processes' CPU use during a pass, in cores.
    """
    mod = importlib.import_module(module)
    fns = {n: mod.build(*args, n) for n in impls}
    out = _timed(fns, repeats, warmup)
    if loaded:
        with competing_load():
            for n, r in _timed({n: fns[n] for n in loaded}, repeats, warmup).items():
                out[n]["loaded"] = r
    for n in impls:
        out[n]["peak_mb"] = peak_rss_mb(module, args, n)
    # progress on stderr: a long run that is cut short still shows what it measured
    print(
        json.dumps(
            {
                "module": module,
                "args": args,
                **{
                    n: {k: out[n][k] for k in ("median_s", "p90_s")}
                    | (
                        {"loaded_median_s": out[n]["loaded"]["median_s"], "loaded_p90_s": out[n]["loaded"]["p90_s"]}
                        if "loaded" in out[n]
                        else {}
                    )
                    for n in impls
                },
            }
        ),
        file=sys.stderr,
        flush=True,
    )
    return out


def _ms(x) -> str:
    return "" if x is None else f"{1000 * x:.1f}"


def _cores(r: dict, key: str) -> str:
    return "" if r.get(key) is None else f"{r[key]:.2f}"


def write_report(rows: list[dict], name: str = "latest") -> str:
    """rows: {"case", "impl", "median_s", "peak_mb", "vs", "ratio", "target", "met"}, and for the cases
    also measured under load "p90_s", "loaded_median_s", "loaded_p90_s", "loaded_ratio", "busy",
    "loaded_busy" -> Markdown."""
    RESULTS.mkdir(exist_ok=True)
    m = machine()
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": m, "rows": rows}, indent=1))
    busy = [r[k] for r in rows for k in ("busy", "loaded_busy") if r.get(k) is not None]
    note = (
        (
            "Quiet: as the machine was (other processes' CPU use during each pass in the busy columns, in "
            "cores). Loaded: the same, beside one CPU-bound process pinned to one core (started and stopped "
            "by the benchmark). Ratio: the peer's median over the project's, in the same pass."
        )
        if busy
        else ""
    )
    header = (
        "| case | implementation | median (ms) | p90 (ms) | busy | loaded median (ms) | loaded p90 (ms) | "
        "loaded p90/median | loaded busy | peak RSS (MB) | ratio vs peer | loaded ratio | target | met |"
    )
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, torch {m['torch']} "
        f"({m['torch_threads']} threads){', GPU ' + m['gpu'] if m['gpu'] else ''}",
        "",
        note,
        "",
        header,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['ratio']:.2f}× vs {r['vs']}" if r.get("vs") else ""
        lratio = f"{r['loaded_ratio']:.2f}×" if r.get("loaded_ratio") is not None else ""
        mem = "" if r.get("peak_mb") is None else f"{r['peak_mb']:.0f}"
        met = "" if r.get("met") is None else ("yes" if r["met"] else "no")
        spread = "" if r.get("loaded_median_s") is None else f"{r['loaded_p90_s'] / r['loaded_median_s']:.2f}"
        lines.append(
            f"| {r['case']} | {r['impl']} | {_ms(r['median_s'])} | {_ms(r.get('p90_s'))} | {_cores(r, 'busy')} | "
            f"{_ms(r.get('loaded_median_s'))} | {_ms(r.get('loaded_p90_s'))} | {spread} | "
            f"{_cores(r, 'loaded_busy')} | "
            f"{mem} | {ratio} | {lratio} | {r.get('target', '')} | {met} |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(text)
    return text


def row(case: str, impl: str, r: dict, **extra) -> dict:
    """A report row from one implementation's `measure` result (quiet and, when measured, loaded)."""
    out = {
        "case": case,
        "impl": impl,
        "median_s": r["median_s"],
        "p90_s": r["p90_s"],
        "busy": r.get("busy"),
        "peak_mb": r.get("peak_mb"),
    }
    if "loaded" in r:
        lo = r["loaded"]
        out.update(loaded_median_s=lo["median_s"], loaded_p90_s=lo["p90_s"], loaded_busy=lo.get("busy"))
    return {**out, **extra}
