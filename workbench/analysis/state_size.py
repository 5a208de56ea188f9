"""Recurrent state elements per layer, the x axis of the Zoology/MAD recall-against-state-size plot.

Real numbers a layer carries from one token to the next (Arora et al. 2023, "Zoology", §3;
Poli et al. 2024, MAD): complex modes count twice, convolution windows are left out (they are
the same for every layer kind), and attention's key/value cache is counted at length L.
"""

from __future__ import annotations

from workbench.errors import SpecError
from workbench.specs import ModelSpec, SSMSpec, default_ssm


def state_elements(model: ModelSpec, ssm: SSMSpec | None = None, seq_len: int = 0) -> int:
    """State size of one layer of `model` (attention: 2·L·d_model, its KV cache at L = seq_len)."""
    ssm = ssm or default_ssm(model.layer)
    H, N, heads = model.d_model, ssm.d_state, model.heads
    E = model.expand * H
    kinds = {
        "s4d": lambda: H * N,  # N/2 complex modes (or N real ones) per channel
        "mega-ema": lambda: H * N,
        "lru": lambda: 2 * N,  # N complex modes shared by the channels
        "mamba": lambda: E * N,
        "mamba2": lambda: E * N,  # heads × (E/heads) × N
        "gla": lambda: heads * (H // heads) ** 2,  # d_k × d_v per head
        "mlstm": lambda: heads * ((H // heads) ** 2 + H // heads + 1),  # C, n, m per head
    }
    if model.layer == "attention":
        if seq_len < 1:
            raise SpecError("seq_len", seq_len, "the length at which attention's KV cache is counted (>= 1)")
        return 2 * seq_len * H
    if model.layer not in kinds:
        raise SpecError("model.layer", model.layer, "one of " + ", ".join(sorted(kinds) + ["attention"]))
    return kinds[model.layer]()
