"""Every user-facing setting, declared once.

The same `param.Parameterized` objects drive the CLI flags (`--ssm.init ...`), the
dashboard widgets (`pn.Param`), notebooks and the JSON saved with every run. No torch
here: specs must import on a machine with nothing but param installed.
"""
from __future__ import annotations

import json

import param

from workbench.errors import SpecError

DIAGONAL_INITS = ("s4d-legs", "s4d-lin", "s4d-inv", "s4d-real", "random", "lru-ring", "ptd-legs")
DENSE_INITS = ("hippo-legs", "hippo-legt", "hippo-lagt", "hippo-fout")
# Inits that store N/2 complex modes and take 2·Re of the sum (conjugate symmetry).
CONJUGATE_INITS = ("s4d-legs", "s4d-lin", "s4d-inv", "random")


class Spec(param.Parameterized):
    """Shared plumbing: validation hook, dict/JSON round trip, from-dict with clear errors."""

    def validate(self) -> "Spec":
        """Cross-field checks; raise SpecError naming field, value and what is allowed."""
        return self

    def to_dict(self) -> dict:
        return {k: v for k, v in self.param.values().items() if k != "name"}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> "Spec":
        known = set(cls.param) - {"name"}
        for k in values:
            if k not in known:
                raise SpecError(f"{cls.prefix}.{k}", values[k], f"a field of {cls.__name__}: {', '.join(sorted(known))}")
        spec = cls()
        for k, v in values.items():
            spec.set_field(k, v)
        return spec.validate()

    def set_field(self, field: str, value) -> None:
        """Set one field, turning param's exception into a SpecError."""
        p = self.param[field]
        value = coerce(p, value, f"{self.prefix}.{field}")
        try:
            setattr(self, field, value)
        except ValueError as err:
            raise SpecError(f"{self.prefix}.{field}", value, describe(p)) from err

    prefix = "spec"


def coerce(p: param.Parameter, value, field: str):
    """Text from a CLI flag or JSON to the parameter's type."""
    if not isinstance(value, str):
        if isinstance(p, param.Number) and not isinstance(p, param.Integer) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    try:
        if isinstance(p, param.Boolean):
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(p, param.Integer):
            return int(value)
        if isinstance(p, param.Number):
            return float(value)
    except ValueError:
        raise SpecError(field, value, describe(p)) from None
    return value


def describe(p: param.Parameter) -> str:
    """What a parameter allows, in words."""
    if isinstance(p, param.Selector):
        return "one of " + ", ".join(map(str, p.objects))
    if isinstance(p, param.Boolean):
        return "true or false"
    kind = "an integer" if isinstance(p, param.Integer) else "a number"
    if p.bounds:
        lo, hi = p.bounds
        incl = getattr(p, "inclusive_bounds", (True, True))
        left = "[" if incl[0] else "("
        right = "]" if incl[1] else ")"
        return f"{kind} in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    return kind


class SSMSpec(Spec):
    """The LTI state space layer: initialization, step size, reparameterization, discretization."""

    prefix = "ssm"

    init = param.Selector(
        default="s4d-lin", objects=list(DIAGONAL_INITS + DENSE_INITS),
        doc="How A (and B) start: diagonal S4D/LRU/PTD families, or a dense HiPPO matrix (reference).")
    d_state = param.Integer(default=64, bounds=(1, 4096), doc="State size N (conjugate-pair inits store N/2 modes).")
    dt_min = param.Number(default=1e-3, bounds=(0, None), inclusive_bounds=(False, True), doc="Smallest initial step size Δ.")
    dt_max = param.Number(default=1e-1, bounds=(0, None), inclusive_bounds=(False, True), doc="Largest initial step size Δ (log-uniform between).")
    dt_transform = param.Selector(default="exp", objects=["exp", "softplus"],
                                  doc="Δ = exp(log_dt) (S4D) or softplus(raw) (Mamba).")
    a_reparam = param.Selector(default="exp", objects=["direct", "exp", "softplus", "best"],
                               doc="Re(A) from its parameter w: w, -exp(w), -softplus(w), -1/(w²+b) (StableSSM).")
    discretization = param.Selector(default="zoh", objects=["zoh", "bilinear", "euler", "mamba"],
                                    doc="Continuous (A, B, Δ) to discrete (Ā, B̄).")
    r_min = param.Number(default=0.9, bounds=(0, 1), inclusive_bounds=(False, False), doc="LRU ring: smallest |λ|.")
    r_max = param.Number(default=0.999, bounds=(0, 1), inclusive_bounds=(False, False), doc="LRU ring: largest |λ|.")
    max_phase = param.Number(default=6.283185307179586, bounds=(0, 6.283185307179586),
                             inclusive_bounds=(False, True), doc="LRU ring: phases uniform on [0, max_phase].")
    ptd_eps = param.Number(default=1e-4, bounds=(0, 1), inclusive_bounds=(False, True),
                           doc="Perturb-then-diagonalize: size of the perturbation E relative to ‖A‖₂.")
    learn_a = param.Boolean(default=True, doc="Train A.")
    learn_dt = param.Boolean(default=True, doc="Train Δ.")
    ssm_lr = param.Number(default=1e-3, bounds=(0, None), doc="Learning rate for A, Δ, B (no weight decay).")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the layer's random initialization.")

    def validate(self) -> "SSMSpec":
        if self.dt_min > self.dt_max:
            raise SpecError("ssm.dt_min", self.dt_min, f"a value <= ssm.dt_max ({self.dt_max})")
        if self.r_min > self.r_max:
            raise SpecError("ssm.r_min", self.r_min, f"a value <= ssm.r_max ({self.r_max})")
        if self.init in CONJUGATE_INITS and self.d_state % 2:
            raise SpecError("ssm.d_state", self.d_state, f"an even number for init {self.init!r} (N/2 conjugate pairs)")
        if self.init == "hippo-fout" and self.d_state % 2:
            raise SpecError("ssm.d_state", self.d_state, "an even number for init 'hippo-fout' (cos/sin pairs)")
        if self.init in DENSE_INITS and self.d_state > 512:
            raise SpecError("ssm.d_state", self.d_state, f"at most 512 for the dense init {self.init!r}")
        return self

    @property
    def is_dense(self) -> bool:
        return self.init in DENSE_INITS
