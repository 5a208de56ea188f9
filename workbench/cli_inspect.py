"""`workbench inspect SOURCE --text "..."`: open a pretrained checkpoint, read a text, print a summary,
optionally export the figures with their data (as `workbench export` does).

Every input (source, text, formats, export folder, layer, channel) is checked and every analysis
computed before the first file is written, so a refusal leaves the export folder as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import SpecError

FORMATS = ("png", "svg", "pdf", "html")


def add_parser(sub) -> None:
    p = sub.add_parser("inspect", help="open a pretrained Mamba / Mamba-2 checkpoint and read a text with it")
    p.add_argument("source", help="checkpoint folder (Hugging Face, mamba_ssm, workbench run) or cached model id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", help="the text to read")
    g.add_argument("--text-file", metavar="F", help="read the text from file F (UTF-8)")
    p.add_argument("--layer", type=int, default=0, help="layer of the hidden attention figure (default 0)")
    p.add_argument(
        "--channel", type=int, default=0, help="channel (head for Mamba-2) of the hidden attention (default 0)"
    )
    p.add_argument("--dtype", default="float32", help="float32 (default), float64, bfloat16 or float16")
    p.add_argument("--export", metavar="DIR", help="write each figure (PNG/SVG/PDF/HTML) beside its data (.nc)")
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="FMT",
        help="export format, one of " + ", ".join(FORMATS) + "; repeatable (default: all)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def _text(ns) -> str:
    if ns.text is not None:
        return ns.text
    f = Path(ns.text_file)
    if not f.is_file():
        raise SpecError("--text-file", ns.text_file, "an existing text file")
    try:
        return f.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError("--text-file", ns.text_file, "a UTF-8 text file") from None


def _print(s: dict) -> None:
    a = s["delta_audit"]
    print(
        f"{s['source']}: {s['format']}, {s['layers']} layers, d_model {s['d_model']}, "
        f"{s['parameters']:,} parameters ({s['dtype']})"
    )
    print(f"tokenizer: {s['tokenizer']}; text: {s['tokens']} tokens")
    print(
        f"Δ audit: {a['verdict']} with the config's [{a['claimed'][0]:g}, {a['claimed'][1]:g}] "
        f"({a['channels_outside']} channels outside)"
    )
    for f in a["flags"][:4]:
        print(f"  {f}")
    if a["verdict"] != "consistent":
        print("  (a trained checkpoint moves Δ; an untrained one outside its range had its Δ init overwritten)")
    m = s["memory"]
    print(f"memory on this text (t½ ≥ {m['text_length']} tokens = global), local/global per layer:")
    print("  " + "  ".join(f"{i}:{lo}/{gl}" for i, (lo, gl) in enumerate(zip(m["local"], m["global"]))))
    print(f"mean loss: {s['mean_loss']:.4f} nats (perplexity {s['perplexity']:.2f})")


def inspect_command(ns) -> int:
    text = _text(ns)
    formats = [f.lower().lstrip(".") for f in (ns.formats or FORMATS)]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise SpecError("--format", bad[0], "one of " + ", ".join(FORMATS))
    out = Path(ns.export) if ns.export else None
    if out is not None and out.exists() and not out.is_dir():
        raise SpecError("--export", str(out), "a folder (this is a file)")
    from workbench.analysis.text_report import inspect_text, summary
    from workbench.pretrained import load_pretrained

    model = load_pretrained(ns.source, dtype=ns.dtype)
    try:
        data = inspect_text(model, text, layer=ns.layer, channel=ns.channel)
    except SpecError as err:  # name the flag the user typed
        raise SpecError(
            {"layer": "--layer", "channel": "--channel", "text": "--text"}.get(err.field, err.field),
            err.value,
            err.allowed,
        ) from None
    s = summary(model, data)
    if out is not None:
        for f in export_all(model, data, out, formats):
            print(f)
    if ns.json:
        print(json.dumps(s))
    else:
        _print(s)
    return 0


def export_all(model, data: dict, out: Path, formats) -> list[Path]:
    """Each figure with its Dataset and the checkpoint's config: <out>/<name>.<fmt|nc|json>."""
    from workbench.plots.export import export
    from workbench.plots.views_text import (
        attention_text_view,
        audit_text_view,
        delta_text_view,
        loss_text_view,
        memory_text_view,
        norms_text_view,
    )

    layer = int(data["attention"].attrs.get("layer", 0))
    figs = {
        "delta": (delta_text_view(data["dynamics"], layer), data["dynamics"]),
        "state_norm": (norms_text_view(data["dynamics"]), data["dynamics"]),
        "attention": (attention_text_view(data["attention"]), data["attention"]),
        "memory": (memory_text_view(data["memory"]), data["memory"]),
        "delta_audit": (audit_text_view(data["audit"]), data["audit"]),
        "loss": (loss_text_view(data["loss"]), data["loss"]),
    }
    spec = {"pretrained": {k: v for k, v in getattr(model, "meta", {}).items() if k != "files"}}
    written = []
    for name, (fig, ds) in figs.items():
        written += export(fig, out / name, formats, data=ds, spec=spec)
    return written
