"""Everything the inspect command and the dashboard show for (model, text), and its summary."""

from __future__ import annotations

import numpy as np
import xarray as xr

from workbench.analysis.delta_audit import delta_audit
from workbench.analysis.text import effective_memory, text_dynamics, token_loss
from workbench.analysis.text_attention import text_attention


def inspect_text(model, text: str, layer: int = 0, channel: int = 0, average: bool = True) -> dict[str, xr.Dataset]:
    """{'dynamics', 'memory', 'attention', 'audit', 'loss'} Datasets of `model` on `text`."""
    dyn = text_dynamics(model, text)
    return {
        "dynamics": dyn,
        "memory": effective_memory(model, text, dynamics=dyn),
        "attention": text_attention(model, text, layer=layer, channel=channel, average=average),
        "audit": delta_audit(model),
        "loss": token_loss(model, text),
    }


def summary(model, data: dict[str, xr.Dataset]) -> dict:
    """The numbers `workbench inspect` prints: format, size, Δ audit, local/global channels, loss."""
    meta = getattr(model, "meta", {})
    arch = meta.get("arch", {})
    mem, audit, loss = data["memory"], data["audit"], data["loss"]
    flags = audit.attrs.get("flags", "[]")
    import json

    return {
        "source": meta.get("source"),
        "format": meta.get("format"),
        "kind": arch.get("kind"),
        "layers": len(model.layers),
        "d_model": arch.get("d_model"),
        "parameters": meta.get("parameters"),
        "dtype": meta.get("dtype"),
        "tokenizer": meta.get("tokenizer"),
        "tokens": int(loss.sizes["position"]),
        "delta_audit": {
            "verdict": audit.attrs["verdict"],
            "claimed": [audit.attrs["claimed_min"], audit.attrs["claimed_max"]],
            "channels_outside": int(audit["outside"].sum()),
            "flags": json.loads(flags),
        },
        "memory": {
            "text_length": int(mem.attrs["text_length"]),
            "local": [int(v) for v in mem["n_local"].values],
            "global": [int(v) for v in mem["n_global"].values],
        },
        "mean_loss": float(loss.attrs["mean_loss"]),
        "perplexity": float(loss.attrs["perplexity"]),
        "median_half_life": float(np.median(mem["half_life"].values)),
    }
