"""A 2-layer Mamba training step (case 2): this project's blocks against mambapy's, same
configuration (d 128, N 16, expand 2, conv 4, L 1024, batch 8, RMSNorm pre-norm residual blocks)."""

from __future__ import annotations

import torch

from benchmarks.harness import measure, row
from benchmarks.scan import policy_off
from workbench import threads
from workbench.specs import ModelSpec, SSMSpec
from workbench.ssm.model import build_model

OURS, PEER = "workbench mamba blocks", "mambapy Mamba"
FIXED = "workbench mamba blocks, thread policy off"


def build(d, N, L, b, impl):
    torch.manual_seed(0)
    x = torch.randn(b, L, d)
    if impl in (OURS, FIXED):
        model = build_model(
            ModelSpec(layer="mamba", d_model=d, n_layers=2, norm="rmsnorm", d_input=d, d_output=d),
            SSMSpec(init="s4d-real", d_state=N, discretization="mamba", dt_transform="softplus"),
        )
        blocks = model.layers
        params = list(blocks.parameters())

        def fwd():
            h = x
            for blk in blocks:
                h = blk(h)
            return h
    else:
        from mambapy.mamba import Mamba, MambaConfig

        peer = Mamba(MambaConfig(d_model=d, n_layers=2, d_state=N, expand_factor=2, d_conv=4, pscan=True))
        params = list(peer.parameters())

        def fwd():
            return peer(x)

    opt = torch.optim.AdamW(params, lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        fwd().square().mean().backward()
        opt.step()

    if impl == PEER:
        return step

    def policed():  # as the training loop runs a step (workbench.train.loop)
        with threads.adaptive(b * L * d):
            step()

    return policy_off(policed) if impl == FIXED else policed


def run(quick: bool = False) -> list[dict]:
    try:
        import mambapy  # noqa: F401
    except ImportError:
        return []
    args = (64, 16, 256, 4) if quick else (128, 16, 1024, 8)
    res = measure(
        "benchmarks.model", args, [OURS, FIXED, PEER], repeats=3 if quick else 5, loaded=None if quick else [OURS, PEER]
    )
    case = "2-layer Mamba training step d{} N{} L{} b{}".format(*args)
    ours, fixed, peer = res[OURS], res[FIXED], res[PEER]
    ratio = peer["median_s"] / ours["median_s"]
    extra = {"target": "≥ 1.5×", "met": ratio >= 1.5}
    if "loaded" in peer:
        extra["loaded_ratio"] = peer["loaded"]["median_s"] / ours["loaded"]["median_s"]
    return [
        row(case, OURS, ours),
        row(
            case,
            FIXED,
            fixed,
            vs="workbench",
            ratio=fixed["median_s"] / ours["median_s"],
            target="quiet ≥ 0.91× (the policy costs ≤ 10 % quiet)",
            met=fixed["median_s"] / ours["median_s"] >= 1 / 1.1,
        ),
        row(case, PEER, peer, vs="workbench", ratio=ratio, **extra),
    ]
