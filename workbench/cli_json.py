"""JSON the CLI prints: always valid (RFC 8259 has no NaN or Infinity), so non-finite numbers are null."""

from __future__ import annotations

import json
import math


def finite(obj):
    """A copy with every non-finite float (and NumPy scalar) replaced: NaN/±inf -> None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    item = getattr(obj, "item", None)  # numpy / torch scalars
    if callable(item) and getattr(obj, "ndim", 1) == 0:
        return finite(item())
    return obj


def dumps(obj, **kw) -> str:
    return json.dumps(finite(obj), allow_nan=False, default=str, **kw)
