"""One constructor per layer kind: (ModelSpec, SSMSpec, seed) -> mixer module. Chosen once, by name.

`seed` is the mixer's whole initialization: each layer draws every random number from a
torch.Generator seeded with it (never from the global generator).
"""

from __future__ import annotations

from workbench.ssm.attention import Attention
from workbench.ssm.build import build_layer
from workbench.ssm.deltanet import DeltaNet
from workbench.ssm.gated_deltanet import GatedDeltaNet
from workbench.ssm.gla import GLA
from workbench.ssm.lru import LRU
from workbench.ssm.mamba import Mamba
from workbench.ssm.mamba2 import Mamba2
from workbench.ssm.mega_ema import MegaEMA
from workbench.ssm.mlstm import MLSTM
from workbench.ssm.rg_lru import RGLRU
from workbench.ssm.s4d_block import S4DBlock


def _mamba(m, s, seed):
    return Mamba(
        d_model=m.d_model,
        d_state=s.d_state,
        expand=m.expand,
        d_conv=m.d_conv,
        dt_rank=m.dt_rank or None,
        init=s.init,
        dt_min=s.dt_min,
        dt_max=s.dt_max,
        dt_transform=s.dt_transform,
        a_reparam=s.a_reparam,
        discretization=s.discretization,
        selective_delta=m.selective_delta,
        selective_B=m.selective_B,
        selective_C=m.selective_C,
        gate=m.gate,
        learn_a=s.learn_a,
        ssm_lr=s.ssm_lr,
        seed=seed,
    )


def _s4d(m, s, seed):
    return S4DBlock(ssm=build_layer(s.replace(seed=seed), m.d_model), d_model=m.d_model, seed=seed)


MIXERS = {
    "s4d": _s4d,
    "mamba": _mamba,
    "mamba2": lambda m, s, seed: Mamba2(
        d_model=m.d_model,
        d_state=s.d_state,
        expand=m.expand,
        heads=m.heads,
        d_conv=m.d_conv,
        dt_min=s.dt_min,
        dt_max=s.dt_max,
        dt_transform=s.dt_transform,
        chunk=m.chunk,
        ssm_lr=s.ssm_lr,
        seed=seed,
    ),
    "mlstm": lambda m, s, seed: MLSTM(d_model=m.d_model, heads=m.heads, seed=seed),
    "gla": lambda m, s, seed: GLA(d_model=m.d_model, heads=m.heads, seed=seed),
    "mega-ema": lambda m, s, seed: MegaEMA(d_model=m.d_model, d_state=s.d_state, seed=seed),
    "lru": lambda m, s, seed: LRU(
        d_model=m.d_model,
        d_state=s.d_state,
        r_min=s.r_min,
        r_max=s.r_max,
        max_phase=s.max_phase,
        ssm_lr=s.ssm_lr,
        seed=seed,
    ),
    "attention": lambda m, s, seed: Attention(d_model=m.d_model, heads=m.heads, seed=seed),
    "deltanet": lambda m, s, seed: DeltaNet(
        d_model=m.d_model, heads=m.heads, d_conv=m.d_conv, beta_max=m.beta_max, chunk=m.chunk, seed=seed
    ),
    "gated-deltanet": lambda m, s, seed: GatedDeltaNet(
        d_model=m.d_model,
        heads=m.heads,
        d_conv=m.d_conv,
        beta_max=m.beta_max,
        dt_min=s.dt_min,
        dt_max=s.dt_max,
        dt_transform=s.dt_transform,
        chunk=m.chunk,
        ssm_lr=s.ssm_lr,
        gate=m.gate,
        seed=seed,
    ),
    "rg-lru": lambda m, s, seed: RGLRU(
        d_model=m.d_model,
        expand=m.expand,
        heads=m.heads,
        d_conv=m.d_conv,
        c=m.rg_lru_c,
        r_min=s.r_min,
        r_max=s.r_max,
        ssm_lr=s.ssm_lr,
        seed=seed,
    ),
}
