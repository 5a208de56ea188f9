"""Every user-facing setting, declared once.

The same `param.Parameterized` objects drive the CLI flags (`--ssm.init ...`), the
dashboard widgets (`pn.Param`), notebooks and the JSON saved with every run. No torch
here: specs must import on a machine with nothing but param installed.
"""

from __future__ import annotations

import json
import math

import param

from workbench.errors import SpecError

DIAGONAL_INITS = ("s4d-legs", "s4d-lin", "s4d-inv", "s4d-real", "random", "lru-ring", "ptd-legs")
DENSE_INITS = ("hippo-legs", "hippo-legt", "hippo-lagt", "hippo-fout")
# Inits that store N/2 complex modes and take 2·Re of the sum (conjugate symmetry).
CONJUGATE_INITS = ("s4d-legs", "s4d-lin", "s4d-inv", "random")
# Seeds are combined (model·1000 + ssm·100 + layer; data seed + 2^46 offsets) and must stay below
# torch.Generator's 2^64; 2^53 - 1 is also the largest integer JSON readers hold exactly.
MAX_SEED = 2**53 - 1
MAX_STEPS = 10_000_000  # every step-count field (SQLite and the schedule hold far more; a run never does)


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
        if not isinstance(values, dict):
            raise SpecError(cls.prefix, values, f"a mapping of {cls.__name__} fields to values")
        known = set(cls.param) - {"name"}
        for k in values:
            if k not in known:
                raise SpecError(
                    f"{cls.prefix}.{k}", values[k], f"a field of {cls.__name__}: {', '.join(sorted(known))}"
                )
        spec = cls()
        for k, v in values.items():
            spec.set_field(k, v)
        return spec.validate()

    def set_field(self, field: str, value) -> None:
        """Set one field, turning param's exception into a SpecError."""
        p = self.param[field]
        value = coerce(p, value, f"{self.prefix}.{field}")
        if isinstance(p, param.Number) and isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an int beyond float range
                finite = False
            if not finite:
                raise SpecError(f"{self.prefix}.{field}", value, _finite(describe(p)))
        try:
            setattr(self, field, value)
        except (ValueError, TypeError) as err:
            raise SpecError(f"{self.prefix}.{field}", value, describe(p)) from err

    prefix = "spec"


def coerce(p: param.Parameter, value, field: str):
    """Text from a CLI flag or JSON to the parameter's type."""
    if not isinstance(value, str):
        if (
            isinstance(p, param.Number)
            and not isinstance(p, param.Integer)
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            try:
                return float(value)
            except OverflowError:
                raise SpecError(field, value, _finite(describe(p))) from None
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
    except (ValueError, OverflowError):
        raise SpecError(field, value, describe(p)) from None
    return value


def _finite(allowed: str) -> str:
    return allowed.replace("a number", "a finite number", 1)


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
        default="s4d-lin",
        objects=list(DIAGONAL_INITS + DENSE_INITS),
        doc="How A (and B) start: diagonal S4D/LRU/PTD families, or a dense HiPPO matrix (reference).",
    )
    d_state = param.Integer(default=64, bounds=(1, 4096), doc="State size N (conjugate-pair inits store N/2 modes).")
    dt_min = param.Number(
        default=1e-3, bounds=(0, None), inclusive_bounds=(False, True), doc="Smallest initial step size Δ."
    )
    dt_max = param.Number(
        default=1e-1,
        bounds=(0, None),
        inclusive_bounds=(False, True),
        doc="Largest initial step size Δ (log-uniform between).",
    )
    dt_transform = param.Selector(
        default="exp", objects=["exp", "softplus"], doc="Δ = exp(log_dt) (S4D) or softplus(raw) (Mamba)."
    )
    a_reparam = param.Selector(
        default="exp",
        objects=["direct", "exp", "softplus", "best"],
        doc="Re(A) from its parameter w: w, -exp(w), -softplus(w), -1/(w²+b) (StableSSM).",
    )
    discretization = param.Selector(
        default="zoh", objects=["zoh", "bilinear", "euler", "mamba"], doc="Continuous (A, B, Δ) to discrete (Ā, B̄)."
    )
    r_min = param.Number(default=0.9, bounds=(0, 1), inclusive_bounds=(False, False), doc="LRU ring: smallest |λ|.")
    r_max = param.Number(default=0.999, bounds=(0, 1), inclusive_bounds=(False, False), doc="LRU ring: largest |λ|.")
    max_phase = param.Number(
        default=6.283185307179586,
        bounds=(0, 6.283185307179586),
        inclusive_bounds=(False, True),
        doc="LRU ring: phases uniform on [0, max_phase].",
    )
    ptd_eps = param.Number(
        default=1e-4,
        bounds=(0, 1),
        inclusive_bounds=(False, True),
        doc="Perturb-then-diagonalize: size of the perturbation E relative to ‖A‖₂.",
    )
    learn_a = param.Boolean(default=True, doc="Train A.")
    learn_dt = param.Boolean(default=True, doc="Train Δ.")
    ssm_lr = param.Number(default=1e-3, bounds=(0, None), doc="Learning rate for A, Δ, B (no weight decay).")
    seed = param.Integer(
        default=0,
        bounds=(0, MAX_SEED),
        doc="Seed of the SSM layer's random parts (C, D, Δ, random inits); a model mixes in model.seed.",
    )

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


GDN_GATES = ("silu", "none")  # Gated DeltaNet's output gate: the paper's SiLU, or none (the ablation)

LAYERS = (
    "s4d",
    "mamba",
    "mamba2",
    "mlstm",
    "gla",
    "mega-ema",
    "lru",
    "attention",
    "deltanet",
    "gated-deltanet",
    "rg-lru",
)


def default_ssm(layer: str) -> SSMSpec:
    """The published defaults of each layer kind's SSM (Mamba: S4D-Real, softplus Δ, its own mix)."""
    if layer == "mamba":
        return SSMSpec(init="s4d-real", d_state=16, discretization="mamba", dt_transform="softplus")
    if layer in ("mamba2", "mega-ema"):
        return SSMSpec(init="s4d-real", d_state=16, dt_transform="softplus")
    if layer == "gated-deltanet":  # Δ·a ≤ 0.16 at rest: α ≥ 0.85, no head wiped within a few tokens
        return SSMSpec(init="s4d-real", d_state=16, dt_transform="softplus", dt_min=1e-4, dt_max=1e-2)
    if layer in ("lru", "rg-lru"):  # rg-lru: a^c uniform on [r_min, r_max] (Griffin: [0.9, 0.999])
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
    expand = param.Integer(default=2, bounds=(1, 8), doc="Inner width E = expand·d_model (mamba, mamba2, rg-lru).")
    heads = param.Integer(
        default=4,
        bounds=(1, 256),
        doc="Heads (attention, mamba2, mlstm, gla, deltanet, gated-deltanet; rg-lru: gate blocks); must divide d_model.",
    )
    d_conv = param.Integer(
        default=4,
        bounds=(1, 16),
        doc="Width of the causal depthwise convolution (mamba, mamba2, deltanet, gated-deltanet, rg-lru).",
    )
    dt_rank = param.Integer(default=0, bounds=(0, 1024), doc="Rank of Mamba's Δ projection; 0 = ceil(d_model/16).")
    selective_delta = param.Boolean(default=True, doc="Mamba: Δ_t depends on the input (else a learned constant).")
    selective_B = param.Boolean(default=True, doc="Mamba: B_t depends on the input (else a learned constant).")
    selective_C = param.Boolean(default=True, doc="Mamba: C_t depends on the input (else a learned constant).")
    gate = param.Selector(
        default="silu",
        objects=["none", "silu", "glu"],
        doc="Output gate of mamba (y, y·SiLU(z) or y·σ(z)) and gated-deltanet (none or silu).",
    )
    chunk = param.Integer(
        default=64, bounds=(1, 4096), doc="Chunk length of Mamba-2 (SSD) and the delta rule (deltanet, gated-deltanet)."
    )
    beta_max = param.Number(
        default=1.0,
        bounds=(0, 2),
        inclusive_bounds=(False, True),
        doc="deltanet, gated-deltanet: writing strength β_t = beta_max·σ(W_β x_t); 2 allows negative eigenvalues.",
    )
    rg_lru_c = param.Number(
        default=8.0,
        bounds=(0, 64),
        inclusive_bounds=(False, True),
        doc="rg-lru: the constant c in a_t = a^{c·r_t} (Griffin: 8).",
    )
    norm = param.Selector(
        default="layernorm",
        objects=["layernorm", "rmsnorm", "none"],
        doc="Pre-norm of each block (none: the token-dynamics setting).",
    )
    mlp = param.Boolean(default=False, doc="Add a GELU MLP (4·d_model) after each mixer.")
    dropout = param.Number(default=0.0, bounds=(0, 1), inclusive_bounds=(True, False), doc="Dropout after mixers.")
    vocab_size = param.Integer(default=0, bounds=(0, 1_000_000), doc="Token vocabulary; 0 for continuous inputs.")
    d_input = param.Integer(default=1, bounds=(1, 65536), doc="Continuous input size (when vocab_size = 0).")
    d_output = param.Integer(
        default=1, bounds=(1, 1_000_000), doc="Output size (continuous, or classes); vocab_size when tokens."
    )
    seed = param.Integer(default=0, bounds=(0, MAX_SEED), doc="Seed of the model's initialization (every parameter).")

    def validate(self) -> "ModelSpec":
        expanded = self.layer in ("mamba2", "rg-lru")
        width = self.expand * self.d_model if expanded else self.d_model
        if (
            self.layer in ("attention", "mlstm", "gla", "mamba2", "deltanet", "gated-deltanet", "rg-lru")
            and width % self.heads
        ):
            what = "model.expand·model.d_model" if expanded else "model.d_model"
            raise SpecError("model.heads", self.heads, f"a divisor of {what} ({width}) for layer {self.layer!r}")
        if self.layer == "gated-deltanet" and self.gate not in GDN_GATES:
            raise SpecError("model.gate", self.gate, f"one of {', '.join(GDN_GATES)} for layer 'gated-deltanet'")
        if self.layer == "attention" and (self.d_model // self.heads) % 2:
            raise SpecError(
                "model.heads",
                self.heads,
                f"a divisor of model.d_model ({self.d_model}) leaving an even head size (rotary positions)",
            )
        return self


class TaskSpec(Spec):
    """A synthetic task (generated, never downloaded): which one, its lengths, and its data seed.

    The task is chosen by `kind` (param reserves `name` for the object's own label and only
    lets it be a String). Fields name the task they belong to in their `doc`; a field that
    does not apply to the chosen task is ignored. `seq_len = 0` and `vocab_size = 0` mean
    "the task's small setting" (the sizes the tasks' papers use for small models); `length()` and `vocab()` resolve them.
    """

    prefix = "task"
    KINDS = (
        "mqar",
        "selective-copying",
        "induction-heads",
        "copying",
        "adding",
        "digits",
        "digits-permuted",
        "lf-memory",
        "delay",
        "n-parity",
        "n-dms",
        "listops-lite",
        "ar-p",
        "lorenz",
        "needle",
    )
    # Small settings (e.g. Zoology's MQAR at V 256, L 64; the adding problem at L 100). Lengths a task derives from other fields are absent here.
    SMALL_LENGTH = {
        "mqar": 64,
        "induction-heads": 64,
        "adding": 100,
        "lf-memory": 100,
        "delay": 256,
        "n-parity": 64,
        "n-dms": 64,
        "listops-lite": 100,
        "ar-p": 100,
        "lorenz": 100,
        "needle": 256,
    }
    SMALL_VOCAB = {"mqar": 256, "induction-heads": 20, "needle": 16}
    LISTOPS_MIN_LEN = 20

    kind = param.Selector(default="selective-copying", objects=list(KINDS), doc="Which synthetic task.")
    seq_len = param.Integer(
        default=0,
        bounds=(0, 1 << 22),
        doc="Sequence length L; 0 = the task's small setting. mqar, induction-heads (training length), "
        "adding, lf-memory (T), delay, n-parity, n-dms, ar-p, lorenz: the length; copying: padded length "
        "(>= 2·copy_max); listops-lite: padded length (expressions 20..min(100, L) tokens). "
        "selective-copying (noise_len + 2·n_data) and digits (64) fix their own length.",
    )
    vocab_size = param.Integer(
        default=0,
        bounds=(0, 1_000_000),
        doc="mqar, induction-heads, needle: vocabulary V incl. special tokens; 0 = small setting (256, 20, 16).",
    )
    num_kv = param.Integer(default=4, bounds=(1, 65536), doc="mqar: key-value pairs per sequence.")
    power_a = param.Number(
        default=0.01,
        bounds=(0, 1),
        inclusive_bounds=(False, True),
        doc="mqar: query gap k has probability ∝ k^(a-1) (1 = uniform).",
    )
    noise_len = param.Integer(default=64, bounds=(1, 1 << 22), doc="selective-copying: noise positions among the data.")
    n_data = param.Integer(default=8, bounds=(1, 65536), doc="selective-copying: data tokens to reproduce (M).")
    alphabet = param.Integer(default=10, bounds=(2, 65536), doc="selective-copying, copying: number of data symbols.")
    copy_min = param.Integer(default=5, bounds=(1, 1 << 20), doc="copying: shortest string.")
    copy_max = param.Integer(default=20, bounds=(1, 1 << 20), doc="copying: longest string.")
    haystack = param.Selector(
        default="filler",
        objects=["filler", "pairs"],
        doc="needle: 'filler' = value look-alikes the model may ignore (a pass-key test); 'pairs' = key-value "
        "pairs rebound and recalled throughout, trained on, so the model must write the haystack as a language "
        "model writes text.",
    )
    test_lengths = param.List(
        default=[256, 1024],
        item_type=int,
        bounds=(1, 16),
        doc="induction-heads, needle: held-out lengths (absolute; induction-heads: 4× and 16× the small L = 64).",
    )
    rho = param.Selector(
        default="exponential",
        objects=["exponential", "polynomial"],
        doc="lf-memory: memory ρ(s) = e^{-s} or (1 + 0.1 s)^{-1.1}.",
    )
    lag = param.Integer(default=64, bounds=(1, 1 << 22), doc="delay: predict u_{t-lag}.")
    cutoff = param.Number(
        default=0.1,
        bounds=(0, 1),
        inclusive_bounds=(False, True),
        doc="delay: band limit of the white noise as a fraction of the Nyquist frequency.",
    )
    n_bits = param.Integer(
        default=4, bounds=(1, 6), doc="n-parity: parity of the last N bits; n-dms: bit t-N equals bit t."
    )
    ar_order = param.Integer(default=4, bounds=(1, 32), doc="ar-p: order p of the autoregression.")
    depth = param.Integer(
        default=3,
        bounds=(3, 10),
        doc="listops-lite: tree depth as in LRA (node levels, digits included: 3 = two nested operators).",
    )
    seed = param.Integer(
        default=0, bounds=(0, MAX_SEED), doc="Data seed: held-out sets and the digits split derive from it."
    )

    def length(self) -> int:
        """The resolved sequence length L of every batch of this task."""
        if self.kind == "selective-copying":
            return self.noise_len + 2 * self.n_data
        if self.kind in ("digits", "digits-permuted"):
            return 64
        if self.kind == "copying":
            return self.seq_len or 2 * self.copy_max
        return self.seq_len or self.SMALL_LENGTH[self.kind]

    def vocab(self) -> int:
        """The resolved vocabulary of mqar / induction-heads (0 for tasks that do not use vocab_size)."""
        return self.vocab_size or self.SMALL_VOCAB.get(self.kind, 0)

    def set_field(self, field: str, value) -> None:
        if field != "test_lengths":
            return super().set_field(field, value)
        allowed = f"a list of 1 to 16 integers in [3, {1 << 22}], e.g. 256,1024"
        try:
            if isinstance(value, str):
                value = [int(v) for v in value.replace("[", "").replace("]", "").split(",") if v.strip()]
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            if not ok or not 1 <= len(value) <= 16 or min(value) < 3 or max(value) > 1 << 22:
                raise ValueError(value)
            self.test_lengths = list(value)
        except ValueError:
            raise SpecError("task.test_lengths", value, allowed) from None

    def validate(self) -> "TaskSpec":
        k, L = self.kind, self.length()
        if self.copy_min > self.copy_max:
            raise SpecError("task.copy_min", self.copy_min, f"a value <= task.copy_max ({self.copy_max})")
        if k in ("selective-copying", "digits", "digits-permuted") and self.seq_len not in (0, L):
            how = "noise_len + 2·n_data" if k == "selective-copying" else "64 pixels"
            raise SpecError("task.seq_len", self.seq_len, f"0 or {L} for task {k!r} (its length is {how})")
        if k == "mqar":
            if L < 4 * self.num_kv:
                raise SpecError(
                    "task.seq_len",
                    L,
                    f"at least 4·task.num_kv = {4 * self.num_kv} for mqar (kv pairs, then room for as many queries)",
                )
            V = self.vocab()
            if V // 2 - 1 < self.num_kv:
                raise SpecError(
                    "task.vocab_size",
                    V,
                    f"at least {2 * self.num_kv + 2} for mqar with num_kv {self.num_kv} (distinct keys from [1, V/2))",
                )
        if k == "induction-heads":
            if self.vocab() < 3:
                raise SpecError("task.vocab_size", self.vocab(), "at least 3 for induction-heads (2 symbols + trigger)")
            if L < 3:
                raise SpecError("task.seq_len", L, "at least 3 for induction-heads (trigger, token, final trigger)")
        if k == "needle":
            if self.vocab() < 4:
                raise SpecError(
                    "task.vocab_size", self.vocab(), "at least 4 for needle (keys from [1, V/2), values from [V/2, V))"
                )
            if self.haystack == "pairs" and self.vocab() < 6:
                raise SpecError(
                    "task.vocab_size",
                    self.vocab(),
                    "at least 6 for needle with haystack 'pairs' (keys from [1, V/2): the needle's and one other)",
                )
            shortest = 4 if self.haystack == "pairs" else 3
            if min([L] + list(self.test_lengths)) < shortest:
                what = "a pair, marker, query" if self.haystack == "pairs" else "key, value, query"
                raise SpecError("task.seq_len", L, f"at least {shortest} for needle ({what}), test lengths too")
        if k == "copying" and L < 2 * self.copy_max:
            raise SpecError("task.seq_len", L, f"at least 2·task.copy_max = {2 * self.copy_max} for copying")
        if k == "delay" and self.lag >= L:
            raise SpecError("task.lag", self.lag, f"less than the sequence length {L} for delay")
        if k in ("n-parity", "n-dms") and L <= self.n_bits:
            raise SpecError("task.seq_len", L, f"more than task.n_bits ({self.n_bits}) for {k}")
        if k == "listops-lite" and L < self.LISTOPS_MIN_LEN:
            raise SpecError("task.seq_len", L, f"at least {self.LISTOPS_MIN_LEN} for listops-lite")
        if k in ("ar-p", "lorenz", "adding", "lf-memory") and L < 2:
            raise SpecError("task.seq_len", L, f"at least 2 for {k}")
        return self


class TrainSpec(Spec):
    """The optimization and what a run records while it trains.

    The SSM parameters' own learning rate is SSMSpec.ssm_lr (a hint carried by the parameters).
    """

    prefix = "train"

    steps = param.Integer(default=2000, bounds=(1, MAX_STEPS), doc="Optimizer steps.")
    batch = param.Integer(default=32, bounds=(1, 65536), doc="Sequences per step.")
    lr = param.Number(
        default=3e-3, bounds=(0, None), inclusive_bounds=(False, True), doc="Learning rate (non-SSM parameters)."
    )
    weight_decay = param.Number(default=0.01, bounds=(0, None), doc="AdamW weight decay (never on SSM parameters).")
    schedule = param.Selector(
        default="warmup-cosine", objects=["constant", "cosine", "warmup-cosine"], doc="Learning-rate schedule."
    )
    warmup = param.Integer(default=100, bounds=(0, MAX_STEPS), doc="Linear warm-up steps (warmup-cosine).")
    grad_clip = param.Number(default=1.0, bounds=(0, None), doc="Clip the gradient norm to this; 0 = off.")
    seed = param.Integer(
        default=0, bounds=(0, MAX_SEED), doc="Seed of the data stream and dropout (model.seed sets the parameters)."
    )
    device = param.Selector(
        default="auto", objects=["auto", "cpu", "cuda", "mps"], doc="auto: CUDA, then MPS, then CPU."
    )
    precision = param.Selector(
        default="auto", objects=["auto", "fp32", "bf16"], doc="auto: bf16 autocast on CUDA, fp32 elsewhere."
    )
    probe_every = param.Integer(
        default=100, bounds=(0, MAX_STEPS), doc="Record probes every n steps (0 = only at start and end)."
    )
    probe_length = param.Integer(default=0, bounds=(0, 65536), doc="Kernel/memory probe length; 0 = the task's length.")
    eval_every = param.Integer(
        default=100, bounds=(1, MAX_STEPS), doc="Evaluate on the held-out batches every n steps."
    )
    checkpoint_every = param.Integer(default=500, bounds=(1, MAX_STEPS), doc="Save a checkpoint every n steps.")
    threads = param.Integer(
        default=0,
        bounds=(0, 256),
        doc="torch CPU threads; 0 = automatic: torch's default, "
        "lowered step by step to the cores other processes leave free.",
    )


class RunSpec:
    """Everything a run needs: ssm, model, task and train specs, plus a name. Plain JSON on disk."""

    PARTS = {"ssm": SSMSpec, "model": ModelSpec, "task": TaskSpec, "train": TrainSpec}

    def __init__(
        self,
        ssm: SSMSpec | None = None,
        model: ModelSpec | None = None,
        task: TaskSpec | None = None,
        train: TrainSpec | None = None,
        name: str = "",
    ):
        self.model = model or ModelSpec()
        self.ssm = ssm or default_ssm(self.model.layer)
        self.task = task or TaskSpec()
        self.train = train or TrainSpec()
        self.name = name or f"{self.task.kind} {self.model.layer} {self.ssm.init}"

    def validate(self) -> "RunSpec":
        for part in self.PARTS:
            getattr(self, part).validate()
        return self

    def to_dict(self) -> dict:
        return {part: getattr(self, part).to_dict() for part in self.PARTS}

    @classmethod
    def from_dict(cls, d: dict, name: str = "") -> "RunSpec":
        """Nested dict -> RunSpec. A missing `ssm` part takes the layer's published defaults."""
        if not isinstance(d, dict):
            raise SpecError("spec", d, "a mapping of spec parts (" + ", ".join(cls.PARTS) + ") to their fields")
        for part in d:
            if part not in cls.PARTS:
                raise SpecError(part, d[part], "one of the spec parts " + ", ".join(cls.PARTS))
            if not isinstance(d[part], dict):
                raise SpecError(part, d[part], f"a mapping of {cls.PARTS[part].__name__} fields to values")
        model = ModelSpec.from_dict(d.get("model", {}))
        ssm_base = default_ssm(model.layer).to_dict()
        ssm = SSMSpec.from_dict({**ssm_base, **d.get("ssm", {})})
        task = d.get("task", {})
        task = dict(task) if isinstance(task, dict) else task
        if "name" in task:  # `task.name` reads better; param reserves `name`, so the field is `kind`
            task["kind"] = task.pop("name")
        return cls(
            ssm=ssm,
            model=model,
            task=TaskSpec.from_dict(task),
            train=TrainSpec.from_dict(d.get("train", {})),
            name=name,
        ).validate()


class SweepSpec:
    """A base RunSpec plus a grid and/or random samples over any `part.field` (seeds included).

    YAML (or the same dict from Python):
        name: init-vs-dt
        base: {model: {layer: s4d}, task: {name: adding}, train: {steps: 200}}
        grid: {ssm.init: [s4d-lin, s4d-inv], train.seed: [0, 1]}
        random: {n: 4, seed: 0, space: {ssm.dt_min: {log_uniform: [1e-4, 1e-2]}, model.gate: [silu, none]}}
    Every grid point is combined with every random sample (n = 1 without `random`). The number of
    configurations is known from the shape alone and bounded by `max_configs` before anything is
    expanded; `iter_configurations` then yields them one at a time.
    """

    KEYS = ("name", "base", "grid", "random")
    RANDOM_KEYS = ("n", "seed", "space")
    MAX_CONFIGS = 1000  # per sweep unless raised (`workbench sweep --max-configs`)

    def __init__(
        self,
        base: dict | None = None,
        grid: dict | None = None,
        random: dict | None = None,
        name: str = "sweep",
        max_configs: int | None = None,
    ):
        self.name, self.base, self.grid, self.random = name, base or {}, grid or {}, random or {}
        if not isinstance(name, str) or not name.strip():
            raise SpecError("name", name, "a non-empty text")
        _check_base(self.base)
        if not isinstance(self.grid, dict):
            raise SpecError("grid", self.grid, "a mapping of part.field to a list of values")
        for key, values in self.grid.items():
            _check_field(key)
            if not isinstance(values, list) or not values:
                raise SpecError(f"grid.{key}", values, "a non-empty list of values")
        _check_random(self.random)
        limit = self.MAX_CONFIGS if max_configs is None else max_configs
        if self.size > limit:
            raise SpecError(
                "sweep",
                f"{self.size} configurations",
                f"at most {limit} configurations per sweep (raise it with --max-configs)",
            )

    @property
    def size(self) -> int:
        """The number of configurations: grid points × random samples (no expansion)."""
        return math.prod(len(v) for v in self.grid.values()) * (self.random.get("n", 1) if self.random else 1)

    @classmethod
    def from_dict(cls, d: dict, max_configs: int | None = None) -> "SweepSpec":
        if not isinstance(d, dict):
            raise SpecError("sweep", d, "a mapping with base, grid and/or random")
        for k in d:
            if k not in cls.KEYS:
                raise SpecError(k, d[k], "one of the sweep keys " + ", ".join(cls.KEYS))
        return cls(d.get("base"), d.get("grid"), d.get("random"), d.get("name", "sweep"), max_configs=max_configs)

    @classmethod
    def from_yaml(cls, path, max_configs: int | None = None) -> "SweepSpec":
        import yaml

        try:
            with open(path) as f:
                d = yaml.safe_load(f)
        except (OSError, UnicodeDecodeError) as err:
            raise SpecError(
                "sweep file", str(path), f"a readable YAML file ({getattr(err, 'strerror', None) or err})"
            ) from None
        except yaml.YAMLError as err:
            raise SpecError("sweep file", str(path), f"valid YAML ({str(err).splitlines()[0]})") from None
        if not isinstance(d, dict):
            raise SpecError("sweep file", str(path), "a YAML mapping with base, grid and/or random")
        return cls.from_dict(d, max_configs=max_configs)

    def configurations(self) -> list[tuple[dict, "RunSpec"]]:
        """[(the swept values, the validated RunSpec)] in a fixed order."""
        return list(self.iter_configurations())

    def iter_configurations(self):
        """(the swept values, the validated RunSpec), one at a time, in a fixed order."""
        import itertools
        import random as pyrandom

        keys = list(self.grid)
        samples = [{}]
        if self.random:
            rng = pyrandom.Random(self.random.get("seed", 0))
            samples = []
            for _ in range(self.random.get("n", 1)):
                s = {}
                for key, dist in self.random.get("space", {}).items():
                    if isinstance(dist, list):
                        s[key] = rng.choice(dist)
                    else:
                        kind, (lo, hi) = next(iter(dist.items()))
                        s[key] = (
                            rng.uniform(lo, hi)
                            if kind == "uniform"
                            else rng.randint(lo, hi)
                            if kind == "int"
                            else math.exp(rng.uniform(math.log(lo), math.log(hi)))
                        )
                samples.append(s)
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            point = dict(zip(keys, combo))
            for sample in samples:
                swept = {**point, **sample}
                d = {part: dict(fields) for part, fields in self.base.items()}
                for key, value in swept.items():
                    part, field = key.split(".", 1)
                    d.setdefault(part, {})[field] = value
                label = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in swept.items())
                yield swept, RunSpec.from_dict(d, name=f"{self.name}: {label}" if label else self.name)


def _check_base(base) -> None:
    if not isinstance(base, dict):
        raise SpecError("base", base, "a mapping of spec parts (" + ", ".join(RunSpec.PARTS) + ") to their fields")
    for part, fields in base.items():
        if part not in RunSpec.PARTS:
            raise SpecError(f"base.{part}", fields, "a spec part: one of " + ", ".join(RunSpec.PARTS))
        if not isinstance(fields, dict):
            raise SpecError(f"base.{part}", fields, f"a mapping of {RunSpec.PARTS[part].__name__} fields to values")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_random(random) -> None:
    if not isinstance(random, dict):
        raise SpecError("random", random, "a mapping with n, seed and space")
    for k in random:
        if k not in SweepSpec.RANDOM_KEYS:
            raise SpecError(f"random.{k}", random[k], "one of the random keys " + ", ".join(SweepSpec.RANDOM_KEYS))
    n, seed, space = random.get("n", 1), random.get("seed", 0), random.get("space", {})
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SpecError("random.n", n, "an integer >= 1")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise SpecError("random.seed", seed, f"an integer in [0, {MAX_SEED}]")
    if not isinstance(space, dict):
        raise SpecError("random.space", space, "a mapping of part.field to a distribution")
    for key, dist in space.items():
        _check_field(key)
        where, allowed = f"random.space.{key}", "a non-empty list of choices or {uniform|log_uniform|int: [lo, hi]}"
        if isinstance(dist, list):
            if not dist:
                raise SpecError(where, dist, allowed)
            continue
        if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in ("uniform", "log_uniform", "int"):
            raise SpecError(where, dist, allowed)
        kind, bounds = next(iter(dist.items()))
        if not isinstance(bounds, list) or len(bounds) != 2 or not all(map(_number, bounds)) or bounds[0] > bounds[1]:
            raise SpecError(where, dist, f"{kind}: [lo, hi], two finite numbers with lo <= hi")
        if kind == "log_uniform" and bounds[0] <= 0:
            raise SpecError(where, dist, "log_uniform: [lo, hi] with 0 < lo <= hi")
        if kind == "int" and not all(isinstance(b, int) for b in bounds):
            raise SpecError(where, dist, "int: [lo, hi], two integers")


def _check_field(key) -> None:
    if not isinstance(key, str):
        raise SpecError("sweep field", key, "part.field as text, e.g. ssm.init")
    part, _, field = key.partition(".")
    if part not in RunSpec.PARTS or not field:
        raise SpecError("sweep field", key, "part.field with part one of " + ", ".join(RunSpec.PARTS))
    known = set(RunSpec.PARTS[part].param) - {"name"} | ({"name"} if part == "task" else set())
    if field not in known:
        raise SpecError("sweep field", key, f"a field of {RunSpec.PARTS[part].__name__}: " + ", ".join(sorted(known)))
