"""A checkpoint's config.json, read into one `Arch` whatever its layout.

Two layouts are covered: Hugging Face `transformers` (`model_type` mamba / mamba2, keys such as
`hidden_size`, `state_size`) and `mamba_ssm`'s MambaLMHeadModel (`d_model`, `n_layer`, `ssm_cfg`).
Missing keys take each library's documented defaults; a setting the workbench layers cannot
reproduce is refused, naming the key.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from workbench.errors import SpecError


@dataclass(frozen=True)
class Arch:
    kind: str  # mamba | mamba2
    layout: str  # hf | mamba_ssm
    d_model: int
    n_layer: int
    vocab_size: int
    d_state: int
    expand: int
    d_conv: int
    dt_rank: int = 0  # mamba only
    heads: int = 0  # mamba2 only
    n_groups: int = 1
    chunk: int = 256
    bias: bool = False
    conv_bias: bool = True
    norm: str = "rmsnorm"
    eps: float = 1e-5
    tie: bool = True
    gated_norm: bool = True
    dt_limit: tuple = (0.0, float("inf"))
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    dt_floor: float = 1e-4
    residual_in_fp32: bool = True  # the residual stream stays float32 when the model runs in bf16/f16

    def to_dict(self) -> dict:
        return asdict(self)


# Hugging Face defaults (MambaConfig / Mamba2Config) for keys a saved config may leave out
HF_MAMBA = dict(
    vocab_size=50280,
    hidden_size=768,
    state_size=16,
    num_hidden_layers=32,
    layer_norm_epsilon=1e-5,
    expand=2,
    conv_kernel=4,
    use_bias=False,
    use_conv_bias=True,
    hidden_act="silu",
    time_step_rank="auto",
    time_step_min=1e-3,
    time_step_max=1e-1,
    time_step_floor=1e-4,
    tie_word_embeddings=True,
    residual_in_fp32=True,
)
HF_MAMBA2 = dict(
    num_heads=128,
    head_dim=64,
    vocab_size=32768,
    hidden_size=4096,
    state_size=128,
    num_hidden_layers=64,
    layer_norm_epsilon=1e-5,
    expand=2,
    conv_kernel=4,
    n_groups=8,
    use_bias=False,
    use_conv_bias=True,
    hidden_act="silu",
    time_step_min=1e-3,
    time_step_max=1e-1,
    time_step_floor=1e-4,
    time_step_limit=(0.0, float("inf")),
    chunk_size=256,
    tie_word_embeddings=False,
    residual_in_fp32=True,
)
# mamba_ssm's MambaConfig and the Mamba / Mamba2 module defaults
SSM_MODEL = dict(
    d_model=2560,
    d_intermediate=0,
    n_layer=64,
    vocab_size=50277,
    ssm_cfg={},
    attn_layer_idx=[],
    rms_norm=True,
    residual_in_fp32=True,
    fused_add_norm=True,
    pad_vocab_size_multiple=8,
    tie_embeddings=True,
)
SSM_MAMBA1 = dict(
    d_state=16,
    d_conv=4,
    expand=2,
    dt_rank="auto",
    dt_min=1e-3,
    dt_max=1e-1,
    dt_init_floor=1e-4,
    conv_bias=True,
    bias=False,
)
SSM_MAMBA2 = dict(
    d_state=128,
    d_conv=4,
    expand=2,
    headdim=64,
    d_ssm=None,
    ngroups=1,
    rmsnorm=True,
    norm_before_gate=False,
    dt_min=1e-3,
    dt_max=1e-1,
    dt_init_floor=1e-4,
    dt_limit=(0.0, float("inf")),
    bias=False,
    conv_bias=True,
    chunk_size=256,
    D_has_hdim=False,
)
# ssm_cfg keys that change only initialization or the CUDA path, never the forward
SSM_INERT = {
    "layer",
    "dt_init",
    "dt_scale",
    "use_fast_path",
    "A_init_range",
    "layer_idx",
    "device",
    "dtype",
    "activation",
    "learnable_init_states",
    "use_mem_eff_path",
    "process_group",
    "sequence_parallel",
}


def _float(field: str, v) -> float:
    """A float as configs write it: a number, 'Infinity', or transformers 5's {"__float__": "Infinity"}."""
    if isinstance(v, dict) and "__float__" in v:
        v = v["__float__"]
    try:
        return float(v)
    except (TypeError, ValueError):
        raise SpecError(field, v, "a number") from None


def _limit(field: str, v) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise SpecError(field, v, "a pair [min, max]")
    return _float(field, v[0]), _float(field, v[1])


def _int_expand(field: str, inner: int, d_model: int) -> int:
    if inner % d_model:
        raise SpecError(
            field, inner, f"a multiple of d_model = {d_model} (the workbench layers take an integer expand)"
        )
    return inner // d_model


def _hf(cfg: dict) -> Arch:
    kind = cfg["model_type"]
    c = {**(HF_MAMBA if kind == "mamba" else HF_MAMBA2), **cfg}
    if c["hidden_act"] != "silu":
        raise SpecError("config.json hidden_act", c["hidden_act"], "silu (the only activation of these layers)")
    H = int(c["hidden_size"])
    inner = int(c.get("intermediate_size") or int(c["expand"] * H))
    common = dict(
        layout="hf",
        d_model=H,
        n_layer=int(c["num_hidden_layers"]),
        vocab_size=int(c["vocab_size"]),
        d_state=int(c["state_size"]),
        expand=_int_expand("config.json expand·hidden_size", inner, H),
        d_conv=int(c["conv_kernel"]),
        bias=bool(c["use_bias"]),
        conv_bias=bool(c["use_conv_bias"]),
        eps=float(c["layer_norm_epsilon"]),
        tie=bool(c["tie_word_embeddings"]),
        dt_min=float(c["time_step_min"]),
        dt_max=float(c["time_step_max"]),
        dt_floor=float(c["time_step_floor"]),
        residual_in_fp32=bool(c["residual_in_fp32"]),
    )
    if kind == "mamba":
        r = c["time_step_rank"]
        return Arch(kind="mamba", dt_rank=math.ceil(H / 16) if r == "auto" else int(r), **common)
    heads, P = int(c["num_heads"]), int(c["head_dim"])
    if heads * P != inner:
        raise SpecError("config.json num_heads·head_dim", heads * P, f"expand·hidden_size = {inner}")
    G = int(c["n_groups"])
    if heads % G:
        raise SpecError("config.json n_groups", G, f"a divisor of num_heads = {heads}")
    return Arch(
        kind="mamba2",
        heads=heads,
        n_groups=G,
        chunk=int(c["chunk_size"]),
        dt_limit=_limit("config.json time_step_limit", c["time_step_limit"]),
        **common,
    )


def _mamba_ssm(cfg: dict) -> Arch:
    c = {**SSM_MODEL, **cfg}
    if c["d_intermediate"]:
        raise SpecError("config.json d_intermediate", c["d_intermediate"], "0 (MLP blocks are not mapped)")
    if c["attn_layer_idx"]:
        raise SpecError(
            "config.json attn_layer_idx", c["attn_layer_idx"], "[] (hybrid attention layers are not mapped)"
        )
    ssm_cfg = dict(c["ssm_cfg"] or {})
    layer = ssm_cfg.get("layer", "Mamba1")
    if layer not in ("Mamba1", "Mamba2"):
        raise SpecError("config.json ssm_cfg.layer", layer, "Mamba1 or Mamba2")
    defaults = SSM_MAMBA1 if layer == "Mamba1" else SSM_MAMBA2
    unknown = sorted(set(ssm_cfg) - set(defaults) - SSM_INERT)
    if unknown:
        raise SpecError(f"config.json ssm_cfg.{unknown[0]}", ssm_cfg[unknown[0]], "a setting of mamba_ssm's " + layer)
    s = {**defaults, **ssm_cfg}
    H, mult = int(c["d_model"]), int(c["pad_vocab_size_multiple"])
    V = int(c["vocab_size"])
    V += (mult - V % mult) % mult  # MambaLMHeadModel pads the vocabulary
    common = dict(
        layout="mamba_ssm",
        d_model=H,
        n_layer=int(c["n_layer"]),
        vocab_size=V,
        d_state=int(s["d_state"]),
        expand=int(s["expand"]),
        d_conv=int(s["d_conv"]),
        bias=bool(s["bias"]),
        conv_bias=bool(s["conv_bias"]),
        norm="rmsnorm" if c["rms_norm"] else "layernorm",
        tie=bool(c["tie_embeddings"]),
        dt_min=float(s["dt_min"]),
        dt_max=float(s["dt_max"]),
        dt_floor=float(s["dt_init_floor"]),
        residual_in_fp32=bool(c["residual_in_fp32"]),
    )
    if layer == "Mamba1":
        r = s["dt_rank"]
        return Arch(kind="mamba", dt_rank=math.ceil(H / 16) if r == "auto" else int(r), **common)
    inner = H * int(s["expand"])
    if s["d_ssm"] not in (None, inner):
        raise SpecError("config.json ssm_cfg.d_ssm", s["d_ssm"], f"null or expand·d_model = {inner} (no MLP part)")
    for key in ("norm_before_gate", "D_has_hdim"):
        if s[key]:
            raise SpecError(f"config.json ssm_cfg.{key}", s[key], "false (the layout the workbench's Mamba-2 maps)")
    P = int(s["headdim"])
    if inner % P:
        raise SpecError("config.json ssm_cfg.headdim", P, f"a divisor of expand·d_model = {inner}")
    return Arch(
        kind="mamba2",
        heads=inner // P,
        n_groups=int(s["ngroups"]),
        chunk=int(s["chunk_size"]),
        gated_norm=bool(s["rmsnorm"]),
        dt_limit=_limit("config.json ssm_cfg.dt_limit", s["dt_limit"]),
        **common,
    )


def read_arch(cfg: dict) -> tuple[Arch, str]:
    """(Arch, format name) of a parsed config.json."""
    if "model_type" in cfg:
        if cfg["model_type"] not in ("mamba", "mamba2"):
            raise SpecError(
                "config.json model_type",
                cfg["model_type"],
                "mamba or mamba2 (Hugging Face MambaForCausalLM / Mamba2ForCausalLM)",
            )
        arch = _hf(cfg)
        return arch, f"hf-{arch.kind}"
    if "d_model" in cfg and "n_layer" in cfg:
        arch = _mamba_ssm(cfg)
        return arch, f"mamba_ssm-{arch.kind}"
    raise SpecError(
        "config.json",
        sorted(cfg)[:6],
        "a Hugging Face Mamba/Mamba-2 config (model_type) or a mamba_ssm config (d_model, n_layer, ssm_cfg)",
    )
