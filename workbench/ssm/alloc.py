"""Hand the C allocator's free heap pages back to the operating system before a large allocation.

glibc serves tensors below its (self-raising, up to 32 MB) mmap threshold from the heap and keeps
their pages after they are freed. A forward over a long text frees many such intermediates, layer
after layer; the logits (L × vocabulary, 206 MB for 1,024 tokens of a 50k vocabulary) then come
on top of those retained pages. `malloc_trim(0)` first returns them: measured on a 4-layer
Mamba-2 (d 768, 1,024 tokens) the first call's peak went from 333 to 230 MB above the model.
Elsewhere (not glibc) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

TRIM_ABOVE = 64 * 2**20  # bytes of a new tensor worth a trim (a trim costs milliseconds)
_trim = None


def trim() -> bool:
    """malloc_trim(0) where glibc is the allocator; True when memory was returned."""
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL("libc.so.6").malloc_trim if sys.platform.startswith("linux") else False
        except (OSError, AttributeError):
            _trim = False
    return bool(_trim and _trim(0))


def before_large(nbytes: int) -> None:
    """Trim when a tensor of `nbytes` is about to be allocated and it is large (TRIM_ABOVE)."""
    if nbytes >= TRIM_ABOVE:
        trim()
