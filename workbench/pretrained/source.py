"""Where a checkpoint lives: a local folder, or a Hugging Face model id already in the local cache.

Nothing is downloaded: an id resolves through the hub cache layout
(`<cache>/models--<org>--<name>/snapshots/<revision>/`, revision from `refs/main`), the same place
`from_pretrained(..., local_files_only=True)` looks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from workbench.errors import SpecError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def cached_snapshot(model_id: str, cache: Path | None = None) -> Path | None:
    """The cached snapshot folder of `model_id` (refs/main, else the newest), or None."""
    repo = (cache or hub_cache()) / ("models--" + model_id.replace("/", "--"))
    snaps = repo / "snapshots"
    if not snaps.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.exists() and (snaps / ref.read_text().strip()).is_dir():
        return snaps / ref.read_text().strip()
    found = sorted((p for p in snaps.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def cached_ids(cache: Path | None = None) -> list[str]:
    """Model ids present in the local hub cache (for the dashboard's suggestions)."""
    root = cache or hub_cache()
    if not root.is_dir():
        return []
    return sorted(p.name[len("models--") :].replace("--", "/") for p in root.glob("models--*") if p.is_dir())


def resolve(source) -> Path:
    """A folder holding config.json (or a workbench run's spec.json) for `source`."""
    text = str(source).strip()
    if not text:
        raise SpecError("source", text, "a checkpoint folder or a cached Hugging Face model id")
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "config.json").exists() or (path / "spec.json").exists():
            return path
        raise SpecError(
            "source", text, "a folder with config.json (Hugging Face / mamba_ssm) or spec.json (a workbench run)"
        )
    if path.exists():
        raise SpecError("source", text, "a folder (this is a file); pass the folder that holds config.json")
    if _ID.match(text) and (snap := cached_snapshot(text)) is not None:
        return snap
    raise SpecError(
        "source",
        text,
        f"an existing folder, or a model id in the local Hugging Face cache ({hub_cache()}); nothing is downloaded",
    )
