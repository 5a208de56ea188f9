"""Run ids: safe folder names that cannot escape the runs root."""
from __future__ import annotations

import re
import secrets
import time

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
        raise SpecError("run", run_id, "a run id of lowercase letters, digits, '.', '_' and '-' "
                                       "(no path separators, no '..')")
    return run_id


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or any(c in name for c in "/\\\0"):
        raise SpecError("name", name, "a non-empty name of at most 200 characters without '/', '\\' or NUL")
    return name
