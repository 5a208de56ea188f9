"""Selective scan forward+backward: the fast path against the sequential reference and mambapy."""

from __future__ import annotations

import os

import torch

from benchmarks.harness import measure, row
from workbench.ssm.scan import selective_scan, selective_scan_ref

OURS, REF, MAMBAPY = "workbench selective_scan", "sequential reference", "mambapy pscan"
FIXED = "workbench selective_scan, thread policy off"  # torch's thread count for every op: the code before


def mambapy_scan():
    """mambapy's parallel scan, driven with the standard Mamba formulas in its (b, L, D, N) layout."""
    try:
        from mambapy.pscan import pscan
    except ImportError:
        return None

    def scan(u, delta, A, B, C, D):
        x, dt = u.transpose(1, 2), delta.transpose(1, 2)  # (b, L, D)
        dA = torch.exp(dt[..., None] * A)  # (b, L, D, N)
        BX = (dt * x)[..., None] * B.transpose(1, 2)[:, :, None, :]
        hs = pscan(dA, BX)
        y = (hs @ C.transpose(1, 2)[..., None])[..., 0] + D * x
        return y.transpose(1, 2)

    return scan


def build(b, D, N, L, impl):
    """A callable running one forward+backward of `impl` on seeded inputs."""
    g = torch.Generator().manual_seed(0)
    kw = dict(
        u=torch.randn(b, D, L, generator=g),
        delta=torch.rand(b, D, L, generator=g) * 0.1,
        A=-torch.rand(D, N, generator=g) - 0.5,
        B=torch.randn(b, N, L, generator=g),
        C=torch.randn(b, N, L, generator=g),
        D=torch.randn(D, generator=g),
    )
    fn = {OURS: selective_scan, FIXED: selective_scan, REF: selective_scan_ref, MAMBAPY: mambapy_scan()}[impl]
    leaves = {k: v.requires_grad_() for k, v in kw.items()}
    step = lambda: fn(**leaves).square().mean().backward()
    return policy_off(step) if impl == FIXED else step


def policy_off(fn):
    """fn run with WORKBENCH_THREADS=fixed (workbench.threads), the environment restored after."""

    def run():
        before = os.environ.get("WORKBENCH_THREADS")
        os.environ["WORKBENCH_THREADS"] = "fixed"
        try:
            return fn()
        finally:
            if before is None:
                del os.environ["WORKBENCH_THREADS"]
            else:
                os.environ["WORKBENCH_THREADS"] = before

    return run


def run(quick: bool = False) -> list[dict]:
    rows = []
    have_peer = mambapy_scan() is not None
    peer = [MAMBAPY] if have_peer else []
    sizes = [(8, 64, 16, 1024)] if quick else [(8, 128, 16, 1024), (8, 128, 16, 4096), (8, 64, 16, 1024)]
    for b, D, N, L in sizes:
        # under load: the project's scan and mambapy (the D 128 sizes); the policy-off scan only
        # at L 1024, where its collapse costs seconds rather than minutes
        loaded = [] if quick or D != 128 else [OURS] + peer + ([FIXED] if L == 1024 else [])
        repeats = 3 if quick else 9 if L <= 1024 else 5  # L 4096: the reference and the peer take seconds each
        res = measure("benchmarks.scan", (b, D, N, L), [OURS, FIXED, REF] + peer, repeats=repeats, loaded=loaded)
        case = f"selective scan fwd+bwd b{b} D{D} N{N} L{L}"
        ours = res[OURS]
        spread = ours["loaded"]["spread"] if "loaded" in ours else None
        rows.append(
            row(
                case,
                OURS,
                ours,
                **({} if spread is None else {"target": "loaded p90/median ≤ 1.5", "met": spread <= 1.5}),
            )
        )
        fixed = res[FIXED]
        rows.append(
            row(
                case,
                FIXED,
                fixed,
                vs="workbench",
                ratio=fixed["median_s"] / ours["median_s"],
                target="quiet ≥ 0.91× (the policy costs ≤ 10 % quiet)",
                met=fixed["median_s"] / ours["median_s"] >= 1 / 1.1,
                **(
                    {"loaded_ratio": fixed["loaded"]["median_s"] / ours["loaded"]["median_s"]}
                    if "loaded" in fixed
                    else {}
                ),
            )
        )
        r = res[REF]
        ratio = r["median_s"] / ours["median_s"]
        rows.append(
            row(
                case,
                REF,
                r,
                vs="workbench",
                ratio=ratio,
                target="≥ 3×" if D == 64 else "≥ 5×",
                met=ratio >= (3 if D == 64 else 5),
            )
        )
        if have_peer:
            r = res[MAMBAPY]
            ratio = r["median_s"] / ours["median_s"]
            extra = {"target": "≥ 2×, no more memory", "met": ratio >= 2 and ours["peak_mb"] <= r["peak_mb"]}
            if "loaded" in r:
                lr = r["loaded"]["median_s"] / ours["loaded"]["median_s"]
                extra = {
                    "loaded_ratio": lr,
                    "target": extra["target"] + "; loaded ≥ 4× and ≥ half the quiet ratio",
                    "met": extra["met"] and lr >= 4 and lr >= ratio / 2,
                }
            rows.append(row(case, MAMBAPY, r, vs="workbench", ratio=ratio, **extra))
    return rows
