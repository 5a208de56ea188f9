"""Run ids: safe folder names that cannot escape the runs root."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from workbench.errors import SpecError

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:40] or "run"


def new_run_id(name: str) -> str:
    """'20261122-081500-<slug>-<4 hex>': sortable by time, unique, path-safe."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(name)}-{secrets.token_hex(2)}"


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not ID_RE.match(run_id) or ".." in run_id:
        raise SpecError(
            "run", run_id, "a run id of lowercase letters, digits, '.', '_' and '-' (no path separators, no '..')"
        )
    return run_id


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or any(c in name for c in "/\\\0"):
        raise SpecError("name", name, "a non-empty name of at most 200 characters without '/', '\\' or NUL")
    return name


def resolve_run(id_or_path, root) -> Path:
    """The run folder named by an id or a path, resolved (realpath) inside `root`.

    Refused: anything whose real location is not a direct child of the real root, a run folder
    that is a symlink (even to elsewhere in the root: deleting it would touch another run), and a
    folder without a regular spec.json. Nothing is created or changed here."""
    root = Path(os.path.realpath(root))
    text = os.fspath(id_or_path) if isinstance(id_or_path, (str, os.PathLike)) else None
    if not text or "\0" in text:
        raise SpecError("run", id_or_path, "a run id or a run folder under the runs root")
    if "/" in text or os.sep in text or text in (".", ".."):
        entry = Path(os.path.abspath(text))
        name = entry.name
        inside = Path(os.path.realpath(entry.parent)) == root
        if not inside or not ID_RE.match(name) or ".." in name:
            raise SpecError("run", text, f"a run folder directly under the runs root {root}")
    else:
        name = check_run_id(text)
    path = root / name
    if path.is_symlink():
        raise SpecError("run", text, f"a run folder under {root} that is not a symlink")
    spec = path / "spec.json"
    if not path.is_dir() or spec.is_symlink() or not spec.is_file():
        raise SpecError("run", text, f"an existing run under {root}")
    return path
