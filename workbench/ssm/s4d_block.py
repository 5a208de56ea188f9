"""The S4D mixer: the LTI layer, GELU, and a GLU output projection (as in the S4D paper's block).

x (B, L, H) -> (B, L, H). `forward` uses the FFT convolution; `forward_ref` and `step` the recurrence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.ssm.lti import DenseSSM, DiagonalSSM
from workbench.ssm.probe import probes
from workbench.ssm.recurrence import run_recurrence
from workbench.ssm.seeding import seeded


class S4DBlock(nn.Module):
    def __init__(self, *, ssm: nn.Module, d_model: int, seed: int = 0):
        super().__init__()
        assert isinstance(ssm, (DiagonalSSM, DenseSSM))
        self.ssm = ssm
        self.out = seeded(nn.Linear, d_model, 2 * d_model, gen=torch.Generator().manual_seed(seed))
        self.probes = probes("y", "out")

    def _out(self, y):
        return self.probes["out"](F.glu(self.out(F.gelu(self.probes["y"](y))), dim=-1))

    def forward(self, x):
        return self._out(self.ssm(x))

    def forward_ref(self, x):
        return self._out(run_recurrence(x, self.ssm.materialize()))

    def step(self, x_t, state=None):
        y, state = self.ssm.step(x_t, state)
        return self._out(y), state
