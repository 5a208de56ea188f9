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

    def replace(self, **changes) -> "Spec":
        """A validated copy with some fields changed."""
        return type(self).from_dict({**self.to_dict(), **changes})

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


LAYERS = ("s4d", "mamba", "mamba2", "mlstm", "gla", "mega-ema", "lru", "attention")


def default_ssm(layer: str) -> SSMSpec:
    """The published defaults of each layer kind's SSM (Mamba: S4D-Real, softplus Δ, its own mix)."""
    if layer == "mamba":
        return SSMSpec(init="s4d-real", d_state=16, discretization="mamba", dt_transform="softplus")
    if layer in ("mamba2", "mega-ema"):
        return SSMSpec(init="s4d-real", d_state=16, dt_transform="softplus")
    if layer == "lru":
        return SSMSpec(init="lru-ring", d_state=64)
    return SSMSpec()


class ModelSpec(Spec):
    """A sequence model: encoder, n_layers residual blocks (pre-norm mixer [+ MLP]), decoder.

    The SSM settings (init, d_state, Δ, discretization) live in SSMSpec; `default_ssm(layer)`
    gives each layer kind's published defaults.
    """

    prefix = "model"

    layer = param.Selector(default="s4d", objects=list(LAYERS), doc="Sequence mixer of every block.")
    d_model = param.Integer(default=64, bounds=(1, 8192), doc="Width H of the residual stream.")
    n_layers = param.Integer(default=2, bounds=(1, 64), doc="Number of residual blocks.")
    expand = param.Integer(default=2, bounds=(1, 8), doc="Inner width E = expand·d_model (mamba, mamba2).")
    heads = param.Integer(default=4, bounds=(1, 256), doc="Heads (attention, mamba2, mlstm, gla); must divide d_model.")
    d_conv = param.Integer(default=4, bounds=(1, 16), doc="Width of the causal depthwise convolution (mamba, mamba2).")
    dt_rank = param.Integer(default=0, bounds=(0, 1024), doc="Rank of Mamba's Δ projection; 0 = ceil(d_model/16).")
    selective_delta = param.Boolean(default=True, doc="Mamba: Δ_t depends on the input (else a learned constant).")
    selective_B = param.Boolean(default=True, doc="Mamba: B_t depends on the input (else a learned constant).")
    selective_C = param.Boolean(default=True, doc="Mamba: C_t depends on the input (else a learned constant).")
    gate = param.Selector(default="silu", objects=["none", "silu", "glu"], doc="Mamba output gate: y, y·SiLU(z) or y·σ(z).")
    chunk = param.Integer(default=64, bounds=(1, 4096), doc="Mamba-2 (SSD) chunk length.")
    norm = param.Selector(default="layernorm", objects=["layernorm", "rmsnorm", "none"],
                          doc="Pre-norm of each block (none: the token-dynamics setting).")
    mlp = param.Boolean(default=False, doc="Add a GELU MLP (4·d_model) after each mixer.")
    dropout = param.Number(default=0.0, bounds=(0, 1), inclusive_bounds=(True, False), doc="Dropout after mixers.")
    vocab_size = param.Integer(default=0, bounds=(0, 1_000_000), doc="Token vocabulary; 0 for continuous inputs.")
    d_input = param.Integer(default=1, bounds=(1, 65536), doc="Continuous input size (when vocab_size = 0).")
    d_output = param.Integer(default=1, bounds=(1, 1_000_000), doc="Output size (continuous, or classes); vocab_size when tokens.")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the model's initialization.")

    def validate(self) -> "ModelSpec":
        width = self.expand * self.d_model if self.layer == "mamba2" else self.d_model
        if self.layer in ("attention", "mlstm", "gla", "mamba2") and width % self.heads:
            what = "model.expand·model.d_model" if self.layer == "mamba2" else "model.d_model"
            raise SpecError("model.heads", self.heads, f"a divisor of {what} ({width}) for layer {self.layer!r}")
        if self.layer == "attention" and (self.d_model // self.heads) % 2:
            raise SpecError("model.heads", self.heads, f"a divisor of model.d_model ({self.d_model}) "
                                                       "leaving an even head size (rotary positions)")
        return self
