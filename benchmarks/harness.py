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
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "gpu": gpu,
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)}


def peak_rss_mb(module: str, args: tuple, impl: str) -> float:
    """Peak RSS growth (MB) of one call of `module.build(*args, impl)`, in a fresh process."""
    # Linux: writing 5 to clear_refs resets the high-water mark VmHWM, so imports don't count.
    # A tiny autograd call first, so thread pools and arenas that any first call creates don't count.
    code = (f"import psutil, torch; import {module} as m; fn = m.build(*{args!r}, {impl!r}); "
            "(torch.ones(64, requires_grad=True) * 2).exp().sum().backward(); "
            "open('/proc/self/clear_refs', 'w').write('5'); base = psutil.Process().memory_info().rss; fn(); "
            "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')); "
            "print((hwm * 1024 - base) / 2**20)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    return max(0.0, float(out.stdout.strip().splitlines()[-1]))


def measure(module: str, args: tuple, impls: list[str], repeats: int = 7, warmup: int = 1) -> dict:
    """{impl: {"median_s", "times_s", "peak_mb"}}; the order rotates every repetition."""
    mod = importlib.import_module(module)
    fns = {n: mod.build(*args, n) for n in impls}
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            fns[n]()
            times[n].append(time.perf_counter() - t0)
    out = {}
    for n in names:
        out[n] = {"median_s": statistics.median(times[n]), "times_s": times[n],
                  "peak_mb": peak_rss_mb(module, args, n)}
    return out


def write_report(rows: list[dict], name: str = "latest") -> str:
    """rows: {"case", "impl", "median_s", "peak_mb", "vs", "ratio", "target", "met"} -> Markdown."""
    RESULTS.mkdir(exist_ok=True)
    m = machine()
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": m, "rows": rows}, indent=1))
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, torch {m['torch']} "
             f"({m['torch_threads']} threads){', GPU ' + m['gpu'] if m['gpu'] else ''}", "",
             "| case | implementation | median (ms) | peak RSS (MB) | ratio vs peer | target | met |",
             "|---|---|---:|---:|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}× vs {r['vs']}" if r.get("vs") else ""
        mem = "" if r.get("peak_mb") is None else f"{r['peak_mb']:.0f}"
        met = "" if r.get("met") is None else ("yes" if r["met"] else "no")
        lines.append(f"| {r['case']} | {r['impl']} | {1000 * r['median_s']:.1f} | {mem} | {ratio} | "
                     f"{r.get('target', '')} | {met} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(text)
    return text
