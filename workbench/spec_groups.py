"""Metadata of the spec fields: the group each belongs to, and the settings under which it matters.

Every editor (the dashboard's sidebar; any notebook form) is generated from the spec classes and
this table, so a new field shows up by itself: in its part's default group, always relevant, until
an entry here narrows it. A field is relevant when every condition of its entry holds; conditions
name the model's `layer`, the task's `kind` or the SSM's `init`. Which layer reads which SSM field
follows `workbench.ssm.mixers.MIXERS` (tests/test_spec_groups.py checks the table against the
layers' constructors and against the fields' own docs).
"""

from __future__ import annotations

from workbench.specs import LAYERS, ModelSpec, SSMSpec, TaskSpec, TrainSpec

PARTS = {"ssm": SSMSpec, "model": ModelSpec, "task": TaskSpec, "train": TrainSpec}
# Groups in the editor's order, as a researcher thinks about an SSM (what the state is, how it is
# gated, the network around it, the task, the optimization), not the classes the fields live in.
GROUP_ORDER = ("SSM", "Gating", "Model", "Task", "Training")
DEFAULT_GROUP = {"ssm": "SSM", "model": "Model", "task": "Task", "train": "Training"}
GROUP = {
    ("model", f): "Gating"
    for f in (
        "layer",
        "selective_delta",
        "selective_B",
        "selective_C",
        "gate",
        "d_conv",
        "dt_rank",
        "chunk",
        "beta_max",
        "rg_lru_c",
    )
}
# Fields set from elsewhere, never edited: the task fixes the model's inputs and outputs.
DERIVED = {("model", "vocab_size"), ("model", "d_input"), ("model", "d_output")}

_MAMBA_SSM = ("s4d", "mamba")
RELEVANT: dict[tuple[str, str], dict[str, tuple] | list[dict[str, tuple]]] = {
    # SSM fields: the layers whose constructor reads them (s4d reads all of them)
    ("ssm", "init"): {"layer": _MAMBA_SSM},
    ("ssm", "d_state"): {"layer": ("s4d", "mamba", "mamba2", "mega-ema", "lru")},
    ("ssm", "dt_min"): {"layer": ("s4d", "mamba", "mamba2", "gated-deltanet")},
    ("ssm", "dt_max"): {"layer": ("s4d", "mamba", "mamba2", "gated-deltanet")},
    ("ssm", "dt_transform"): {"layer": ("s4d", "mamba", "mamba2", "gated-deltanet")},
    ("ssm", "a_reparam"): {"layer": _MAMBA_SSM},
    ("ssm", "discretization"): {"layer": _MAMBA_SSM},
    ("ssm", "learn_a"): {"layer": _MAMBA_SSM},
    ("ssm", "learn_dt"): {"layer": ("s4d",)},
    ("ssm", "ssm_lr"): {"layer": ("s4d", "mamba", "mamba2", "lru", "gated-deltanet", "rg-lru")},
    # a list: any of the alternatives (RG-LRU reads the ring radii as its a^c range whatever the init)
    ("ssm", "r_min"): [{"layer": ("s4d", "lru"), "init": ("lru-ring",)}, {"layer": ("rg-lru",)}],
    ("ssm", "r_max"): [{"layer": ("s4d", "lru"), "init": ("lru-ring",)}, {"layer": ("rg-lru",)}],
    ("ssm", "max_phase"): {"layer": ("s4d", "lru"), "init": ("lru-ring",)},
    ("ssm", "ptd_eps"): {"layer": ("s4d",), "init": ("ptd-legs",)},
    # the network around the state
    ("model", "expand"): {"layer": ("mamba", "mamba2", "rg-lru")},
    ("model", "heads"): {"layer": ("attention", "mamba2", "mlstm", "gla", "deltanet", "gated-deltanet", "rg-lru")},
    ("model", "d_conv"): {"layer": ("mamba", "mamba2", "deltanet", "gated-deltanet", "rg-lru")},
    ("model", "dt_rank"): {"layer": ("mamba",)},
    ("model", "selective_delta"): {"layer": ("mamba",)},
    ("model", "selective_B"): {"layer": ("mamba",)},
    ("model", "selective_C"): {"layer": ("mamba",)},
    ("model", "gate"): {"layer": ("mamba", "gated-deltanet")},
    ("model", "chunk"): {"layer": ("mamba2", "deltanet", "gated-deltanet")},
    ("model", "beta_max"): {"layer": ("deltanet", "gated-deltanet")},
    ("model", "rg_lru_c"): {"layer": ("rg-lru",)},
    # task fields: the tasks that read them
    ("task", "seq_len"): {
        "task": tuple(k for k in TaskSpec.KINDS if k not in ("selective-copying", "digits", "digits-permuted"))
    },
    ("task", "vocab_size"): {"task": ("mqar", "induction-heads", "needle")},
    ("task", "num_kv"): {"task": ("mqar",)},
    ("task", "power_a"): {"task": ("mqar",)},
    ("task", "noise_len"): {"task": ("selective-copying",)},
    ("task", "n_data"): {"task": ("selective-copying",)},
    ("task", "alphabet"): {"task": ("selective-copying", "copying")},
    ("task", "copy_min"): {"task": ("copying",)},
    ("task", "copy_max"): {"task": ("copying",)},
    ("task", "test_lengths"): {"task": ("induction-heads", "needle")},
    ("task", "haystack"): {"task": ("needle",)},
    ("task", "rho"): {"task": ("lf-memory",)},
    ("task", "lag"): {"task": ("delay",)},
    ("task", "cutoff"): {"task": ("delay",)},
    ("task", "n_bits"): {"task": ("n-parity", "n-dms")},
    ("task", "ar_order"): {"task": ("ar-p",)},
    ("task", "depth"): {"task": ("listops-lite",)},
}
CONDITIONS = {"layer": LAYERS, "task": TaskSpec.KINDS, "init": tuple(SSMSpec.param.init.objects)}


def fields(part: str) -> list[str]:
    """The editable fields of a spec part, in declaration order (param keeps it)."""
    return [f for f in PARTS[part].param if f != "name" and (part, f) not in DERIVED]


def group_of(part: str, field: str) -> str:
    return GROUP.get((part, field), DEFAULT_GROUP[part])


def relevant(part: str, field: str, layer: str, task: str, init: str) -> bool:
    """Whether `part.field` changes anything for this layer kind, task and init."""
    now = {"layer": layer, "task": task, "init": init}
    return any(all(now[k] in allowed for k, allowed in conds.items()) for conds in alternatives(part, field))


def alternatives(part: str, field: str) -> list[dict[str, tuple]]:
    """The field's relevance conditions as a list of alternatives (any one suffices)."""
    conds = RELEVANT.get((part, field), {})
    return conds if isinstance(conds, list) else [conds]


def groups(
    layer: str | None = None, task: str | None = None, init: str | None = None
) -> list[tuple[str, str, list[str]]]:
    """(group, part, fields) in editor order; with a layer, task and init, only the relevant fields
    (a group may then come out empty). Without them, every editable field."""
    out = []
    for g in GROUP_ORDER:
        for part in PARTS:
            names = [
                f
                for f in fields(part)
                if group_of(part, f) == g and (layer is None or relevant(part, f, layer, task, init))
            ]
            if names or layer is None and any(group_of(part, f) == g for f in fields(part)):
                out.append((g, part, names))
    return out
