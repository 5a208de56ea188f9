"""The materialized parameters of an LTI SSM layer: one small record, everything derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class SSMParams:
    """Continuous and discrete parameters of H single-input single-output SSMs.

    Diagonal (dense=False): A, B, C, A_bar, B_bar are (H, M) complex, M modes per channel.
    Dense (dense=True): A, A_bar (H, N, N), B, C, B_bar (H, N), real.
    conjugate_pairs: the kernel is 2·Re Σ_m C_m B̄_m Ā_m^ℓ (else Re Σ, or the plain sum when dense).
    """

    A: torch.Tensor
    B: torch.Tensor
    C: torch.Tensor
    D: torch.Tensor  # (H,)
    dt: torch.Tensor  # (H,)
    A_bar: torch.Tensor
    B_bar: torch.Tensor
    conjugate_pairs: bool
    dense: bool = False
    info: dict = field(default_factory=dict)

    def detach(self) -> "SSMParams":
        t = {k: getattr(self, k).detach() for k in ("A", "B", "C", "D", "dt", "A_bar", "B_bar")}
        return SSMParams(**t, conjugate_pairs=self.conjugate_pairs, dense=self.dense, info=dict(self.info))
