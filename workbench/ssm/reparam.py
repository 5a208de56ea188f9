"""Reparameterizations: Re(A) from a free parameter w (StableSSM) and Δ from its raw parameter.

Each forward map f has an inverse so that initialization sets exactly the value asked for:
f(f_inverse(a)) = a. They are chosen once, at layer construction, from these tables.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BEST_B = 0.5  # b in Re A = -1/(w² + b), the value in the StableSSM paper's notebook


def inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    """softplus⁻¹(x) = x + log(-expm1(-x)), stable for small and large x."""
    return x + torch.log(-torch.expm1(-x))


# Re(A) = f(w); every f maps to the open left half plane except `direct`.
RE_A = {
    "direct": (lambda w: w, lambda a: a),
    "exp": (lambda w: -torch.exp(w), lambda a: torch.log(-a)),
    "softplus": (lambda w: -F.softplus(w), lambda a: inverse_softplus(-a)),
    "best": (lambda w: -1.0 / (w * w + BEST_B), lambda a: torch.sqrt(-1.0 / a - BEST_B)),
}

# Δ = g(raw)
DT = {
    "exp": (torch.exp, torch.log),
    "softplus": (F.softplus, inverse_softplus),
}


def re_a_range(reparam: str) -> tuple[float, float]:
    """The open interval of Re(A) that `reparam` can represent."""
    return {
        "direct": (-float("inf"), float("inf")),
        "exp": (-float("inf"), 0.0),
        "softplus": (-float("inf"), 0.0),
        "best": (-1.0 / BEST_B, 0.0),
    }[reparam]
